"""Join state TTL (as Flink's table.exec.state.ttl, processing time): a row kept by an
unbounded join that no row of the other side matched for state_ttl is dropped and never
matched again, also across a savepoint restored at another parallelism.

The left input's key is 0 for ids below 200, 1 for the next 4000 ids and 0 again from id
4200: at 2,000 rows a second the one right row (key 0) goes at least two seconds without a
match, far beyond a TTL of 100 ms, so with the TTL the left rows from id 4200 stand alone
(padded with nulls) while without it they pair with it. The oracle is that definition,
checked row by row against the changes applied to an empty table."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa

import riverbed as rb
from riverbed import col

GAP_END = 4200


def left_join(env: rb.Environment, state_ttl: str | None) -> rb.Stream:
    left = (env.datagen({"id": rb.Int64}, rows_per_second=2_000, fields={"id": {"kind": "sequence"}})
            .with_columns((((col("id") + 3800) // 4000) % 2).alias("k")))
    right = env.from_pydict({"k": [0], "name": ["zero"]})
    return left.join(right, on="k", how="left", state_ttl=state_ttl)


def run(job: rb.Job, until: int) -> list[pa.RecordBatch]:
    """The changes of job until a left row with id >= until has come out."""
    out: list[pa.RecordBatch] = []
    try:
        for b in job.results(timeout="60s"):
            out.append(b)
            if b.num_rows and max(b.column("id").to_pylist()) >= until:
                break
    finally:
        job.cancel()
    return out


def applied(batches: list[pa.RecordBatch]) -> dict[int, Any]:
    """id -> the right name it is paired with (None: padded), from the changes in order."""
    table: Counter[tuple[int, Any]] = Counter()
    for b in batches:
        for r in b.to_pylist():
            assert r["__op"] in ("+I", "-D")
            table[(r["id"], r["name"])] += 1 if r["__op"] == "+I" else -1
    assert all(n in (0, 1) for n in table.values())
    rows = [r for r, n in table.items() if n == 1]
    assert len({i for i, _ in rows}) == len(rows)  # one row per left row
    return dict(rows)


def test_join_state_ttl_drops_idle_rows_across_a_rescaled_restore(tmp_path):
    env = rb.Environment(parallelism=1, batch_size=100, checkpoint_dir=str(tmp_path / "ck"), checkpoint_interval="1h")
    job = left_join(env, "100ms").start()
    # Stop in the gap (key 1), with a savepoint, and restore at parallelism 2.
    first: list[pa.RecordBatch] = []
    try:
        for b in job.results(timeout="60s"):
            first.append(b)
            if max(b.column("id").to_pylist(), default=0) >= 1_000:
                break
        job.stop(savepoint=str(tmp_path / "sp"), timeout="60s")
        first += list(job.results(timeout="5s"))
    finally:
        job.cancel()
    env2 = rb.Environment(parallelism=2, batch_size=100, checkpoint_dir=str(tmp_path / "ck2"), checkpoint_interval="1h")
    second = run(left_join(env2, "100ms").start(restore=str(tmp_path / "sp")), GAP_END + 500)
    got = applied(first + second)
    ids = sorted(got)
    assert ids == list(range(len(ids)))  # every left row read, once
    assert len(ids) > GAP_END + 500
    # Key 1 never matches; from GAP_END on the right row has expired: nothing matches.
    assert all(got[i] is None for i in ids if 200 <= i)
    # Early key-0 rows met the right row while it was kept (unless they came, and expired,
    # before it did: then they stand alone).
    assert any(got[i] == "zero" for i in range(200))


def test_without_state_ttl_the_right_row_matches_again():
    """The control: the same join without a TTL pairs the key-0 rows after the gap."""
    env = rb.Environment(parallelism=1, batch_size=100)
    got = applied(run(left_join(env, None).start(), GAP_END + 200))
    assert all(got[i] == "zero" for i in got if i >= GAP_END and i in got)
    assert sum(1 for i in got if i >= GAP_END) > 0
