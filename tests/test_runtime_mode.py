"""Runtime modes: bounded event-time pipelines run with batch semantics by default.

In batch mode (the default for bounded input) every event-time operator sees all of its input
before it decides, so no row is late and the answer is independent of batch size, file split
and parallelism. Each test runs one pipeline over the same unsorted rows at batch sizes 1, 7,
4096 and 65536, from memory, one Parquet file and several files, at parallelism 1, 2 and 4,
and compares every answer with DuckDB or a plain-Python reference. ``runtime_mode="streaming"``
replays the input with watermarks: late rows are dropped, counted and warned about.
"""

from __future__ import annotations

import random
import warnings
from collections import Counter

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import riverbed as rb
import window_reference as ref  # tests/ is on sys.path (see conftest)
from riverbed import col

S = 1_000_000  # µs per second
BASE = 1_767_225_600 * S  # 2026-01-01 UTC
BATCH_SIZES = [1, 7, 4096, 65536]
LAYOUTS = ["memory", "one_file", "files"]
PARALLELISM = [1, 2, 4]
N = 360  # rows per side


def make_table(seed: int, name: str) -> pa.Table:
    """Unsorted rows over two minutes, times on a 100 ms grid (many equal times), a few null
    keys and null values; ``name`` is the input position (unique)."""
    rng = random.Random(seed)
    keys = ["a", "b", "c", "d", "e", None]
    rows = {"k": [], "ts": [], "v": [], name: []}
    for i in range(N):
        rows["k"].append(rng.choices(keys, weights=[6, 5, 4, 3, 2, 1])[0])
        rows["ts"].append(BASE + rng.randrange(0, 1200) * 100_000)
        rows["v"].append(None if rng.random() < 0.1 else rng.randrange(0, 50))
        rows[name].append(i)
    return pa.table({"k": pa.array(rows["k"], pa.string()), "ts": pa.array(rows["ts"], pa.timestamp("us")),
                     "v": pa.array(rows["v"], pa.int64()), name: pa.array(rows[name], pa.int64())})


LEFT = make_table(1, "i")
RIGHT = make_table(2, "j")


def micros(arr) -> list[int]:
    return pc.cast(arr, pa.int64()).to_pylist()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    out = {}
    for name, table in (("left", LEFT), ("right", RIGHT)):
        base = tmp_path_factory.mktemp(name)
        (base / "one").mkdir()
        pq.write_table(table, base / "one" / "data.parquet", row_group_size=50)
        (base / "files").mkdir()
        cuts = [0, 70, 150, 151, 300, N]  # uneven files, one of a single row
        for f in range(len(cuts) - 1):
            pq.write_table(table.slice(cuts[f], cuts[f + 1] - cuts[f]), base / "files" / f"part-{f:03d}.parquet",
                           row_group_size=40)
        out[name] = {"one_file": str(base / "one"), "files": str(base / "files")}
    return out


def variants(files, *, two_sides: bool = False):
    """Every (batch size, layout, parallelism), with the streams of that variant."""
    for bs in BATCH_SIZES:
        for layout in LAYOUTS:
            for p in PARALLELISM:
                env = rb.Environment(parallelism=p, batch_size=bs)

                def src(side: str, env=env, layout=layout) -> rb.Stream:
                    table = LEFT if side == "left" else RIGHT
                    if layout == "memory":
                        return env.from_arrow(table, event_time="ts")
                    return env.read_parquet(files[side][layout], event_time="ts")

                yield (bs, layout, p), src


def run_all(files, build, normalize) -> None:
    """Run ``build(src)`` in every variant; each must equal the first, and no row may be
    late (no LateRowsWarning)."""
    first = None
    for variant, src in variants(files):
        with warnings.catch_warnings():
            warnings.simplefilter("error", rb.LateRowsWarning)
            got = normalize(build(src).collect(progress=False))
        if first is None:
            first = got
        assert got == first, f"variant (batch size, layout, parallelism) {variant} differs"
    return first


def duck(sql: str, **tables: pa.Table) -> list[tuple]:
    con = duckdb.connect()
    for name, t in tables.items():
        con.register(name, t.append_column("tus", pc.cast(t.column("ts"), pa.int64())))
    rows = con.execute(sql).fetchall()
    con.close()
    return rows


def keyed(rows) -> list[tuple]:
    return sorted(rows, key=repr)


def window_rows(t: pa.Table) -> list[tuple]:
    ws, we = micros(t.column("window_start")), micros(t.column("window_end"))
    cols = [t.column(c).to_pylist() for c in ("k", "n", "s", "mn", "mx", "first", "last")]
    return keyed((cols[0][i], ws[i], we[i], *(c[i] for c in cols[1:])) for i in range(t.num_rows))


AGGS = [rb.count().alias("n"), col("v").sum().alias("s"), col("v").min().alias("mn"), col("v").max().alias("mx"),
        col("v").first().alias("first"), col("v").last().alias("last")]
AGG_SQL = """count(*), sum(v), min(v), max(v), arg_min(v, i) FILTER (WHERE v IS NOT NULL),
             arg_max(v, i) FILTER (WHERE v IS NOT NULL)"""

WINDOW_SQL = {
    "tumbling": (rb.tumbling("10s"), f"""
        SELECT k, (tus // 10000000) * 10000000 AS ws, (tus // 10000000) * 10000000 + 10000000, {AGG_SQL}
        FROM L GROUP BY k, ws"""),
    "sliding": (rb.sliding("10s", every="4s"), f"""
        SELECT k, ws, ws + 10000000, {AGG_SQL}
        FROM (SELECT *, (tus // 4000000) * 4000000 - j * 4000000 AS ws
              FROM L CROSS JOIN (SELECT range AS j FROM range(0, 3)))
        WHERE ws > tus - 10000000 GROUP BY k, ws"""),
    "cumulate": (rb.cumulate("5s", "20s"), f"""
        SELECT k, ws, we, {AGG_SQL}
        FROM (SELECT *, (tus // 20000000) * 20000000 AS ws, (tus // 20000000) * 20000000 + j * 5000000 AS we
              FROM L CROSS JOIN (SELECT range AS j FROM range(1, 5)))
        WHERE we > tus GROUP BY k, ws, we"""),
}


@pytest.mark.parametrize("kind", list(WINDOW_SQL))
@pytest.mark.parametrize("lateness", [None, "5s"])
def test_windows_match_duckdb_in_every_variant(files, kind, lateness):
    spec, sql = WINDOW_SQL[kind]
    got = run_all(files, lambda src: src("left").key_by("k").window(spec, allowed_lateness=lateness).agg(AGGS),
                  window_rows)
    assert got == keyed(duck(sql, L=LEFT))


def test_non_keyed_window_matches_duckdb_in_every_variant(files):
    got = run_all(files, lambda src: src("left").window(rb.tumbling("10s")).agg(rb.count().alias("n"),
                                                                                col("v").sum().alias("s")),
                  lambda t: sorted(zip(micros(t.column("window_start")), t.column("n").to_pylist(),
                                       t.column("s").to_pylist())))
    want = duck("SELECT (tus // 10000000) * 10000000 AS ws, count(*), sum(v) FROM L GROUP BY ws", L=LEFT)
    assert got == sorted(want)


def test_session_windows_match_reference_in_every_variant(files):
    got = run_all(files, lambda src: src("left").key_by("k").window(rb.session("2s")).agg(AGGS), window_rows)
    rows = LEFT.to_pylist()
    by_key: dict = {}
    tus = micros(LEFT.column("ts"))
    for i, r in enumerate(rows):
        by_key.setdefault(r["k"], []).append((tus[i], tus[i] + 2 * S, i))
    want = []
    for k, wins in by_key.items():
        for start, end, members in ref.merge_sessions(wins):
            members = sorted(members)
            vals = [rows[i]["v"] for i in members if rows[i]["v"] is not None]
            want.append((k, start, end, len(members), sum(vals) if vals else None, min(vals, default=None),
                         max(vals, default=None), vals[0] if vals else None, vals[-1] if vals else None))
    assert got == keyed(want)


def test_window_join_matches_duckdb_in_every_variant(files):
    got = run_all(files, lambda src: src("left").join_window(src("right"), on="k", window=rb.tumbling("10s")),
                  lambda t: sorted(zip(t.column("i").to_pylist(), t.column("j").to_pylist(),
                                       micros(t.column("window_start")))))
    want = duck("""SELECT i, j, (L.tus // 10000000) * 10000000 FROM L JOIN R
                   ON L.k = R.k AND L.tus // 10000000 = R.tus // 10000000""", L=LEFT, R=RIGHT)
    assert got == sorted(want)


def test_interval_join_matches_duckdb_in_every_variant(files):
    got = run_all(files, lambda src: src("left").join_interval(src("right"), on="k", lower="-1s", upper="2s"),
                  lambda t: sorted(zip(t.column("i").to_pylist(), t.column("j").to_pylist())))
    want = duck("""SELECT i, j FROM L JOIN R ON L.k = R.k
                   AND R.tus BETWEEN L.tus - 1000000 AND L.tus + 2000000""", L=LEFT, R=RIGHT)
    assert got == sorted(want)


def asof_reference(left: pa.Table = LEFT, right: pa.Table = RIGHT) -> list[tuple]:
    """Each left row with the right row of its key with the latest time at or before its own;
    of equal times, the last in input order; None without one (or for a null key)."""
    lt, rt = micros(left.column("ts")), micros(right.column("ts"))
    lk, rk = left.column("k").to_pylist(), right.column("k").to_pylist()
    out = []
    for i in range(N):
        best = None
        for j in range(N):
            if lk[i] is not None and rk[j] == lk[i] and rt[j] <= lt[i] and (best is None or rt[j] >= rt[best]):
                best = j
        out.append((i, best))
    return out


def test_asof_join_matches_reference_in_every_variant(files):
    got = run_all(files, lambda src: src("left").join_asof(src("right"), by="k"),
                  lambda t: sorted(zip(t.column("i").to_pylist(), t.column("j").to_pylist())))
    assert got == asof_reference()


def test_dedup_matches_reference_in_every_variant(files):
    got = run_all(files, lambda src: src("left").deduplicate("k", within="3s"),
                  lambda t: sorted(t.column("i").to_pylist()))
    tus, ks = micros(LEFT.column("ts")), LEFT.column("k").to_pylist()
    kept: dict = {}
    want = []
    for i in sorted(range(N), key=lambda i: (tus[i], i)):  # event time, then input order
        if ks[i] not in kept or tus[i] - kept[ks[i]] >= 3 * S:
            kept[ks[i]] = tus[i]
            want.append(i)
    assert got == sorted(want)


TIE_ORDER = "v DESC NULLS LAST, k ASC NULLS LAST, tus ASC, v ASC NULLS LAST, i ASC"  # value, then columns


@pytest.mark.parametrize("with_ties", [False, True])
def test_windowed_top_n_matches_duckdb_in_every_variant(files, with_ties):
    got = run_all(files, lambda src: src("left").key_by("k").window(rb.tumbling("10s"))
                  .top_n(3, "v", with_ties=with_ties),
                  lambda t: sorted(zip(t.column("i").to_pylist(), micros(t.column("window_start")),
                                       t.column("rank").to_pylist())))
    fn = "rank() OVER (PARTITION BY k, ws ORDER BY v DESC NULLS LAST)" if with_ties else \
        f"row_number() OVER (PARTITION BY k, ws ORDER BY {TIE_ORDER})"
    want = duck(f"""SELECT i, ws, r FROM (SELECT *, {fn} AS r FROM
                    (SELECT *, (tus // 10000000) * 10000000 AS ws FROM L)) WHERE r <= 3""", L=LEFT)
    assert got == sorted(want)


@pytest.mark.parametrize("with_ties", [False, True])
def test_top_n_of_window_results_matches_duckdb_in_every_variant(files, with_ties):
    got = run_all(files, lambda src: src("left").key_by("k").window(rb.tumbling("10s"))
                  .agg(rb.count().alias("n")).top_n(2, "n", with_ties=with_ties),
                  lambda t: sorted(zip(t.column("k").to_pylist(), micros(t.column("window_start")),
                                       t.column("n").to_pylist(), t.column("rank").to_pylist()), key=repr))
    fn = "rank() OVER (PARTITION BY ws ORDER BY n DESC)" if with_ties else \
        "row_number() OVER (PARTITION BY ws ORDER BY n DESC, k ASC NULLS LAST)"
    want = duck(f"""SELECT k, ws, n, r FROM (SELECT *, {fn} AS r FROM
                    (SELECT k, (tus // 10000000) * 10000000 AS ws, count(*) AS n FROM L GROUP BY ALL))
                    WHERE r <= 2""", L=LEFT)
    assert got == sorted(want, key=repr)


# -- top-N ties (Nexmark q5's hot items) ----------------------------------------------------------

def tied_counts() -> pa.Table:
    """One window: 40 keys with 10 rows each (tied at the top), 20 keys with fewer."""
    rng = random.Random(5)
    rows = [(f"key{k:02d}", 10) for k in range(40)] + [(f"low{k:02d}", rng.randrange(1, 10)) for k in range(20)]
    ks = [k for k, n in rows for _ in range(n)]
    rng.shuffle(ks)
    return pa.table({"auction": ks, "ts": pa.array([BASE + rng.randrange(0, 9 * S) for _ in ks], pa.timestamp("us"))})


@pytest.mark.parametrize("p", [1, 2, 4])
@pytest.mark.parametrize("with_ties", [False, True])
def test_top_n_ties_are_deterministic(p, with_ties):
    table = tied_counts()
    counts = Counter(table.column("auction").to_pylist())
    top = max(counts.values())
    ordered = sorted(counts, key=lambda k: (-counts[k], k))  # count, then the key column
    if with_ties:
        want = sorted((k, counts[k], 1) for k in counts if counts[k] == top)
    else:
        want = sorted((k, counts[k], r + 1) for r, k in enumerate(ordered[:3]))
    env = rb.Environment(parallelism=p, batch_size=37)
    for _ in range(20 if p == 2 else 5):
        out = (env.from_arrow(table, event_time="ts").key_by("auction").window(rb.tumbling("10s"))
               .agg(rb.count().alias("num")).top_n(3, "num", with_ties=with_ties).collect(progress=False))
        assert sorted(zip(out["auction"].to_pylist(), out["num"].to_pylist(), out["rank"].to_pylist())) == want
    assert len(want) == (40 if with_ties else 3)


def test_top_n_with_ties_ranks_like_sql_rank():
    t = pa.table({"k": ["x"] * 6, "ts": pa.array([BASE] * 6, pa.timestamp("us")), "v": [5, 9, 7, 9, 7, 1]})
    out = (rb.from_arrow(t, event_time="ts").key_by("k").window(rb.tumbling("1s"))
           .top_n(2, "v", with_ties=True).collect(progress=False))
    assert sorted(zip(out["v"].to_pylist(), out["rank"].to_pylist())) == [(9, 1), (9, 1)]
    out = (rb.from_arrow(t, event_time="ts").key_by("k").window(rb.tumbling("1s"))
           .top_n(3, "v", with_ties=True).collect(progress=False))
    assert sorted(zip(out["v"].to_pylist(), out["rank"].to_pylist())) == [(7, 3), (7, 3), (9, 1), (9, 1)]


# -- modes ------------------------------------------------------------------------------------------

def labels_and_tx():
    """The issue's case: labels not sorted by time, as-of joined to transactions."""
    rng = random.Random(3)
    n = 3000
    labels = pa.table({"user_id": [rng.randrange(50) for _ in range(n)],
                       "ts": pa.array([BASE + rng.randrange(0, 3600) * S for _ in range(n)], pa.timestamp("us"))})
    tx = pa.table({"user_id": [rng.randrange(50) for _ in range(n)],
                   "ts": pa.array(sorted(BASE + rng.randrange(0, 3600) * S for _ in range(n)), pa.timestamp("us")),
                   "amount": [float(i) for i in range(n)]})
    return labels, tx


def test_unsorted_asof_keeps_every_row_by_default_and_streaming_warns():
    labels, tx = labels_and_tx()
    env = rb.Environment(parallelism=2, batch_size=500)

    def q():
        return env.from_arrow(labels, event_time="ts").join_asof(env.from_arrow(tx, event_time="ts"), by="user_id")

    with warnings.catch_warnings():
        warnings.simplefilter("error", rb.LateRowsWarning)
        assert q().collect(progress=False).num_rows == labels.num_rows
    with pytest.warns(rb.LateRowsWarning, match=r"late rows were dropped .*join\(asof\).*runtime_mode=\"batch\""
                      ) as rec:
        out = q().collect(progress=False, runtime_mode="streaming")
    dropped = labels.num_rows - out.num_rows
    assert dropped > 0
    assert f"{dropped:,} late rows" in str(rec[0].message)
    job = q().start(runtime_mode="streaming")
    job.wait()
    assert sum(m["late_records"] for m in job.metrics(as_dict=True)) == dropped


def test_streaming_mode_late_rows_in_late_output(tmp_path):
    t = pa.table({"k": [1, 1, 1], "ts": pa.array([BASE + 100 * S, BASE, BASE + 5 * S], pa.timestamp("us"))})
    env = rb.Environment(parallelism=1, batch_size=1)
    res = env.from_arrow(t, event_time="ts").key_by("k").window(rb.tumbling("10s")).agg(rb.count().alias("n"))
    assert sorted(res.collect(progress=False)["n"].to_pylist()) == [1, 2]  # batch: nothing late
    assert res.late().collect(progress=False).num_rows == 0
    with pytest.warns(rb.LateRowsWarning, match="2 late rows"):
        assert res.collect(progress=False, runtime_mode="streaming")["n"].to_pylist() == [1]
    with pytest.warns(rb.LateRowsWarning, match="2 late rows"):
        assert sum(b.num_rows for b in res.to_reader(runtime_mode="streaming")) == 1
    with pytest.warns(rb.LateRowsWarning, match="2 late rows"):
        assert res.start(runtime_mode="streaming").collect().num_rows == 1
    with pytest.warns(rb.LateRowsWarning, match="2 late rows"):
        res.write_parquet(tmp_path / "out", runtime_mode="streaming", progress=False)
    assert pq.read_table(tmp_path / "out").num_rows == 1
    streaming = rb.Environment(parallelism=1, batch_size=1, runtime_mode="streaming")
    res = streaming.from_arrow(t, event_time="ts").key_by("k").window(rb.tumbling("10s")).agg(rb.count().alias("n"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", rb.LateRowsWarning)  # the late output is not a loss
        assert micros(res.late().collect(progress=False).column("ts")) == [BASE, BASE + 5 * S]


def test_runtime_mode_validation():
    s = rb.from_pydict({"x": [1]})
    with pytest.raises(rb.PlanError, match=r"runtime_mode .*\"bach\".*did you mean \"batch\""):
        s.collect(runtime_mode="bach")
    with pytest.raises(TypeError):
        rb.Environment(runtime_mode=1)
    unbounded = rb.nexmark().bids().key_by("auction").window(rb.tumbling("1s")).agg(rb.count())
    with pytest.raises(rb.PlanError, match=r"runtime_mode=\"batch\" needs bounded sources.*max_events"):
        unbounded.start(runtime_mode="batch")
    assert "runtime mode: streaming" in unbounded.explain()
    assert "runtime mode: batch" in s.explain()
    assert "runtime mode: streaming" in s.explain(runtime_mode="streaming")
    reader = pa.RecordBatchReader.from_batches(pa.schema([("x", pa.int64())]), [])
    assert "runtime mode: streaming" in rb.from_arrow(reader).explain()  # a stream may be live
    assert "runtime mode: batch" in rb.from_arrow(reader, bounded=True).explain()


@pytest.mark.parametrize("p", [1, 3])
def test_bounded_generator_in_batch_mode_matches_streaming(p):
    """A bounded generator in batch mode fires windows as its own clock allows (watermarks
    that never pass a row to come) and gives the same windows as streaming mode."""
    env = rb.Environment(parallelism=p, batch_size=1000)
    q = (env.nexmark(max_events=40_000).bids().key_by("auction").window(rb.tumbling("100ms"))
         .agg(rb.count().alias("n"), col("price").max().alias("mx")))

    def rows(t):
        return sorted(zip(t["auction"].to_pylist(), micros(t["window_start"]), t["n"].to_pylist(),
                          t["mx"].to_pylist()))

    got = rows(q.collect(progress=False))
    assert got == rows(q.collect(progress=False, runtime_mode="streaming"))
    assert len(got) == len(set((a, w) for a, w, _, _ in got))  # one result per window


def nearly_sorted(table: pa.Table, seed: int) -> pa.Table:
    """The rows by time, then shuffled within runs of 9 rows (out of order, as a live feed)."""
    idx = pc.sort_indices(table, [("ts", "ascending")]).to_pylist()
    rng = random.Random(seed)
    for a in range(0, len(idx), 9):
        part = idx[a:a + 9]
        rng.shuffle(part)
        idx[a:a + 9] = part
    return table.take(idx)


@pytest.mark.parametrize("p", [1, 2, 4])
@pytest.mark.parametrize("bs", [7, 4096])
def test_time_ordered_parquet_in_batch_mode(tmp_path, p, bs):
    """Parquet files whose row groups follow time let batch mode advance its watermark by
    row-group statistics (so windows fire before the end); results stay exact."""
    left, right = nearly_sorted(LEFT, 1), nearly_sorted(RIGHT, 2)
    # nearly_sorted keeps the row positions i / j of the original tables: renumber them.
    left = left.set_column(3, "i", pa.array(range(N), pa.int64()))
    right = right.set_column(3, "j", pa.array(range(N), pa.int64()))
    for name, t in (("l", left), ("r", right)):
        (tmp_path / name).mkdir()
        for f, (a, b) in enumerate([(0, 100), (100, 250), (250, N)]):
            pq.write_table(t.slice(a, b - a), tmp_path / name / f"part-{f}.parquet", row_group_size=30)
    env = rb.Environment(parallelism=p, batch_size=bs)

    def src(name):
        return env.read_parquet(str(tmp_path / name), event_time="ts")

    with warnings.catch_warnings():
        warnings.simplefilter("error", rb.LateRowsWarning)
        win = window_rows(src("l").key_by("k").window(rb.tumbling("10s")).agg(AGGS).collect(progress=False))
        asof = src("l").join_asof(src("r"), by="k").collect(progress=False)
        interval = src("l").join_interval(src("r"), on="k", lower="-1s", upper="2s").collect(progress=False)
    assert win == keyed(duck(WINDOW_SQL["tumbling"][1], L=left))
    assert sorted(zip(asof["i"].to_pylist(), asof["j"].to_pylist())) == asof_reference(left, right)
    want = duck("""SELECT i, j FROM L JOIN R ON L.k = R.k
                   AND R.tus BETWEEN L.tus - 1000000 AND L.tus + 2000000""", L=left, R=right)
    assert sorted(zip(interval["i"].to_pylist(), interval["j"].to_pylist())) == sorted(want)
    plan = src("l").key_by("k").window(rb.tumbling("10s")).agg(AGGS).explain()
    assert "runtime mode: batch" in plan
    # explain speaks the user's terms: the window and lateness as written, each aggregation
    # with its column
    assert 'tumbling window of 10s on "ts"' in plan and "allowed lateness 0s" in plan
    assert "n = count(*)" in plan and "s = sum(v)" in plan and "mx = max(v)" in plan
    late = src("l").key_by("k").window(rb.sliding("1m", "30s"), allowed_lateness="1500ms").agg(AGGS).explain()
    assert 'sliding window of 1m every 30s on "ts"' in late and "allowed lateness 1s500ms" in late
    assert "{Kind:" not in late and "us," not in late


# -- rows an operator made have no input order: ties are broken by their columns ----------------

def nulls_last(v):
    return (v is None, 0 if v is None else v)


def test_dedup_of_join_pairs_is_deterministic(files):
    """Deduplicating join pairs by the left row: all pairs of a left row have its event time,
    so the first is the least by the pair's columns (ts_right, v_right, j) in every variant."""
    got = run_all(files, lambda src: src("left").join_interval(src("right"), on="k", lower="-1s", upper="2s")
                  .deduplicate("i"),
                  lambda t: sorted(zip(t.column("i").to_pylist(), t.column("j").to_pylist())))
    pairs = duck("""SELECT i, j, R.tus, R.v FROM L JOIN R ON L.k = R.k
                    AND R.tus BETWEEN L.tus - 1000000 AND L.tus + 2000000""", L=LEFT, R=RIGHT)
    best: dict = {}
    for i, j, rt, rv in pairs:
        key = (rt, nulls_last(rv), j)
        if i not in best or key < best[i][0]:
            best[i] = (key, j)
    assert got == sorted((i, b[1]) for i, b in best.items())


def test_asof_ties_among_operator_made_rows_are_deterministic(files):
    """An as-of join whose right side is itself a join (pairs of right rows with equal key and
    time, so many right rows tie in time): of tied rows the greatest by columns wins."""
    def build(src):
        pairs = src("right").join_interval(src("right"), on="k", lower="0s", upper="0s")
        return src("left").join_asof(pairs, by="k", suffix="_r")

    got = run_all(files, build, lambda t: sorted(zip(t.column("i").to_pylist(), t.column("j").to_pylist(),
                                                     t.column("j_right").to_pylist()), key=repr))
    lt, rt = micros(LEFT.column("ts")), micros(RIGHT.column("ts"))
    lk, rk = LEFT.column("k").to_pylist(), RIGHT.column("k").to_pylist()
    rv = RIGHT.column("v").to_pylist()
    pairs = [(a, b) for a in range(N) for b in range(N) if rk[a] is not None and rk[a] == rk[b] and rt[a] == rt[b]]
    want = []
    for i in range(N):
        cands = [(a, b) for a, b in pairs if lk[i] is not None and rk[a] == lk[i] and rt[a] <= lt[i]]
        if not cands:
            want.append((i, None, None))
            continue
        a, b = max(cands, key=lambda p: (rt[p[0]], nulls_last(rv[p[0]]), p[0], nulls_last(rv[p[1]]), p[1]))
        want.append((i, a, b))
    assert got == sorted(want, key=repr)


def settled_rows_read(job: rb.Job) -> int:
    """Rows the job has read once reading stops (it blocks on unread results)."""
    import time

    last = -1
    for _ in range(100):
        now = job._h.progress()["rows_read"]
        if now == last:
            return now
        last = now
        time.sleep(0.2)
    return last


@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_time_ordered_parquet_fires_windows_before_the_end(tmp_path, mode):
    """Batch mode does not hold everything to the end where the data allows: over Parquet
    row groups in time order its watermark (row-group minimums) fires windows while the
    input is read, so a consumer that stops reading stops the job mid-input."""
    n = 300_000
    t = pa.table({"k": pa.array([i % 4 for i in range(n)], pa.int64()),
                  "ts": pa.array([BASE + i * 1000 for i in range(n)], pa.timestamp("us"))})  # 1 ms apart
    pq.write_table(t, tmp_path / "data.parquet", row_group_size=5000)
    # a small buffer budget: results left unread hold the job back after a few batches
    env = rb.Environment(parallelism=2, batch_size=5000, buffer_bytes=4096)
    res = env.read_parquet(str(tmp_path), event_time="ts").key_by("k").window(rb.tumbling("1s")).agg(
        rb.count().alias("n"))
    job = res.start(runtime_mode=mode)  # 300 windows, fired a few at a time: far more batches than buffers
    try:
        assert settled_rows_read(job) < n
        out = job.collect()
    finally:
        if job.status == "running":
            job.cancel()
    assert sorted(out["n"].to_pylist()) == [250] * 1200


def test_bounded_generator_fires_windows_before_the_end_in_batch_mode():
    """A generator's clock is its watermark in batch mode (no row to come is earlier)."""
    n = 400_000
    env = rb.Environment(parallelism=2, batch_size=2000, buffer_bytes=4096)
    job = env.nexmark(max_events=n).bids().key_by("auction").window(rb.tumbling("10ms")).agg(
        rb.count().alias("c")).start(runtime_mode="batch")
    try:
        assert settled_rows_read(job) < n
        out = job.collect()
    finally:
        if job.status == "running":
            job.cancel()
    assert sum(out["c"].to_pylist()) == env.nexmark(max_events=n).bids().collect(progress=False).num_rows


def test_a_reader_declared_live_is_unbounded_and_a_default_reader_is_answered_at_its_end():
    # from_arrow(reader) may be live: group_by answers when it ends. bounded=False says it
    # never ends: the stream is unbounded (group_by updating, collect() refused), as a
    # generator. Oracle: counts in plain Python.
    schema = pa.schema([("k", pa.string())])
    batches = [pa.record_batch([pa.array(["a", "b", "a"])], schema=schema) for _ in range(4)]
    got = rb.from_arrow(pa.RecordBatchReader.from_batches(schema, iter(batches))).group_by("k").agg(
        rb.count().alias("n")).collect().sort_by("k").to_pylist()
    assert got == [{"k": "a", "n": 8}, {"k": "b", "n": 4}]
    live = rb.from_arrow(pa.RecordBatchReader.from_batches(schema, iter(batches)), bounded=False)
    g = live.group_by("k").agg(rb.count().alias("n"))
    assert g.columns == ["k", "n", "__op"]
    with pytest.raises(rb.PlanError, match="unbounded"):
        g.collect()
    final: dict[str, int] = {}
    for b in g.start().results(timeout="30s"):
        for r in b.to_pylist():
            if r["__op"] in ("+I", "+U"):
                final[r["k"]] = r["n"]
    assert final == {"a": 8, "b": 4}
