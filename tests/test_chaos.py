"""Exactly-once under kill -9: the crash harness of tests/chaos.py, short.

A child process runs dedup -> keyed windows -> join -> the exactly-once Parquet sink with
checkpoints every 100-300 ms and restore="latest"; it is killed with SIGKILL at random
moments (one right after a checkpoint completed, others after a random delay or while a
checkpoint is being written), restarted at parallelism 1, 2 or 3, until it finishes. The
committed files must hold exactly the rows of one uninterrupted run (itself checked
against DuckDB for the Parquet source). The Kafka source does the same from Kafka topics
into write_kafka(delivery_guarantee="exactly-once"), checked by a read_committed consumer
of the output topic (against a plain-Python computation). ``make chaos`` runs the long
version.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import chaos


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("chaos-data")
    chaos.make_parquet_input(d)
    return d


@pytest.mark.parametrize("source,seed,backend", [("parquet", 11, "memory"), ("nexmark", 12, "memory"),
                                                 ("parquet", 13, "spill")])
def test_kill_9_loses_and_duplicates_nothing(tmp_path, data, source, seed, backend):
    """backend "spill": Pebble with a 1-byte memory cap, so the rows the dedup and the join
    hold are in the spill store when the process is killed."""
    lines: list[str] = []
    tally = chaos.run(source, data, tmp_path, kills=5, seed=seed, log=lines.append, backend=backend)
    assert tally.kills >= 5
    assert any(tally.restored_from), f"no restart restored a checkpoint: {tally.line(source)}"
    assert len(set(tally.parallelisms)) > 1, "every run had the same parallelism"
    assert (tally.lost, tally.duplicated) == (0, 0), "\n".join(lines)
    if backend == "spill":
        assert tally.killed_while_spilled, f"no kill found rows spilled: {tally.line(source)}"


@pytest.fixture(scope="module")
def brokers(kafka_brokers, monkeypatch_module):
    """The test broker, in RIVERBED_KAFKA_BROKERS for chaos.py and its children."""
    monkeypatch_module.setenv("RIVERBED_KAFKA_BROKERS", kafka_brokers)
    return kafka_brokers


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_kafka_kill_9_read_committed_sees_every_row_once(tmp_path, brokers, seed):
    """Kafka in, dedup -> keyed windows -> join, write_kafka(exactly-once) out; 4 kills a
    run. A read_committed consumer of the output topic must see exactly the rows of one
    uninterrupted run (itself checked against a plain-Python computation)."""
    pytest.importorskip("confluent_kafka")
    lines: list[str] = []
    tally = chaos.run("kafka", tmp_path, tmp_path, kills=4, seed=seed, log=lines.append)
    assert tally.kills >= 4
    assert any(tally.restored_from), f"no restart restored a checkpoint: {tally.line('kafka')}"
    assert (tally.lost, tally.duplicated) == (0, 0), "\n".join(lines)


def test_kafka_restart_at_lower_parallelism_before_any_checkpoint(tmp_path, brokers):
    """A run at parallelism 3 is killed before its first checkpoint, with output in open
    transactions of subtasks 1 and 2; the restart, at parallelism 1, has neither a
    checkpoint to restore nor subtasks of those numbers, and must abort them all the same:
    left open, they hold read_committed consumers back until the transaction timeout."""
    pytest.importorskip("confluent_kafka")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), RIVERBED_PROGRESS="0")

    def child(par: int, interval_ms: int) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, str(chaos.HERE), "child", "kafka", name, str(ckpt), out, str(par),
                                 str(interval_ms), "memory"], env=env, stdout=subprocess.PIPE, text=True)

    # The input is bounded: a run that reaches its end in the moment between the check of
    # its output and the kill leaves its final checkpoint, and the scenario is run again.
    for attempt in range(3):
        name = f"chaos-lower-{os.getpid()}-{time.time_ns()}"
        chaos.make_kafka_input(name)
        out = f"{name}-out"
        chaos.create_topic(out, 3)
        ckpt = tmp_path / f"ckpt{attempt}"
        p = child(3, 3_600_000)
        try:
            assert p.stdout is not None
            p.stdout.readline()
            deadline = time.monotonic() + 60
            while chaos.read_kafka_committed(out, committed=False).num_rows < 50:
                assert p.poll() is None and time.monotonic() < deadline, "the job ended before it could be killed"
                time.sleep(0.02)
            p.send_signal(signal.SIGKILL)
            p.wait(30)
        finally:
            if p.poll() is None:
                p.kill()
        if chaos.complete_checkpoints(ckpt) == []:
            break
    assert chaos.complete_checkpoints(ckpt) == [], "every run finished before it was killed"
    p = child(1, 200)
    _, err = p.communicate(timeout=180)
    assert p.returncode == 0, err
    assert chaos.diff(chaos.read_kafka_committed(out), chaos.python_reference()) == (0, 0)
