"""Pre-aggregation: a bounded group_by at parallelism > 1 aggregates in each subtask before
the hash exchange and merges the partial states after it, or, when a sample of its input
shows keys that hardly repeat, passes the rows through (docs/architecture.md).

Both paths must give DuckDB's answer (first/last: a plain-Python reference, as in
test_aggregations.py); which path ran is read from the job's metrics (the pre-aggregate
operator's rows in and out), so a test cannot silently exercise the other one. Floats are
compared with a relative tolerance of 1e-9 (a float sum's last bits depend on the order
of additions, in every engine).
"""

from __future__ import annotations

import random
import time

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import riverbed as rb
from conftest import make_source, values_equal, write_parquet_files
from riverbed import col

REL = 1e-9
WORDS = ["apple", "Banana", "cherry", "", "fig", "Zürich", "東京"]


def table(n: int, keys: int, seed: int = 3, null_group: int = 0) -> pa.Table:
    """n rows over ``keys`` int keys (3% null keys) with nulls in every value column, plus
    ``null_group`` rows of key -1 whose values are all null."""
    rng = random.Random(seed)

    def maybe(v, p=0.1):
        return None if rng.random() < p else v

    rows = [dict(k=maybe(rng.randrange(keys), 0.03), v_int=maybe(rng.randint(-10**9, 10**9)),
                 v_float=maybe(rng.uniform(-50.0, 1000.0)), v_str=maybe(rng.choice(WORDS)),
                 v_bool=maybe(rng.random() < 0.5)) for _ in range(n)]
    rows += [dict(k=-1, v_int=None, v_float=None, v_str=None, v_bool=None) for _ in range(null_group)]
    rng.shuffle(rows)
    return pa.table({
        "k": pa.array([r["k"] for r in rows], pa.int64()),
        "v_int": pa.array([r["v_int"] for r in rows], pa.int64()),
        "v_float": pa.array([r["v_float"] for r in rows], pa.float64()),
        "v_str": pa.array([r["v_str"] for r in rows], pa.string()),
        "v_bool": pa.array([r["v_bool"] for r in rows], pa.bool_()),
    })


AGGS = {
    "n": (rb.count(), "count(*)"),
    "n_int": (col("v_int").count(), "count(v_int)"),
    "sum_int": (col("v_int").sum(), "sum(v_int)"),
    "sum_float": (col("v_float").sum(), "sum(v_float)"),
    "mean_int": (col("v_int").mean(), "avg(v_int)"),
    "mean_float": (col("v_float").mean(), "avg(v_float)"),
    "min_int": (col("v_int").min(), "min(v_int)"),
    "max_float": (col("v_float").max(), "max(v_float)"),
    "min_str": (col("v_str").min(), "min(v_str)"),
    "max_str": (col("v_str").max(), "max(v_str)"),
    "uniq_str": (col("v_str").n_unique(), "count(DISTINCT v_str)"),
    "std_float": (col("v_float").std(), "stddev_samp(v_float)"),
    "var_int": (col("v_int").var(), "var_samp(v_int)"),
    "any_bool": (col("v_bool").any(), "bool_or(v_bool)"),
    "all_bool": (col("v_bool").all(), "bool_and(v_bool)"),
}


def query(s: rb.Stream) -> rb.Stream:
    return s.group_by("k").agg(*[e.alias(name) for name, (e, _) in AGGS.items()],
                               col("v_str").first().alias("first_str"), col("v_int").last().alias("last_int"))


def duck(t: pa.Table) -> dict:
    sql = ", ".join(f"{s} AS {name}" for name, (_, s) in AGGS.items())
    con = duckdb.connect()
    try:
        con.register("t", t)
        rows = con.execute(f"SELECT k, {sql} FROM t GROUP BY k").fetchall()
    finally:
        con.close()
    names = ["k", *AGGS]
    out = {r[0]: dict(zip(names, r)) for r in rows}
    # first / last non-null value per key in input order (DuckDB's first/last keep nulls).
    for k, s, i in zip(t["k"].to_pylist(), t["v_str"].to_pylist(), t["v_int"].to_pylist()):
        g = out[k]
        if s is not None and g.get("first_str") is None:
            g["first_str"] = s
        if i is not None:
            g["last_int"] = i
    for g in out.values():
        g.setdefault("first_str", None)
        g.setdefault("last_int", None)
        # any / all over no non-null value: false / true in riverbed (as Polars,
        # docs/expressions.md), null in DuckDB.
        if g["any_bool"] is None:
            g["any_bool"], g["all_bool"] = False, True
        for name in ("sum_int", "var_int"):  # DuckDB: hugeint, and var of big ints as float
            if g[name] is not None:
                g[name] = int(g[name]) if name == "sum_int" else float(g[name])
    return out


def assert_matches(got: pa.Table, want: dict) -> None:
    rows = got.to_pylist()
    keys = [r["k"] for r in rows]
    assert len(set(keys)) == len(keys), "a key appears in more than one row"
    assert set(keys) == set(want), f"groups differ: {sorted(set(keys) ^ set(want), key=str)[:10]}"
    bad = [(r["k"], name, r[name], want[r["k"]][name]) for r in rows for name in want[r["k"]]
           if not values_equal(r[name], want[r["k"]][name], REL)]
    assert not bad, f"{len(bad)} mismatching aggregates, first ones (key, agg, got, DuckDB): {bad[:8]}"


def pre_aggregate_metrics(job: rb.Job) -> tuple[int, int] | None:
    """(rows in, rows out) of the pre-aggregate operator, or None when the plan has none."""
    rows = [m for m in job.metrics(as_dict=True) if m["operator"] == "pre-aggregate"]
    if not rows:
        return None
    return sum(m["records_in"] for m in rows), sum(m["records_out"] for m in rows)


def run(s: rb.Stream) -> tuple[pa.Table, tuple[int, int] | None]:
    job = query(s).start()
    out = job.collect()
    return out, pre_aggregate_metrics(job)


# -- pre-aggregating -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["memory", "parquet"])
@pytest.mark.parametrize("parallelism", [1, 2, 4])
def test_pre_aggregated_group_by_matches_duckdb(tmp_path, mode, parallelism):
    """Few keys (60 and a null key) and a group whose values are all null: each subtask
    sends one partial state per key, and the merged result is DuckDB's."""
    t = table(40_000, 60, null_group=300)
    env = rb.Environment(parallelism=parallelism, batch_size=1000)
    got, m = run(make_source(env, mode, tmp_path, t, n_files=4, row_group_size=3000))
    assert_matches(got, duck(t))
    allnull = next(r for r in got.to_pylist() if r["k"] == -1)
    assert allnull["n"] == 300 and allnull["n_int"] == 0 and allnull["sum_float"] is None \
        and allnull["max_str"] is None and allnull["std_float"] is None and allnull["first_str"] is None, allnull
    if parallelism == 1:
        assert m is None, "a group_by at parallelism 1 has nothing to pre-aggregate before its exchange"
        return
    assert m is not None, "no pre-aggregation at parallelism > 1"
    rows_in, rows_out = m
    assert rows_in == t.num_rows
    # One partial state per key and subtask (a subtask holds everything until its input ends).
    assert rows_out <= parallelism * 62, f"pre-aggregation sent {rows_out} rows for {rows_in}"


def test_float_sums_of_many_rows_per_key(tmp_path):
    """Float sums over 200,000 rows into 7 keys, pre-aggregated at parallelism 4: DuckDB's
    sums to 1e-9 relative, and the same as without pre-aggregation (parallelism 1)."""
    rng = random.Random(9)
    n = 200_000
    t = pa.table({"k": pa.array([rng.randrange(7) for _ in range(n)], pa.int64()),
                  "x": pa.array([rng.uniform(-1e6, 1e6) * rng.choice([1e-3, 1.0, 1e3]) for _ in range(n)])})
    d = tmp_path / "in"
    write_parquet_files(t, d, n_files=8, row_group_size=5000)
    want = dict(duckdb.sql(f"SELECT k, sum(x) FROM read_parquet('{d}/*.parquet') GROUP BY k").fetchall())
    for p in (1, 4):
        got = rb.Environment(parallelism=p).read_parquet(d).group_by("k").agg(col("x").sum()).collect()
        got_d = dict(zip(got["k"].to_pylist(), got["x"].to_pylist()))
        assert got_d.keys() == want.keys()
        for k, v in want.items():
            assert values_equal(got_d[k], v, 1e-9), (p, k, got_d[k], v)


# -- the adaptive skip ------------------------------------------------------------------------------


@pytest.mark.parametrize("parallelism", [2, 4])
def test_keys_that_hardly_repeat_pass_through(tmp_path, parallelism):
    """400,000 rows over 300,000 keys in 4 files: each subtask's sample (its first 65,536
    rows) shows nearly every key new, so it sends what it has aggregated and passes the
    rest of its rows through. Keys whose rows fall on both sides of the switch merge a
    partial state with rows; the result is DuckDB's."""
    n, keys = 400_000, 300_000
    rng = random.Random(5)
    ks = [(i * 7919) % keys for i in range(n)]
    t = pa.table({"k": pa.array(ks, pa.int64()),
                  "v_int": pa.array([None if i % 13 == 0 else rng.randint(-1000, 1000) for i in range(n)], pa.int64()),
                  "v_float": pa.array([rng.uniform(0, 10) for _ in range(n)]),
                  "v_str": pa.array([rng.choice(WORDS) for _ in range(n)]),
                  "v_bool": pa.array([rng.random() < 0.3 for _ in range(n)])})
    d = tmp_path / "in"
    write_parquet_files(t, d, n_files=4, row_group_size=20_000)
    job = query(rb.Environment(parallelism=parallelism).read_parquet(d)).start()
    assert_matches(job.collect(), duck(t))
    subtasks = [m for m in job.metrics(as_dict=True) if m["operator"] == "pre-aggregate"]
    assert sum(m["records_in"] for m in subtasks) == n
    # A subtask decides after its sample (65,536 rows); which row groups each subtask reads
    # depends on timing, so one may get fewer and pre-aggregate them all.
    sampled = [m for m in subtasks if m["records_in"] >= 65_536]
    assert sampled, subtasks
    for m in sampled:
        assert m["records_out"] > 0.9 * m["records_in"], f"pre-aggregation went on: {m}: the skip did not run"


# -- where it applies ------------------------------------------------------------------------------


def test_where_pre_aggregation_applies():
    t = table(1000, 10)
    env = rb.Environment(parallelism=2)
    s = env.from_arrow(t)
    assert "pre-aggregate" in s.group_by("k").agg(col("v_int").sum()).explain()
    assert "pre-aggregate" in s.group_by().agg(col("v_int").sum()).explain()  # a global aggregation too
    # Median and quantile keep every value: a partial state is no smaller than its rows.
    assert "pre-aggregate" not in s.group_by("k").agg(col("v_int").median()).explain()
    assert "pre-aggregate" not in rb.Environment(parallelism=1).from_arrow(t).group_by("k").agg(rb.count()).explain()
    # An updating group_by (an unbounded input) emits as its input comes: no pre-aggregation.
    live = rb.datagen({"k": rb.Int64}, rows_per_second=10).group_by("k").agg(rb.count())
    assert "pre-aggregate" not in live.explain()


def test_global_aggregation_pre_aggregated(tmp_path):
    """A global aggregation (no keys) gathers one partial state per subtask; over no rows it
    still gives one row (count 0, sums null), as SQL does."""
    t = table(30_000, 5)
    d = tmp_path / "in"
    write_parquet_files(t, d, n_files=4, row_group_size=2000)
    env = rb.Environment(parallelism=4)
    job = env.read_parquet(d).group_by().agg(rb.count().alias("n"), col("v_float").sum().alias("s"),
                                  col("v_str").max().alias("m")).start()
    got = job.collect().to_pylist()
    want = duckdb.sql(f"SELECT count(*), sum(v_float), max(v_str) FROM read_parquet('{d}/*.parquet')").fetchall()[0]
    assert len(got) == 1
    assert got[0]["n"] == want[0] and values_equal(got[0]["s"], want[1], REL) and got[0]["m"] == want[2]
    rows_in, rows_out = pre_aggregate_metrics(job) or (0, 0)
    assert rows_in == t.num_rows and rows_out <= 4
    empty = (env.read_parquet(d).filter(col("v_int") > 10**10)
             .group_by().agg(rb.count().alias("n"), col("v_float").sum().alias("s")))
    assert empty.collect().to_pylist() == [{"n": 0, "s": None}]


# -- checkpoints -----------------------------------------------------------------------------------

RATE, EVENTS = 50_000, 200_000


def bid_counts(env: rb.Environment) -> rb.Stream:
    return (env.nexmark(RATE, max_events=EVENTS).bids()
            .group_by("auction").agg(rb.count().alias("n"), col("price").sum().alias("total"),
                                     col("price").max().alias("top"), col("bidder").min().alias("low_bidder")))


@pytest.mark.parametrize("p_before,p_after", [(2, 3), (4, 1)])
def test_stop_with_savepoint_and_restore_at_other_parallelism(tmp_path, p_before, p_after):
    """A pre-aggregated group_by stopped with a savepoint halfway (its pre-aggregations send
    what they hold before the barrier, so the savepoint holds merged groups only) and
    restored at another parallelism gives the answer of DuckDB over all the bids."""
    bids = rb.Environment(parallelism=2).nexmark(RATE, max_events=EVENTS).bids().collect(progress=False)
    want = {r[0]: r[1:] for r in duckdb.sql(
        "SELECT auction, count(*), sum(price), max(price), min(bidder) FROM bids GROUP BY auction").fetchall()}
    job = bid_counts(rb.Environment(parallelism=p_before)).start()
    deadline = time.monotonic() + 30
    while (pre_aggregate_metrics(job) or (0, 0))[0] < 20_000:
        assert time.monotonic() < deadline and job.status == "running", "the job did not get going"
        time.sleep(0.05)
    sp = tmp_path / "sp"
    job.stop(savepoint=sp)
    before = pa.Table.from_batches(list(job.results()), schema=job.schema)
    assert before.num_rows == 0, "a bounded group_by emitted before its input ended"
    rows_in, _ = pre_aggregate_metrics(job) or (0, 0)
    assert 0 < rows_in < bids.num_rows, "the stop did not fall in the middle"
    after = bid_counts(rb.Environment(parallelism=p_after)).collect(restore=sp, progress=False)
    got = {r["auction"]: (r["n"], r["total"], r["top"], r["low_bidder"]) for r in after.to_pylist()}
    assert got == want


# -- window aggregation ----------------------------------------------------------------------------

WINDOW_CASES = {
    # riverbed window, DuckDB (window start, window end) rows per event time tus (µs), width
    "tumbling": (rb.tumbling("10s"), "SELECT *, (tus // 10000000) * 10000000 AS ws, (tus // 10000000) * 10000000 "
                 "+ 10000000 AS we FROM t"),
    "sliding": (rb.sliding("10s", every="4s"),
                "SELECT * FROM (SELECT *, (tus // 4000000) * 4000000 - j * 4000000 AS ws, (tus // 4000000) * 4000000"
                " - j * 4000000 + 10000000 AS we FROM t CROSS JOIN range(0, 3) r(j)) WHERE ws > tus - 10000000"),
    "cumulate": (rb.cumulate("5s", "20s"), "SELECT * FROM (SELECT *, (tus // 20000000) * 20000000 AS ws, "
                 "(tus // 20000000) * 20000000 + j * 5000000 AS we FROM t CROSS JOIN range(1, 5) r(j)) WHERE we > tus"),
}


def timed_table(n: int, keys: int, seed: int = 11) -> pa.Table:
    rng = random.Random(seed)
    base = 1_767_225_600_000_000
    ts = sorted(base + rng.randrange(0, 600_000_000) for _ in range(n))  # ten minutes, in order
    return pa.table({
        "k": pa.array([None if rng.random() < 0.02 else rng.randrange(keys) for _ in range(n)], pa.int64()),
        "ts": pa.array(ts, pa.timestamp("us")),
        "v": pa.array([None if rng.random() < 0.1 else rng.uniform(-5, 100) for _ in range(n)]),
    })


@pytest.mark.parametrize("kind", list(WINDOW_CASES))
@pytest.mark.parametrize("parallelism", [2, 4])
def test_pre_aggregated_windows_match_duckdb(tmp_path, kind, parallelism):
    """Keyed windows over 120,000 rows in 6 files (batch mode): each subtask sends partial
    states per key and slice; the windows are DuckDB's."""
    t = timed_table(120_000, 20)
    d = tmp_path / "in"
    write_parquet_files(t, d, n_files=6, row_group_size=5000)
    spec, rows_sql = WINDOW_CASES[kind]
    s = (rb.Environment(parallelism=parallelism).read_parquet(d, event_time="ts").key_by("k").window(spec)
         .agg(rb.count().alias("n"), col("v").sum().alias("s"), col("v").max().alias("mx"), col("v").mean().alias("m")))
    job = s.start()
    got = job.collect()
    con = duckdb.connect()
    con.register("t0", t)
    con.execute("CREATE VIEW t AS SELECT *, epoch_us(ts) AS tus FROM t0")
    want = {(r[0], r[1], r[2]): r[3:] for r in con.execute(
        f"SELECT k, ws, we, count(*), sum(v), max(v), avg(v) FROM ({rows_sql}) GROUP BY k, ws, we").fetchall()}
    con.close()
    ws = pc.cast(got["window_start"], pa.int64()).to_pylist()
    we = pc.cast(got["window_end"], pa.int64()).to_pylist()
    rows = got.to_pylist()
    gotd = {(r["k"], ws[i], we[i]): (r["n"], r["s"], r["mx"], r["m"]) for i, r in enumerate(rows)}
    assert len(gotd) == len(rows), "a window and key appear twice"
    assert gotd.keys() == want.keys()
    bad = [(k, gotd[k], want[k]) for k in want if not all(values_equal(a, b, REL) for a, b in zip(gotd[k], want[k]))]
    assert not bad, bad[:5]
    rows_in, rows_out = pre_aggregate_metrics(job) or (0, 0)
    assert rows_in == t.num_rows, "no pre-aggregation before the window aggregation"
    assert rows_out < rows_in / 5, f"{rows_out} partial states for {rows_in} rows"


def test_where_window_pre_aggregation_applies():
    t = timed_table(1000, 5)
    env = rb.Environment(parallelism=2)

    def explain(spec, *aggs, **kw) -> str:
        return env.from_arrow(t, event_time="ts").key_by("k").window(spec).agg(*aggs).explain(**kw)

    assert "pre-aggregate" in explain(rb.tumbling("10s"), col("v").first())
    assert "pre-aggregate" in explain(rb.sliding("10s", every="2s"), col("v").sum())
    # A sliding window spans several slices, whose rows' positions do not compare.
    assert "pre-aggregate" not in explain(rb.sliding("10s", every="2s"), col("v").first())
    assert "pre-aggregate" not in explain(rb.session("10s"), col("v").sum())
    # Streaming mode judges lateness row by row.
    streaming = env.from_arrow(t, event_time="ts").key_by("k").window(rb.tumbling("10s")).agg(col("v").sum())
    assert "pre-aggregate" not in streaming.explain(runtime_mode="streaming")
