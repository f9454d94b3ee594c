"""sort, tail, top_k, unique and relational joins give the same answer as Polars (and DuckDB)
whatever the batch size (1, 7, 65536), input layout (memory, one Parquet file, many uneven
Parquet files including an empty one and a one-row one) and parallelism (1, 2, 4); and over
more rows than one batch of 65536.

sort and unique are checked row for row (their order is the input order for ties and for
the row kept); joins, whose rows come in no particular order, as sorted rows.
"""

from __future__ import annotations

import random

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import riverbed as rb

BATCH_SIZES = [1, 7, 65536]
LAYOUTS = ["memory", "one_file", "files"]
PARALLELISM = [1, 2, 4]
N = 300


def make_table(seed: int, n: int, value: str) -> pa.Table:
    r = random.Random(seed)
    return pa.table({
        "i": pa.array([r.choice([None, *range(-8, 8)]) for _ in range(n)], pa.int64()),
        "f": pa.array([r.choice([None, float("nan"), float("inf"), -0.0, 0.0, 1.5, -2.25, 3.0]) for _ in range(n)],
                      pa.float64()),
        "s": pa.array([r.choice([None, "", "a", "b", "é", "ab", "B"]) for _ in range(n)], pa.string()),
        value: pa.array(range(n), pa.int64()),
    })


LEFT = make_table(11, N, "n")
RIGHT = make_table(12, N // 10, "m")  # joins: each right row pairs up with about N/16 left rows


def write_layouts(table: pa.Table, base) -> dict[str, str]:
    (base / "one").mkdir()
    pq.write_table(table, base / "one" / "data.parquet", row_group_size=64)
    (base / "files").mkdir()
    n = table.num_rows
    cuts = [0, 0, n // 5, n // 5 + 1, n // 2, n - 3, n]  # an empty file, a one-row file, uneven sizes
    for f in range(len(cuts) - 1):
        pq.write_table(table.slice(cuts[f], cuts[f + 1] - cuts[f]), base / "files" / f"part-{f:03d}.parquet",
                       row_group_size=23)
    return {"one_file": str(base / "one"), "files": str(base / "files")}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return {name: write_layouts(t, tmp_path_factory.mktemp(name)) for name, t in (("left", LEFT), ("right", RIGHT))}


def variants(files, parallelism=PARALLELISM):
    for bs in BATCH_SIZES:
        for layout in LAYOUTS:
            for p in parallelism:
                env = rb.Environment(parallelism=p, batch_size=bs)

                def src(side: str, env=env, layout=layout) -> rb.Stream:
                    if layout == "memory":
                        return env.from_arrow(LEFT if side == "left" else RIGHT)
                    return env.read_parquet(files[side][layout])

                yield (bs, layout, p), src


def sorted_rows(t: pa.Table) -> list[str]:
    return sorted(map(repr, t.to_pylist()))


def run(streams: list[rb.Stream]) -> list[pa.Table]:
    """Several pipelines over the variant's sources as one job (the scans are shared)."""
    return rb.collect_all(streams, progress=False)


SORTS = [
    dict(by=["i"]),
    dict(by=["f"], descending=True, nulls_last=True),
    dict(by=["s", "i"], descending=[False, True]),
    dict(by=["f", "s"], nulls_last=[False, True]),
]


def test_sort_tail_and_top_k_match_polars_in_every_variant(files):
    df = pl.from_arrow(LEFT)
    want = [df.sort(kw["by"], descending=kw.get("descending", False), nulls_last=kw.get("nulls_last", False),
                    maintain_order=True).to_arrow() for kw in SORTS]
    want += [df.tail(17).to_arrow(), df.tail(0).to_arrow(), df.top_k(9, by="n").to_arrow(),
             df.bottom_k(9, by="n").to_arrow(),
             # ties: top_k is a stable sort (nulls last) cut at k, so tied rows come in input order
             df.sort("i", descending=True, nulls_last=True, maintain_order=True).head(9).to_arrow(),
             df.sort("s", nulls_last=True, maintain_order=True).head(9).to_arrow()]
    for variant, src in variants(files):
        s = src("left")
        outs = [s.sort(*kw["by"], descending=kw.get("descending", False), nulls_last=kw.get("nulls_last", False))
                for kw in SORTS]
        outs += [s.tail(17), s.tail(0), s.top_k(9, by="n"), s.bottom_k(9, by="n"), s.top_k(9, by="i"),
                 s.bottom_k(9, by="s")]
        for i, (got, w) in enumerate(zip(run(outs), want)):
            assert got.column_names == w.column_names
            # repr: NaN equals NaN, -0.0 differs from 0.0
            assert repr(got.to_pylist()) == repr(w.to_pylist()), f"variant {variant}, output {i}"


UNIQUES = [(subset, keep) for subset in (["i", "s"], ["f"], None) for keep in ("first", "last", "none", "any")]


def test_unique_matches_polars_in_every_variant(files):
    """Keys with nulls, NaN, -0.0 and 0.0 (one value each, as in Polars and DuckDB); whole
    rows (subset None)."""
    want = []
    for subset, keep in UNIQUES:
        table = LEFT.drop_columns(["n"]) if subset is None else LEFT  # else every row is distinct
        # riverbed's "any" is the first row
        want.append(pl.from_arrow(table).unique(subset, keep="first" if keep == "any" else keep,
                                                maintain_order=True).to_arrow())
    for variant, src in variants(files):
        s = src("left")
        outs = [(s.drop("n") if subset is None else s).unique(subset, keep=keep) for subset, keep in UNIQUES]
        for (subset, keep), got, w in zip(UNIQUES, run(outs), want):
            assert repr(got.to_pylist()) == repr(w.to_pylist()), f"variant {variant}, unique({subset}, {keep})"


JOIN_SQL = {
    "inner": "select l.i, l.f, l.s, n, r.f, r.s, m from l join r on l.i = r.i",
    "left": "select l.i, l.f, l.s, n, r.f, r.s, m from l left join r on l.i = r.i",
    "right": "select l.f, l.s, n, r.i, r.f, r.s, m from l right join r on l.i = r.i",
    "full": "select l.i, l.f, l.s, n, r.i, r.f, r.s, m from l full join r on l.i = r.i",
    "semi": "select * from l semi join r on l.i = r.i",
    "anti": "select * from l anti join r on l.i = r.i",
}
JOINS = [(how, {"on": "i"}) for how in JOIN_SQL] + [("cross", {}), ("full", {"on": ["s", "f"]})]


def test_joins_match_polars_and_duckdb_in_every_variant(files):
    want = [pl.from_arrow(LEFT).join(pl.from_arrow(RIGHT), how=how, **keys).to_arrow() for how, keys in JOINS]
    con = duckdb.connect()
    con.register("l", LEFT)
    con.register("r", RIGHT)
    for (how, keys), w in zip(JOINS, want):  # DuckDB agrees with Polars (the oracle of the output columns)
        if keys == {"on": "i"}:
            duck = con.sql(JOIN_SQL[how]).fetchall()
            assert sorted(map(repr, duck)) == sorted(map(repr, (tuple(r.values()) for r in w.to_pylist()))), how
    con.close()
    for variant, src in variants(files, parallelism=[1, 3]):
        if variant[0] == 1 and variant[1] != "files":
            continue  # one-row batches are slow to join: only over the many files
        left, right = src("left"), src("right")
        outs = [left.join(right, how=how, **keys) for how, keys in JOINS]
        for (how, keys), got, w in zip(JOINS, run(outs), want):
            assert got.column_names == w.column_names, (variant, how)
            assert sorted_rows(got) == sorted_rows(w), f"variant {variant}, {how} join on {keys}"


# ---- more rows than one batch of 65536 ----

BIG = 150_000


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    rng = np.random.default_rng(5)
    k = rng.integers(0, 5000, BIG)
    s = np.array(["x", "y", "zz", "x"])[rng.integers(0, 4, BIG)]
    t = pa.table({"k": pa.array(k, pa.int64(), mask=rng.random(BIG) < 0.01),
                  "s": pa.array(s, pa.string(), mask=rng.random(BIG) < 0.1),
                  "n": pa.array(np.arange(BIG), pa.int64())})
    d = tmp_path_factory.mktemp("big")
    cuts = [0, 40_000, 40_001, 110_000, BIG]
    for f in range(len(cuts) - 1):
        pq.write_table(t.slice(cuts[f], cuts[f + 1] - cuts[f]), d / f"part-{f}.parquet", row_group_size=30_000)
    dim = pa.table({"k": pa.array(range(0, 6000, 3), pa.int64()), "label": [f"l{k}" for k in range(0, 6000, 3)]})
    return t, str(d), dim


@pytest.mark.parametrize("layout", ["memory", "files"])
@pytest.mark.parametrize("p", [1, 3])
def test_more_than_one_batch_of_65536_matches_polars(big, layout, p):
    t, d, dim = big
    env = rb.Environment(parallelism=p, batch_size=65536)
    s = env.from_arrow(t) if layout == "memory" else env.read_parquet(d)
    df = pl.from_arrow(t)
    got = s.sort("k", "s", descending=[True, False], nulls_last=True).collect(progress=False)
    want = df.sort(["k", "s"], descending=[True, False], nulls_last=True, maintain_order=True).to_arrow()
    assert got["n"].to_pylist() == want["n"].to_pylist()
    for keep in ("first", "last", "none"):
        got = s.unique(["k", "s"], keep=keep).collect(progress=False)
        want = df.unique(["k", "s"], keep=keep, maintain_order=True).to_arrow()
        assert got["n"].to_pylist() == want["n"].to_pylist(), keep
    assert s.tail(70_000).collect(progress=False).to_pylist() == df.tail(70_000).to_arrow().to_pylist()
    for how in ("inner", "left", "anti"):
        got = s.join(env.from_arrow(dim), on="k", how=how).collect(progress=False)
        want = df.join(pl.from_arrow(dim), on="k", how=how).to_arrow()
        assert got.num_rows == want.num_rows, how
        assert sorted_rows(got) == sorted_rows(want), how
