"""Input order survives checkpoints and restores. Bounded pipelines return rows in input
order, keep the first (or last) row of a key in input order, and break sort ties by it;
a run with checkpoints, and a run stopped with a savepoint and restored (at another
parallelism), must give exactly the answer of one uninterrupted run. The oracle is plain
Python over the input rows, whose ``id`` is their place in input order (files in order,
rows in order within a file).
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import riverbed as rb

FILES, ROWS, GROUP = 6, 1_200, 300  # 24 row groups (splits) of 300 rows


def write_input(d: Path) -> list[dict[str, int]]:
    d.mkdir()
    rows = []
    rnd = random.Random(5)
    for f in range(FILES):
        part = [{"id": i, "k": rnd.randrange(3000), "v": (i * 31) % 1000}
                for i in range(f * ROWS, (f + 1) * ROWS)]
        pq.write_table(pa.Table.from_pylist(part), d / f"part-{f}.parquet", row_group_size=GROUP)
        rows += part
    return rows


class Slow:
    """A map_batches pass-through that sleeps, so that a stop falls in the middle."""

    def __init__(self) -> None:
        self.batches = 0
        self.lock = threading.Lock()
        # From this many batches on, each takes 50 ms: a stop or checkpoint asked for
        # meanwhile lands before the end of the input even on a loaded machine.
        self.slower_from: int | None = None

    def __call__(self, b: pa.RecordBatch) -> pa.RecordBatch:
        slower = self.slower_from is not None and self.batches >= self.slower_from
        time.sleep(0.05 if slower else 0.01)
        with self.lock:
            self.batches += 1
        return b

    def wait(self, n: int) -> None:
        deadline = time.monotonic() + 120
        while self.batches < n:
            assert time.monotonic() < deadline, "the job did not read far enough"
            time.sleep(0.005)


def pipeline(op: str, s: rb.Stream) -> rb.Stream:
    if op == "unique first":
        return s.unique(["k"], keep="first")
    if op == "unique last":
        return s.unique(["k"], keep="last")
    if op == "sort ties":
        return s.sort("k")
    return s  # rows in input order


def reference(op: str, rows: list[dict[str, int]]) -> list[dict[str, int]]:
    if op == "unique first":
        first: dict[int, dict[str, int]] = {}
        for r in rows:
            first.setdefault(r["k"], r)
        return list(first.values())
    if op == "unique last":
        last: dict[int, dict[str, int]] = {}
        for r in rows:
            last.pop(r["k"], None)
            last[r["k"]] = r
        return sorted(last.values(), key=lambda r: r["id"])
    if op == "sort ties":
        return sorted(rows, key=lambda r: r["k"])  # stable: ties in input order
    return rows


def table_rows(batches) -> list[dict[str, int]]:
    return [r for b in batches for r in b.to_pylist()]


OPS = ["unique first", "unique last", "sort ties", "input order"]


@pytest.mark.parametrize("op", OPS)
def test_checkpointed_run_keeps_input_order(tmp_path, op):
    rows = write_input(tmp_path / "in")
    env = rb.Environment(parallelism=3, batch_size=100, checkpoint_dir=tmp_path / "ck", checkpoint_interval="20ms")
    job = pipeline(op, env.read_parquet(tmp_path / "in").map_batches(Slow())).start()
    got = table_rows(job.results(timeout="120s"))
    assert job.checkpoints().num_rows >= 2, "the run took too few checkpoints to test anything"
    want = reference(op, rows)
    if op == "unique last":
        got = sorted(got, key=lambda r: r["id"])
    assert got == want


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("after", [1, 3])
@pytest.mark.parametrize("how", ["savepoint", "stop", "cancel"])
def test_restored_run_gives_the_uninterrupted_answer(tmp_path, op, after, how):
    """Stopped at a savepoint (``stop(savepoint=)``) or at a checkpoint (``stop()``), and
    restored, the rows of both runs are those of one uninterrupted run, in order. After a
    checkpoint and a cancel (a crash, as far as the restore knows), the restored run
    gives the uninterrupted run's rows from some point on (what came after the
    checkpoint's barrier), in order."""
    rows = write_input(tmp_path / "in")
    slow = Slow()

    def run(parallelism: int) -> rb.Stream:
        env = rb.Environment(parallelism=parallelism, batch_size=100, checkpoint_dir=tmp_path / "ck",
                             checkpoint_interval="1h")
        return pipeline(op, env.read_parquet(tmp_path / "in").map_batches(slow))

    slow.slower_from = 28
    job = run(2).start()
    slow.wait(25)
    restore: Path | str = "latest"
    if how == "savepoint":
        job.stop(savepoint=tmp_path / "sp", timeout="120s")
        restore = tmp_path / "sp"
    elif how == "stop":
        job.stop(timeout="120s")
    else:
        restore = Path(job.checkpoint()["path"])
        job.cancel()
    assert slow.batches < FILES * ROWS // 100, "the job read everything before the stop"
    slow.slower_from = None
    got = [] if how == "cancel" else table_rows(job.results(timeout="120s"))
    job = run(after).start(restore=restore)
    got += table_rows(job.results(timeout="120s"))
    want = reference(op, rows)
    if op == "unique last":
        got = sorted(got, key=lambda r: r["id"])
    if how == "cancel":
        assert 0 < len(got) <= len(want) and got == want[len(want) - len(got):]
    else:
        assert got == want
