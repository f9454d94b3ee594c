"""Exactly-once under kill -9: the crash harness of tests/chaos.py, short.

A child process runs dedup -> keyed windows -> join -> the exactly-once Parquet sink with
checkpoints every 100-300 ms and restore="latest"; it is killed with SIGKILL at random
moments (one right after a checkpoint completed, others after a random delay or while a
checkpoint is being written), restarted at parallelism 1, 2 or 3, until it finishes. The
committed files must hold exactly the rows of one uninterrupted run (itself checked
against DuckDB for the Parquet source). ``make chaos`` runs the long version.
"""

from __future__ import annotations

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
