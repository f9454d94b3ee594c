"""min, max, first, last and n_unique in a group_by over an updating input (the changelog
of another group_by over an unbounded generator): the second group_by takes retracted rows
back exactly, so its changes, applied to an empty table, equal DuckDB's answer over the
rows read, at every checkpoint and after a restore at another parallelism."""

from __future__ import annotations

import glob
import time
from collections import Counter
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

import riverbed as rb
from riverbed import col

B = 500  # rows per generator block
SCHEMA = {"id": rb.Int64, "k": rb.Int64, "v": rb.Int64}
FIELDS = {"id": {"kind": "sequence"}, "k": {"min": 0, "max": 4}, "v": {"min": -100, "max": 100, "nulls": 0.1}}
SEED = 11


def counts(env: rb.Environment) -> rb.Stream:
    """Per (block of B rows, k): count, sum and the last id (an updating result)."""
    return (env.datagen(SCHEMA, rows_per_second=20_000, seed=SEED, fields=FIELDS)
            .with_columns((col("id") // B).alias("blk"))
            .group_by("blk", "k")
            .agg(rb.count().alias("n"), col("v").sum().alias("s"), col("id").max().alias("last")))


PER_BLOCK = ["blk", "rows", "min_n", "max_n", "min_s", "max_s", "uniq_n", "min_last", "max_last"]


def per_block(env: rb.Environment) -> rb.Stream:
    return counts(env).group_by("blk").agg(
        col("n").sum().alias("rows"),
        col("n").min().alias("min_n"), col("n").max().alias("max_n"),
        col("s").min().alias("min_s"), col("s").max().alias("max_s"),
        col("n").n_unique().alias("uniq_n"),
        col("last").min().alias("min_last"), col("last").max().alias("max_last"))


def applied(out: str, names: list[str]) -> set[tuple[Any, ...]]:
    """The table the changes written to out make (every row count must end at 0 or 1)."""
    files = sorted(glob.glob(f"{out}/*.parquet"))
    assert files
    got: Counter[tuple[Any, ...]] = Counter()
    for r in pa.concat_tables([pq.read_table(f) for f in files]).to_pylist():
        assert r["__op"] in ("+I", "-U", "+U", "-D")
        got[tuple(r[c] for c in names)] += 1 if r["__op"] in ("+I", "+U") else -1
    assert all(n in (0, 1) for n in got.values()), {r: n for r, n in got.items() if n not in (0, 1)}
    return set(+got)


def _with_upto(read: dict[int, int]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.register("upto", pa.table({"blk": list(read), "n": list(read.values())}))
    return con


def want_per_block(read: dict[int, int]) -> set[tuple[Any, ...]]:
    con = _with_upto(read)
    con.register("rows", rb.datagen(SCHEMA, number_of_rows=(max(read) + 1) * B, seed=SEED,
                                    fields=FIELDS).collect(progress=False))
    got = con.sql(f"""
        WITH r AS (SELECT r.*, r.id // {B} AS blk FROM rows r JOIN upto u ON r.id // {B} = u.blk
                   WHERE r.id - u.blk * {B} < u.n),
             g AS (SELECT blk, k, count(*) AS n, sum(v) AS s, max(id) AS last FROM r GROUP BY ALL)
        SELECT blk, sum(n), min(n), max(n), min(s), max(s), count(DISTINCT n), min(last), max(last)
        FROM g GROUP BY blk""").fetchall()
    return {tuple(int(x) if x is not None else None for x in r) for r in got}


def check(out: str) -> int:
    table = applied(out, PER_BLOCK)
    assert len({r[0] for r in table}) == len(table)  # one row per block
    assert table == want_per_block({r[0]: r[1] for r in table})
    return len(table)


def test_min_max_n_unique_over_an_updating_group_by_at_every_checkpoint_and_rescaled(tmp_path):
    """min, max and n_unique over the changelog of a group_by (whose every update retracts
    the group's old row) equal DuckDB's over the rows read, at every checkpoint; stopped
    with a savepoint at parallelism 2 and restored at 3, the same holds for the changes of
    both runs together."""
    out = str(tmp_path / "out")
    env = rb.Environment(parallelism=2, batch_size=B, checkpoint_dir=str(tmp_path / "ck"), checkpoint_interval="1h")
    s = per_block(env)
    assert s.schema.names == [*PER_BLOCK, "__op"]
    job = s.write_parquet(out, lazy=True).start()
    seen = 0
    try:
        for _ in range(3):
            time.sleep(0.4)
            job.checkpoint()
            n = check(out)
            assert n >= seen
            seen = n
        job.stop(savepoint=str(tmp_path / "sp"), timeout="60s")
    finally:
        job.cancel()
    check(out)
    env3 = rb.Environment(parallelism=3, batch_size=B, checkpoint_dir=str(tmp_path / "ck3"), checkpoint_interval="1h")
    job = per_block(env3).write_parquet(out, lazy=True).start(restore=str(tmp_path / "sp"))
    try:
        for _ in range(2):
            time.sleep(0.4)
            job.checkpoint()
            n = check(out)
            assert n > seen  # the restored job went on reading
            seen = n
    finally:
        job.cancel()


def test_first_and_last_over_an_updating_group_by(tmp_path):
    """first and last over the changelog of a group_by with the same keys: each group
    holds one row at a time (every update retracts the old one), so first and last are
    that row's values, as DuckDB computes them over the rows read."""
    out = str(tmp_path / "out")
    env = rb.Environment(parallelism=2, batch_size=B, checkpoint_dir=str(tmp_path / "ck"), checkpoint_interval="1h")
    s = counts(env).group_by("blk", "k").agg(
        col("n").first().alias("n"), col("s").last().alias("s"), col("last").first().alias("last"),
        col("n").last().alias("n2"))
    job = s.write_parquet(out, lazy=True).start()
    try:
        for _ in range(2):
            time.sleep(0.4)
            job.checkpoint()
            table = applied(out, ["blk", "k", "n", "s", "last", "n2"])
            assert all(r[2] == r[5] for r in table)
            read: dict[int, int] = {}
            for blk, _k, n, _s, _last, _ in table:
                read[blk] = read.get(blk, 0) + n
            con = _with_upto(read)
            con.register("rows", rb.datagen(SCHEMA, number_of_rows=(max(read) + 1) * B, seed=SEED,
                                            fields=FIELDS).collect(progress=False))
            want = con.sql(f"""
                SELECT r.id // {B} AS blk, k, count(*), sum(v), max(id) FROM rows r
                JOIN upto u ON r.id // {B} = u.blk WHERE r.id - u.blk * {B} < u.n GROUP BY ALL""").fetchall()
            assert {r[:5] for r in table} == {tuple(int(x) if x is not None else None for x in r) for r in want}
    finally:
        job.cancel()


def test_float_sum_and_mean_over_a_changelog_are_of_the_rows_left() -> None:
    # A value taken back leaves the sum of the rows left: a NaN or an infinity leaves with
    # its row (NaN - NaN is NaN), and a huge value leaves the small ones exact (1e20 + 1 -
    # 1e20 is 0 by subtraction). Oracle: DuckDB over the last value of each key.
    import math

    cases = [[float("nan"), 1.0, 2.0], [-math.inf, math.inf, 3.0], [1e20, 1.0, 0.0], [1e20, 2.5, -7.25]]
    for vals in cases:
        t = pa.table({"k": [1, 2, 1], "f": vals})
        reader = pa.RecordBatchReader.from_batches(t.schema, t.to_batches(max_chunksize=1))
        stream = (rb.Environment(parallelism=1).from_arrow(reader, bounded=False)
                  .group_by("k").agg(col("f").last().alias("lf"))
                  .group_by().agg(col("lf").sum().alias("s"), col("lf").mean().alias("m")))
        job = stream.start()
        changes = pa.Table.from_batches(list(job.results(timeout="30s")), schema=stream.schema)
        table: Counter[tuple[Any, ...]] = Counter()
        for r in changes.to_pylist():
            row = tuple("nan" if isinstance(v, float) and math.isnan(v) else v for v in (r["s"], r["m"]))
            table[row] += 1 if r["__op"] in ("+I", "+U") else -1
        con = duckdb.connect()
        con.register("t", t.append_column("i", pa.array(range(3))))
        want = con.sql("SELECT sum(lf), avg(lf) FROM (SELECT arg_max(f, i) AS lf FROM t GROUP BY k)").fetchall()
        want_row = tuple("nan" if isinstance(v, float) and math.isnan(v) else v for v in want[0])
        assert set(+table) == {want_row}, (vals, changes.to_pylist())
