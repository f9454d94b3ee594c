"""What a stopped checkpointed job commits, for the exactly-once sinks: ``stop(drain=True)``
ends with a final checkpoint that commits every row the sinks got (Flink's stop-with-
savepoint ``--drain``), ``stop()`` stops at a checkpoint (the sources stop right after
its barrier, as Flink's stop-with-savepoint) and ``stop(savepoint=...)`` at a savepoint;
in each case a restart continues right after the stop. The oracles are the input rows
themselves: a ``read_committed`` consumer (librdkafka) of the Kafka sink and pyarrow /
DuckDB readers of the Parquet sink must see every row the job read, exactly once, after
the stop and again after the restart.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

import riverbed as rb
from riverbed import col

HOW = ["drain", "stop", "savepoint"]


class Seen:
    """The values of one column of the rows a job has read (a map_batches pass-through)."""

    def __init__(self, column: str) -> None:
        self.column = column
        self.values: list[int] = []
        self.lock = threading.Lock()

    @property
    def n(self) -> int:
        return len(self.values)

    def __call__(self, b: pa.RecordBatch) -> pa.RecordBatch:
        with self.lock:
            self.values.extend(b.column(self.column).to_pylist())
        return b

    def wait(self, n: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.n < n:
            assert time.monotonic() < deadline, f"the job read {self.n} rows, not {n}, within {timeout} s"
            time.sleep(0.02)


def stop(job: rb.Job, how: str, sp: Path) -> None:
    if how == "savepoint":
        job.stop(savepoint=sp, timeout="120s")
    else:
        job.stop(drain=how == "drain", timeout="120s")
    assert job.status == "finished"


# -- Kafka --------------------------------------------------------------------------------

kafka = pytest.importorskip("confluent_kafka")
from test_kafka import brokers, consume, produce, topic  # noqa: E402, F401


def xs(brokers: str, t: str) -> Counter[int]:  # noqa: F811
    return Counter(json.loads(m.value())["x"] for m in consume(brokers, t))


@pytest.mark.parametrize("how", HOW)
def test_stopped_job_commits_every_row_to_exactly_once_kafka(brokers, topic, tmp_path, how):  # noqa: F811
    src, dst = topic(2), topic(2)
    seen = Seen("x")
    env = rb.Environment(parallelism=2, checkpoint_dir=tmp_path / "ck", checkpoint_interval="1h")

    def job(restore: str | Path | None = None) -> rb.Job:
        s = (env.read_kafka(brokers, src, schema={"x": pa.int64()}, options={"max.poll.records": 20})
             .map_batches(seen).filter(col("x") >= 0))
        return (s.write_kafka(brokers, dst, delivery_guarantee="exactly-once",
                              transactional_id_prefix=f"tx-{dst}", lazy=True)
                .start(restore=restore))

    def put(lo: int, hi: int) -> None:
        produce(brokers, src, [(i % 2, json.dumps({"x": i}).encode(), {}) for i in range(lo, hi)])

    put(0, 300)
    j = job()
    seen.wait(300)
    j.checkpoint()  # commits rows 0..299
    put(300, 500)
    seen.wait(500)
    # Rows 300..499 came after the last checkpoint: the stop must commit them too.
    stop(j, how, tmp_path / "sp")
    assert xs(brokers, dst) == Counter(range(500))
    # A restart goes on right after the stop: nothing read twice, nothing lost.
    put(500, 700)
    j = job(restore=tmp_path / "sp" if how == "savepoint" else "latest")
    seen.wait(700)
    j.stop(drain=True, timeout="120s")
    assert xs(brokers, dst) == Counter(range(700))
    assert Counter(seen.values) == Counter(range(700)), "the restart read rows again"


# -- Parquet ------------------------------------------------------------------------------

def parquet_ids(out: Path) -> list[int]:
    files = sorted(str(p) for p in out.glob("*.parquet"))
    if not files:
        return []
    ids = ds.dataset(files, format="parquet").to_table().column("id").to_pylist()
    import duckdb

    assert sorted(ids) == sorted(r[0] for r in duckdb.sql(f"SELECT id FROM read_parquet({files!r})").fetchall())
    return ids


def hidden(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("how", HOW)
def test_stopped_job_commits_every_row_to_exactly_once_parquet(tmp_path, how):
    """A generated sequence read at parallelism 2 (each subtask stops in the middle of a
    block): after the stop the directory holds the ids the job read, once each; after a
    restart and a second stop, those and the ones read since, none of them twice."""
    out = tmp_path / "out"
    seen = Seen("id")
    env = rb.Environment(parallelism=2, batch_size=100, checkpoint_dir=tmp_path / "ck", checkpoint_interval="1h")

    def job(restore: str | Path | None = None) -> rb.Job:
        s = env.datagen({"id": rb.Int64}, rows_per_second=5_000, fields={"id": {"kind": "sequence", "min": 0}})
        return s.map_batches(seen).write_parquet(out, lazy=True).start(restore=restore)

    j = job()
    seen.wait(1_000)
    j.checkpoint()
    seen.wait(2_000)
    stop(j, how, tmp_path / "sp")
    first = seen.n
    assert Counter(parquet_ids(out)) == Counter(seen.values)
    assert hidden(out) == []
    j = job(restore=tmp_path / "sp" if how == "savepoint" else "latest")
    seen.wait(first + 1_000)
    j.stop(drain=True, timeout="120s")
    ids = parquet_ids(out)
    assert hidden(out) == []
    assert len(set(seen.values)) == seen.n, "the restart read rows again"
    assert Counter(ids) == Counter(seen.values)


@pytest.mark.parametrize("guarantee", ["exactly-once", "at-least-once", "none"])
def test_stop_without_checkpoints_writes_every_row_to_kafka(brokers, topic, guarantee):  # noqa: F811
    """Without checkpoints, stop() (no drain) ends the job with the rows its Kafka sink got
    written and, exactly-once, committed; records still lingering in the producer are
    flushed, not dropped with it."""
    src, dst = topic(2), topic(2)
    seen = Seen("x")
    produce(brokers, src, [(i % 2, json.dumps({"x": i}).encode(), {}) for i in range(300)])
    env = rb.Environment(parallelism=2)
    s = env.read_kafka(brokers, src, schema={"x": pa.int64()}, options={"max.poll.records": 20}).map_batches(seen)
    prefix = f"tx-{dst}" if guarantee == "exactly-once" else None
    job = s.write_kafka(brokers, dst, delivery_guarantee=guarantee, transactional_id_prefix=prefix,
                        options={"linger.ms": 5000}, lazy=True).start()
    seen.wait(300)
    job.stop(timeout="120s")
    assert job.status == "finished"
    assert xs(brokers, dst) == Counter(range(300))


@pytest.mark.parametrize("join_how", ["left", "anti", "semi", "full"])
def test_a_join_stopped_with_a_savepoint_and_restored_commits_its_result_once(tmp_path, join_how):
    """A join of two bounded, paced generators stopped with a savepoint in the middle of its
    inputs: the stop is not the end of the inputs, so no left row is decided unmatched then
    (they were committed with nulls, and again by the restored job); restored, the job's
    committed rows are the join's result, each once. Oracle: the join computed in Python."""
    n, m = 6_000, 3_000
    out = tmp_path / "out"

    def job(restore: Path | None = None) -> rb.Job:
        env = rb.Environment(parallelism=2)
        left = env.datagen({"id": rb.Int64}, rows_per_second=6_000, number_of_rows=n,
                           fields={"id": {"kind": "sequence"}})
        right = env.datagen({"id2": rb.Int64, "x": rb.Int64}, rows_per_second=3_000, number_of_rows=m,
                            fields={"id2": {"kind": "sequence"}, "x": {"kind": "sequence"}})
        s = left.join(right, left_on="id", right_on="id2", how=join_how).write_parquet(out, lazy=True)
        return s.start(runtime_mode="streaming", restore=restore)

    j = job()
    time.sleep(0.5)
    j.stop(savepoint=tmp_path / "sp", timeout="60s")
    job(restore=tmp_path / "sp").wait()
    got = Counter(tuple(r.values()) for r in ds.dataset(out).to_table().to_pylist())
    want = {"left": [(i, i if i < m else None) for i in range(n)],  # the right key joins the left one
            "full": [(i, i, i) if i < m else (i, None, None) for i in range(n)],
            "semi": [(i,) for i in range(m)], "anti": [(i,) for i in range(m, n)]}[join_how]
    assert got == Counter(want)
