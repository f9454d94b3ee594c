"""Updating results (changelogs): a group_by over an unbounded stream emits +I/-U/+U/-D
changes in its ``__op`` column. The oracle is DuckDB's GROUP BY over exactly the input rows
the job had read, and a plain-Python applier of the changes."""

from __future__ import annotations

import glob
import time
from collections import Counter
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import riverbed as rb
from riverbed import col

B = 500  # rows per generator block (batch_size, with a rate high enough not to shrink it)
SCHEMA = {"id": rb.Int64, "k": rb.Int64, "v": rb.Int64}
FIELDS = {"id": {"kind": "sequence"}, "k": {"min": 0, "max": 4}, "v": {"min": -100, "max": 100, "nulls": 0.1}}
SEED = 7
KEYS = ("blk", "k")
VALUES = ("n", "s", "last")


def source(env: rb.Environment, rate: float = 20_000) -> rb.Stream:
    return env.datagen(SCHEMA, rows_per_second=rate, seed=SEED, fields=FIELDS)


def counts(s: rb.Stream, **opts: Any) -> rb.Stream:
    """Per (block of B rows, k): count, sum and the last id. The block in the key tells
    which rows were read: each generator block is read in order, so the rows read of block
    b are ids b*B .. max(last of b)."""
    return (s.with_columns((col("id") // B).alias("blk"))
             .group_by(*KEYS, **opts)
             .agg(rb.count().alias("n"), col("v").sum().alias("s"), col("id").max().alias("last")))


def apply_unordered(changes: pa.Table) -> Counter[tuple[Any, ...]]:
    """The result table the changes make, as a multiset of rows: +I/+U add a row, -U/-D
    take one away. A retract changelog's changes commute, so their order (across files)
    does not matter; every count must end at 0 or 1."""
    table: Counter[tuple[Any, ...]] = Counter()
    for r in changes.to_pylist():
        row = tuple(r[c] for c in KEYS + VALUES)
        op = r["__op"]
        assert op in ("+I", "-U", "+U", "-D"), op
        table[row] += 1 if op in ("+I", "+U") else -1
    assert all(n in (0, 1) for n in table.values()), {r: n for r, n in table.items() if n not in (0, 1)}
    return +table


def apply_in_order(batches: list[pa.RecordBatch]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """Apply changes in arrival order to a table keyed by the group keys; a retraction must
    name the row the table holds for its key, an insert a key it does not hold."""
    table: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for b in batches:
        for r in b.to_pylist():
            key, vals, op = tuple(r[c] for c in KEYS), tuple(r[c] for c in VALUES), r["__op"]
            if op in ("-U", "-D"):
                assert table.get(key) == vals, (op, key, vals, table.get(key))
                del table[key]
            else:
                assert op in ("+I", "+U"), op
                assert key not in table, (op, key, table[key])
                table[key] = vals
    return table


def oracle(table: Counter[tuple[Any, ...]] | set[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
    """DuckDB's answer over exactly the rows read: per block, ids up to the greatest `last`
    of the block's groups."""
    read: dict[int, int] = {}
    for blk, _k, _n, _s, last in table:
        read[blk] = max(read.get(blk, -1), last)
    if not read:
        return set()
    rows = rb.datagen(SCHEMA, number_of_rows=max(read.values()) + 1, seed=SEED,  # noqa: F841 (read by DuckDB)
                      fields=FIELDS).collect(progress=False)
    upto = pa.table({"blk": list(read), "upto": list(read.values())})  # noqa: F841 (read by DuckDB)
    got = duckdb.sql(f"""
        SELECT r.id // {B} AS blk, r.k, count(*) AS n, sum(r.v) AS s, max(r.id) AS last
        FROM rows r JOIN upto u ON r.id // {B} = u.blk
        WHERE r.id <= u.upto
        GROUP BY ALL""").fetchall()
    return {tuple(int(x) if x is not None else None for x in r) for r in got}


def committed_changes(out: str) -> pa.Table:
    files = sorted(glob.glob(f"{out}/*.parquet"))
    assert files
    return pa.concat_tables([pq.read_table(f) for f in files])


@pytest.mark.parametrize("mini_batch", [None, "1h"])
def test_updating_group_by_equals_duckdb_at_every_checkpoint_and_after_rescale(tmp_path, mini_batch):
    """The changes written to Parquet by an updating group_by over an unbounded generator,
    applied to an empty table, equal DuckDB's GROUP BY over the rows read, at every
    checkpoint; stopped with a savepoint at parallelism 2 and restored at 3, the same
    holds for the changes of both runs together. With an hour-long mini-batch the changes
    go out only when a checkpoint barrier ends the mini-batch, ahead of the barrier."""
    out = str(tmp_path / "out")
    env = rb.Environment(parallelism=2, batch_size=B, checkpoint_dir=str(tmp_path / "ck"),
                         checkpoint_interval="1h")
    sink = counts(source(env), mini_batch=mini_batch).write_parquet(out, lazy=True)
    job = sink.start()
    seen = 0
    try:
        for _ in range(3):
            time.sleep(0.4)
            job.checkpoint()
            table = apply_unordered(committed_changes(out))
            assert set(table) == oracle(table)
            assert len(table) > seen  # the job went on reading
            seen = len(table)
        job.stop(savepoint=str(tmp_path / "sp"), timeout="60s")
    finally:
        job.cancel()
    table = apply_unordered(committed_changes(out))
    assert set(table) == oracle(table)

    env3 = rb.Environment(parallelism=3, batch_size=B, checkpoint_dir=str(tmp_path / "ck3"),
                          checkpoint_interval="1h")
    job = counts(source(env3), mini_batch=mini_batch).write_parquet(out, lazy=True).start(restore=str(tmp_path / "sp"))
    try:
        for _ in range(2):
            time.sleep(0.4)
            job.checkpoint()
            table = apply_unordered(committed_changes(out))
            assert set(table) == oracle(table)
            assert len(table) > seen
            seen = len(table)
    finally:
        job.cancel()


def test_results_are_the_changes_and_mini_batches_emit_fewer(tmp_path):
    """job.results() of an updating group_by gives the changes in order (each retraction
    names the row its key holds); with a mini-batch the changes are fewer, and the table
    they make equals DuckDB's over the rows read. At parallelism 1 the rows read are a
    prefix of the generator's sequence."""
    env = rb.Environment(parallelism=1, batch_size=100)
    for mini_batch in (None, "300ms"):
        job = counts(source(env, rate=5_000), mini_batch=mini_batch).start()
        batches = []
        try:
            # Until 6,000 rows (12 blocks, 20 mini-batches) are in: a share of the changes
            # that does not hang on how fast a loaded machine starts the job.
            for b in job.results(timeout="60s"):
                batches.append(b)
                if max(b.column("last").to_pylist()) >= 6_000:
                    break
        finally:
            job.cancel()
        assert batches and batches[0].schema.names == ["blk", "k", "n", "s", "last", "__op"]
        table = apply_in_order(batches)
        want = oracle({k + v for k, v in table.items()})
        assert {k + v for k, v in table.items()} == want
        ops = Counter(op for b in batches for op in b.column("__op").to_pylist())
        assert ops["-U"] == ops["+U"] and ops["+I"] == len(table)
        per_row = sum(ops.values()) / (max(v[2] for v in table.values()) + 1)
        if mini_batch is None:
            unbatched = per_row
        else:
            # Each group changes at most once per mini-batch, not once per input batch
            # (about 0.1 changes per row here: 100-row batches touch 5 groups each).
            assert per_row < unbatched / 2


def test_state_ttl_deletes_idle_groups():
    """A group not updated for state_ttl is deleted from the result (-D with its last row)
    and its state dropped: a key lives for 100 rows of the sequence, so old keys expire
    while new ones come, and the result keeps only the keys updated lately."""
    env = rb.Environment(parallelism=1, batch_size=50)
    s = env.datagen(SCHEMA, rows_per_second=2_000, seed=SEED, fields=FIELDS)
    q = (s.with_columns((col("id") // 100).alias("key"))
          .group_by("key", state_ttl="1s").agg(rb.count().alias("n"), col("id").max().alias("last")))
    job = q.start()
    batches: list[pa.RecordBatch] = []
    deleted: list[dict[str, Any]] = []
    try:
        for b in job.results(timeout="60s"):
            batches.append(b)
            deleted += [r for r in b.to_pylist() if r["__op"] == "-D"]
            if len(deleted) >= 10:
                break
    finally:
        job.cancel()
    assert len(deleted) >= 10, f"only {len(deleted)} groups expired"
    # An expired key had all of its 100 rows (it was idle), and is gone from the result.
    table: dict[int, tuple[int, int]] = {}
    for b in batches:
        for r in b.to_pylist():
            if r["__op"] in ("-U", "-D"):
                assert table.pop(r["key"]) == (r["n"], r["last"])
            else:
                table[r["key"]] = (r["n"], r["last"])
    for r in deleted:
        assert (r["n"], r["last"]) == (100, r["key"] * 100 + 99)
    # Keys go idle in order, so they expire in order; the result keeps the later ones.
    gone = sorted(r["key"] for r in deleted)
    assert gone == list(range(len(gone)))
    assert table and min(table) > gone[-1]


def test_operators_on_a_changelog():
    """filter, select and with_columns pass the changes on (select keeps __op); operators
    that take appended rows refuse an updating input, naming themselves and its maker."""
    upd = rb.nexmark().bids().group_by("auction").agg(rb.count().alias("n"))
    assert upd.schema.names == ["auction", "n", "__op"]
    assert upd.filter(col("n") > 1).schema.names == ["auction", "n", "__op"]
    assert upd.select("n").schema.names == ["n", "__op"]
    assert upd.with_columns((col("n") * 2).alias("m")).schema.names == ["auction", "n", "__op", "m"]
    assert upd.group_by("n").agg(rb.count()).schema.names == ["n", "count", "__op"]
    with pytest.raises(rb.PlanError, match=r"aggregate.*updating stream.*median.*only count, sum, mean, min"):
        _ = upd.group_by("n").agg(col("auction").median()).schema
    with pytest.raises(rb.PlanError, match=r"__op.*cannot be written"):
        _ = upd.with_columns(rb.lit("x").alias("__op")).schema
    with pytest.raises(rb.PlanError, match=r"dedup.*updating stream.*appended rows only"):
        _ = upd.deduplicate("auction").schema
    with pytest.raises(rb.PlanError, match=r"write_kafka.*updating stream.*upsert=True"):
        _ = upd.write_kafka("localhost:9092", "t", lazy=True).schema
    assert upd.write_kafka("localhost:9092", "t", upsert=True, lazy=True).schema.names == ["topic", "rows", "records"]
    two = rb.nexmark().bids().group_by("auction", "bidder").agg(rb.count())
    assert two.write_kafka("localhost:9092", "t", upsert=True, lazy=True).schema.names == ["topic", "rows", "records"]
    assert "key auction, bidder" in two.write_kafka("localhost:9092", "t", upsert=True, lazy=True).explain()
    with pytest.raises(rb.PlanError, match=r"keys each record by the key of the changelog of aggregate "
                                           r"\(auction, bidder\), not by bidder; leave key= and keys= out"):
        _ = two.write_kafka("localhost:9092", "t", key="bidder", upsert=True, lazy=True).schema
    renamed = two.select(col("auction").alias("a"), "bidder", "count")
    assert "key a, bidder" in renamed.write_kafka("localhost:9092", "t", upsert=True, lazy=True).explain()
    with pytest.raises(rb.PlanError, match=r"has none: its key columns \(auction, bidder\) are not all kept"):
        _ = two.select("bidder", "count").write_kafka("localhost:9092", "t", upsert=True, lazy=True).schema
    with pytest.raises(rb.PlanError, match=r"upsert=True writes an updating stream"):
        _ = rb.nexmark().bids().write_kafka("localhost:9092", "t", upsert=True, lazy=True).schema


def test_bounded_group_by_is_a_final_table():
    """The same pipeline over a bounded input gives the final table, no op column."""
    t = counts(rb.datagen(SCHEMA, number_of_rows=2_000, seed=SEED, fields=FIELDS)).collect(progress=False)
    assert t.schema.names == ["blk", "k", "n", "s", "last"]
    got = {tuple(r.values()) for r in t.to_pylist()}
    assert got == oracle(got)


def test_updating_full_join_equals_duckdb_at_every_checkpoint(tmp_path):
    """A full join of two unbounded generators, written to Parquet: at every checkpoint its
    changes, applied to an empty table, equal DuckDB's full join of the rows read (rows
    padded with nulls are inserted at once and deleted when their first match arrives).
    Every row read appears in a full join's result, so the result tells which rows were
    read; that those form a prefix of each generator block is checked too."""
    blk = 50
    env = rb.Environment(parallelism=2, batch_size=blk, checkpoint_dir=str(tmp_path / "ck"),
                         checkpoint_interval="1h")
    left = env.datagen({"id": rb.Int64, "k": rb.Int64}, rows_per_second=2_000, seed=1,
                       fields={"id": {"kind": "sequence"}, "k": {"min": 0, "max": 300}})
    right = env.datagen({"rid": rb.Int64, "k": rb.Int64, "w": rb.Int64}, rows_per_second=500, seed=2,
                        fields={"rid": {"kind": "sequence"}, "k": {"min": 0, "max": 300}})
    joined = left.join(right, on="k", how="full")
    assert joined.schema.names == ["id", "k", "rid", "k_right", "w", "__op"]
    out = str(tmp_path / "out")
    job = joined.write_parquet(out, lazy=True).start()
    cols = ["id", "k", "rid", "k_right", "w"]
    seen_deletes = 0
    try:
        for _ in range(3):
            time.sleep(0.5)
            job.checkpoint()
            changes = committed_changes(out)
            seen_deletes = changes.column("__op").to_pylist().count("-D")
            got: Counter[tuple[Any, ...]] = Counter()
            for r in changes.to_pylist():
                got[tuple(r[c] for c in cols)] += 1 if r["__op"] == "+I" else -1
            assert all(n in (0, 1) for n in got.values())
            got = +got
            lids = sorted({r[0] for r in got if r[0] is not None})
            rids = sorted({r[2] for r in got if r[2] is not None})
            for ids in (lids, rids):  # each block read from its start, without a gap
                by_block: dict[int, list[int]] = {}
                for i in ids:
                    by_block.setdefault(i // blk, []).append(i)
                for b, xs in by_block.items():
                    assert xs == list(range(b * blk, b * blk + len(xs)))
            lrows = rb.datagen({"id": rb.Int64, "k": rb.Int64}, number_of_rows=lids[-1] + 1, seed=1,  # noqa: F841
                               fields={"id": {"kind": "sequence"}, "k": {"min": 0, "max": 300}}
                               ).collect(progress=False)
            rrows = rb.datagen({"rid": rb.Int64, "k": rb.Int64, "w": rb.Int64}, number_of_rows=rids[-1] + 1,  # noqa: F841
                               seed=2, fields={"rid": {"kind": "sequence"}, "k": {"min": 0, "max": 300}}
                               ).collect(progress=False)
            lread = pa.table({"id": lids})  # noqa: F841 (read by DuckDB)
            rread = pa.table({"rid": rids})  # noqa: F841
            want = Counter(duckdb.sql("""
                WITH l AS (SELECT * FROM lrows WHERE id IN (SELECT id FROM lread)),
                     r AS (SELECT * FROM rrows WHERE rid IN (SELECT rid FROM rread))
                SELECT l.id, l.k, r.rid, r.k AS k_right, r.w FROM l FULL JOIN r ON l.k = r.k""").fetchall())
            assert got == want
    finally:
        job.cancel()
    assert seen_deletes > 0  # some padded rows were retracted


def test_group_by_over_an_updating_group_by_at_every_checkpoint(tmp_path):
    """A second group_by over the changelog of a first takes the retracted rows back out of
    its groups (per block: how many (block, k) groups, their rows and sums); its own
    changes, written to Parquet, applied to an empty table, equal DuckDB's answer over the
    rows read at every checkpoint. The rows read of block b are its first `rows`."""
    out = str(tmp_path / "out")
    env = rb.Environment(parallelism=2, batch_size=B, checkpoint_dir=str(tmp_path / "ck"),
                         checkpoint_interval="1h")
    per_block = counts(source(env)).group_by("blk").agg(
        rb.count().alias("groups"), col("n").sum().alias("rows"), col("s").sum().alias("s"))
    assert per_block.schema.names == ["blk", "groups", "rows", "s", "__op"]
    job = per_block.write_parquet(out, lazy=True).start()
    try:
        for _ in range(3):
            time.sleep(0.4)
            job.checkpoint()
            got: Counter[tuple[Any, ...]] = Counter()
            for r in committed_changes(out).to_pylist():
                row = (r["blk"], r["groups"], r["rows"], r["s"])
                got[row] += 1 if r["__op"] in ("+I", "+U") else -1
            assert all(n in (0, 1) for n in got.values())
            table = set(+got)
            assert len({r[0] for r in table}) == len(table)  # one row per block
            read = {blk: n for blk, _, n, _ in table}
            rows = rb.datagen(SCHEMA, number_of_rows=(max(read) + 1) * B, seed=SEED,  # noqa: F841
                              fields=FIELDS).collect(progress=False)
            upto = pa.table({"blk": list(read), "n": list(read.values())})  # noqa: F841
            want = duckdb.sql(f"""
                SELECT r.id // {B} AS blk, count(DISTINCT r.k) AS groups, count(*) AS rows, sum(r.v) AS s
                FROM rows r JOIN upto u ON r.id // {B} = u.blk
                WHERE r.id - u.blk * {B} < u.n
                GROUP BY ALL""").fetchall()
            assert table == {tuple(int(x) if x is not None else None for x in r) for r in want}
    finally:
        job.cancel()
