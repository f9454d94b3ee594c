"""Golden semantics of event-time windows in streaming mode (``runtime_mode="streaming"``:
bounded input replayed with watermarks and lateness): every window kind, over an in-memory
table, the same rows as one Parquet file and as several Parquet files, at parallelism 1 and
4, must produce exactly what the plain-Python reference (``window_reference.py``) derives
from the documented contract — the final result of every (key, window), the late rows, and the
``late_records`` metric. Then the Nexmark generator (bounded and unbounded) against DuckDB,
non-keyed and processing-time windows, plan errors, and the live-job API.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import riverbed as rb
import window_reference as ref  # tests/ is on sys.path (see conftest)
from conftest import values_equal
from riverbed import col


def streaming_env(**options) -> rb.Environment:
    """The contract tested here is streaming mode's (bounded input replayed as a stream)."""
    return rb.Environment(runtime_mode="streaming", **options)


# -- the test data ------------------------------------------------------------------------------
#
# One sequence of rows, cut into three segments. The in-memory input and the one-file Parquet
# input are a single split each; the several-files input writes each segment as its own file
# (its own split, with its own watermark). Segment sizes are not multiples of the batch size,
# so the batches of the several-files input differ from those of the single split.
#
# Rows are made so that their classification holds in both split layouts and for every window
# kind below (windows of at most 20 s, allowed lateness 5 s, session gap 2 s):
# * normal rows move a clock forward, some up to 1.5 s out of order (within the 2 s bound);
# * "late" rows are 30-60 s behind the watermark of their batch: late for every window;
# * "update" rows repeat the key and event time of a row of an earlier batch that is now up to
#   4.5 s behind the watermark: within the allowed lateness, they re-emit fired windows (and,
#   for sessions, fall inside a known session, so session bounds never change after firing);
# * key "z" only has such behind-but-allowed rows, each alone in its session;
# * rows 30-60 s behind placed in the first batch of segments 2 and 3 are late in one split
#   but not in the several-files layout (a file's first batch has no watermark yet);
# * key "solo" has a single row, key "nul" only null values; about 15% of values are null.

B = 40                     # batch size and Parquet row-group size
BOUND = 2 * ref.SECOND     # max_out_of_orderness
LATENESS = 5 * ref.SECOND  # allowed_lateness
SEGMENTS = [430, 410, 380]
BASE = 1_767_225_600 * ref.SECOND + 123_457  # 2026-01-01 00:00:00.123457 UTC, in µs

KEYS = ["a", "b", "c", "d", "e", "nul"]
KEY_WEIGHTS = [6, 5, 4, 3, 2, 1]


def _layout_positions(n: int, splits: list[int] | None):
    return ref.batch_layout(n, B, splits)


def make_rows(seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    n = sum(SEGMENTS)
    seg_start = [sum(SEGMENTS[:i]) for i in range(len(SEGMENTS))]
    seg_of = [s for s, size in enumerate(SEGMENTS) for _ in range(size)]
    layouts = {"single": _layout_positions(n, None), "files": _layout_positions(n, SEGMENTS)}
    # per layout: (split, batch) -> largest ts of that batch so far
    batch_max: dict[str, dict[tuple[int, int], int]] = {name: {} for name in layouts}
    behind: dict[str, list[bool]] = {name: [] for name in layouts}

    def watermark(name: str, i: int) -> int | None:
        split, batch = layouts[name][i]
        earlier = [m for (s, b), m in batch_max[name].items() if s == split and b < batch]
        return max(earlier) - BOUND - 1 if earlier else None

    rows: list[dict] = []
    clock = BASE
    solo_at = 615
    z_times: list[int] = []

    def value(key: str):
        if key == "nul" or rng.random() < 0.15:
            return None
        return rng.randint(-100, 1000)

    for i in range(n):
        wms = {name: watermark(name, i) for name in layouts}
        w_lo = min((w for w in wms.values() if w is not None), default=None)
        w_hi = max((w for w in wms.values() if w is not None), default=None)
        both = all(w is not None for w in wms.values())
        row = None
        in_seg = i - seg_start[seg_of[i]]
        if seg_of[i] > 0 and in_seg == 5:
            # late in the single split, first batch (not late) of its file
            row = {"k": rng.choice(KEYS[:5]), "ts": wms["single"] - rng.randint(30, 60) * ref.SECOND}
        elif i == solo_at:
            clock += rng.randint(0, 300_000)
            row = {"k": "solo", "ts": clock}
        elif both and in_seg >= 2 * B:
            r = rng.random()
            if r < 0.04:
                row = {"k": rng.choice(KEYS), "ts": w_lo - rng.randint(30_000, 60_000) * ref.MS}
            elif r < 0.11:
                cands = [j for j in range(seg_start[seg_of[i]], i)
                         if all(not behind[name][j] and layouts[name][j][1] < layouts[name][i][1]
                                for name in layouts)
                         and rows[j]["k"] not in ("z", "solo")
                         and w_hi - 4_500_000 < rows[j]["ts"] <= w_lo]
                if cands:
                    j = rng.choice(cands)
                    row = {"k": rows[j]["k"], "ts": rows[j]["ts"]}
            elif r < 0.13 and w_hi - 4_400_000 < w_lo - 100_000:
                ts = rng.randint(w_hi - 4_400_000, w_lo - 100_000)
                if all(abs(ts - z) > 10 * ref.SECOND for z in z_times):
                    z_times.append(ts)
                    row = {"k": "z", "ts": ts}
        if row is None:  # a normal row
            clock += rng.randint(3, 9) * ref.SECOND if rng.random() < 0.08 else rng.randint(0, 400_000)
            jitter = 0 if rng.random() < 0.6 else rng.randint(1, 1_500_000)
            row = {"k": rng.choices(KEYS, KEY_WEIGHTS)[0], "ts": clock - jitter}
        row["v"] = value(row["k"])
        rows.append(row)
        for name in layouts:
            key = layouts[name][i]
            batch_max[name][key] = max(batch_max[name].get(key, row["ts"]), row["ts"])
            behind[name].append(wms[name] is not None and row["ts"] <= wms[name])
    return rows


ROWS = make_rows()
TABLE = pa.table({
    "k": pa.array([r["k"] for r in ROWS], pa.string()),
    "ts": pa.array([r["ts"] for r in ROWS], pa.timestamp("us")),
    "v": pa.array([r["v"] for r in ROWS], pa.int64()),
})

SPECS = {
    "tumbling": (rb.tumbling("10s"), ref.tumbling(10 * ref.SECOND)),
    "sliding": (rb.sliding("10s", every="5s"), ref.sliding(10 * ref.SECOND, 5 * ref.SECOND)),
    "session": (rb.session("2s"), ref.session(2 * ref.SECOND)),
    "cumulate": (rb.cumulate("5s", "20s"), ref.cumulate(5 * ref.SECOND, 20 * ref.SECOND)),
}


def rb_aggs():
    v = col("v")
    return [rb.count().alias("n"), v.count().alias("nv"), v.sum().alias("sum"), v.min().alias("min"),
            v.max().alias("max"), v.mean().alias("mean"), v.first().alias("first"), v.last().alias("last")]


REF_AGGS = [ref.Agg("n", "count_rows"), ref.Agg("nv", "count", "v"), ref.Agg("sum", "sum", "v"),
            ref.Agg("min", "min", "v"), ref.Agg("max", "max", "v"), ref.Agg("mean", "mean", "v"),
            ref.Agg("first", "first", "v"), ref.Agg("last", "last", "v")]
AGG_TYPES = {"n": pa.int64(), "nv": pa.int64(), "sum": pa.int64(), "min": pa.int64(), "max": pa.int64(),
             "mean": pa.float64(), "first": pa.int64(), "last": pa.int64()}

LAYOUT_SPLITS = {"memory": None, "parquet_one_file": None, "parquet_files": SEGMENTS}


def expected(kind: str, layout: str, keys=("k",), rows=ROWS) -> ref.Reference:
    return ref.reference(rows, SPECS[kind][1], keys=keys, time="ts", aggs=REF_AGGS, batch_size=B,
                         bound=BOUND, lateness=LATENESS, splits=LAYOUT_SPLITS[layout])


@pytest.fixture(scope="module")
def parquet_inputs(tmp_path_factory):
    base = tmp_path_factory.mktemp("windows")
    one = base / "one"
    one.mkdir()
    pq.write_table(TABLE, one / "data.parquet", row_group_size=B)
    files = base / "files"
    files.mkdir()
    off = 0
    for i, size in enumerate(SEGMENTS):
        pq.write_table(TABLE.slice(off, size), files / f"part-{i:05d}.parquet", row_group_size=B)
        off += size
    return {"parquet_one_file": str(one), "parquet_files": str(files)}


def source(env: rb.Environment, layout: str, parquet_inputs, table: pa.Table = TABLE) -> rb.Stream:
    opts = dict(event_time="ts", max_out_of_orderness="2s")
    if layout == "memory":
        return env.from_arrow(table, **opts)
    return env.read_parquet(parquet_inputs[layout], **opts)


# -- comparison ---------------------------------------------------------------------------------

def to_micros(arr: pa.ChunkedArray | pa.Array) -> list[int]:
    """Event-time values as µs integers, whatever the time type."""
    t = arr.type
    if pa.types.is_timestamp(t):
        per = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": None}[t.unit]
        ints = pc.cast(arr, pa.int64()).to_pylist()
        return [x // 1000 if per is None else x * per for x in ints]
    if pa.types.is_int64(t):
        return [x * 1000 for x in arr.to_pylist()]  # epoch milliseconds
    raise TypeError(t)


def final_rows(results: pa.Table, keys: tuple[str, ...]) -> dict[tuple, dict]:
    """The last emitted row of every (key..., window_start, window_end)."""
    starts = to_micros(results.column("window_start"))
    ends = to_micros(results.column("window_end"))
    key_cols = [results.column(k).to_pylist() for k in keys]
    aggs = [n for n in results.column_names if n not in keys and n not in ("window_start", "window_end")]
    agg_cols = {n: results.column(n).to_pylist() for n in aggs}
    out = {}
    for i in range(results.num_rows):
        out[tuple(c[i] for c in key_cols) + (starts[i], ends[i])] = {n: agg_cols[n][i] for n in aggs}
    return out


def assert_results_equal(got: dict[tuple, dict], want: dict[tuple, dict]) -> None:
    missing = sorted(set(want) - set(got), key=repr)
    extra = sorted(set(got) - set(want), key=repr)
    assert not missing and not extra, (
        f"windows missing from the results ({len(missing)}): {missing[:5]}; "
        f"unexpected windows ({len(extra)}): {[(w, got[w]) for w in extra[:5]]}")
    bad = []
    for w, exp in want.items():
        for name, e in exp.items():
            if not values_equal(got[w][name], e, rel=1e-12 if name == "mean" else 0.0):
                bad.append((w, name, got[w][name], e))
    assert not bad, f"{len(bad)} wrong aggregates, first ones (window, agg, got, expected): {bad[:6]}"


def late_multiset(late: pa.Table) -> Counter:
    ts = to_micros(late.column("ts"))
    return Counter(zip(late.column("k").to_pylist(), ts, late.column("v").to_pylist()))


def small_table(ks, secs, vs) -> pa.Table:
    """A small input: keys, event times in seconds after BASE, values."""
    return pa.table({"k": pa.array(ks, pa.string()),
                     "ts": pa.array([BASE + int(s * ref.SECOND) for s in secs], pa.timestamp("us")),
                     "v": pa.array(vs, pa.int64())})


def run_job(stream: rb.Stream) -> tuple[pa.Table, int]:
    """Start ``stream``, read all its results and return them with the job's late_records."""
    job = stream.start()
    batches = list(job.results(timeout="60s"))
    assert job.wait(timeout=60)
    assert job.status == "finished"
    results = pa.Table.from_batches(batches, schema=job.schema)
    late_records = sum(job.metrics().column("late_records").to_pylist())
    return results, late_records


# -- 1. golden semantics per window kind -------------------------------------------------------

def test_data_is_unambiguous():
    """The test data exercises what it claims, and every layout classifies rows the intended way."""
    single = expected("tumbling", "memory")
    files = expected("tumbling", "parquet_files")
    for kind in SPECS:
        for layout in ("memory", "parquet_files"):
            e = expected(kind, layout)
            assert len(e.late) == len(single.late if layout == "memory" else files.late), (kind, layout)
            assert len(e.behind) >= 20, (kind, layout, len(e.behind))  # within lateness, behind the watermark
        for splits in (None, SEGMENTS):
            assert ref.session_ambiguities(ROWS, 2 * ref.SECOND, keys=("k",), time="ts", batch_size=B,
                                           bound=BOUND, lateness=LATENESS, splits=splits) == []
    assert 25 <= len(single.late) and len(files.late) == len(single.late) - 2
    assert sum(r["k"] == "solo" for r in ROWS) == 1
    assert TABLE.column("ts").num_chunks == 1  # one Arrow batch: the engine cuts it every B rows
    assert sum(r["k"] == "z" for r in ROWS) >= 3
    assert sum(r["v"] is None for r in ROWS) > 100
    # some rows within the bound are out of order without being behind the watermark
    wms = ref.split_watermarks([r["ts"] for r in ROWS], B, BOUND)
    ooo = [i for i in range(1, len(ROWS)) if ROWS[i]["ts"] < max(r["ts"] for r in ROWS[:i])
           and (wms[i] is None or ROWS[i]["ts"] > wms[i])]
    assert len(ooo) > 100


LAYOUTS = ["memory", "parquet_one_file", "parquet_files"]
GOLDEN_CASES = [pytest.param(kind, layout, p, id=f"{kind}-{layout}-p{p}",
                             )
                for kind in SPECS for layout in LAYOUTS for p in (1, 4)]


def keyed_window(kind: str, layout: str, p: int, parquet_inputs) -> rb.WindowResult:
    env = streaming_env(parallelism=p, batch_size=B)
    return (source(env, layout, parquet_inputs)
            .key_by("k").window(SPECS[kind][0], allowed_lateness="5s").agg(rb_aggs()))


def check_late(res: rb.WindowResult, want: ref.Reference) -> None:
    """The late side output holds exactly the late rows, and late_records counts them."""
    late, late_records = run_job(res.late())
    assert late.schema == TABLE.schema
    assert late_multiset(late) == Counter((r["k"], r["ts"], r["v"]) for r in want.late)
    assert late_records == len(want.late)


@pytest.mark.parametrize("kind, layout, p", GOLDEN_CASES)
def test_window_golden_results(kind, layout, p, parquet_inputs):
    """The last emitted row of every (key, window) is the reference's aggregation, and the
    results job counts the late rows in late_records."""
    want = expected(kind, layout)
    results, late_records = run_job(keyed_window(kind, layout, p, parquet_inputs))
    assert results.column_names == ["k", "window_start", "window_end", *AGG_TYPES]
    assert results.schema.field("window_start").type == pa.timestamp("us")
    assert results.schema.field("window_end").type == pa.timestamp("us")
    for name, t in AGG_TYPES.items():
        assert results.schema.field(name).type == t, name
    assert_results_equal(final_rows(results, ("k",)), want.results)
    assert late_records == len(want.late)


@pytest.mark.parametrize("p", [1, 4], ids=lambda p: f"p{p}")
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("kind", list(SPECS))
def test_window_golden_late(kind, layout, p, parquet_inputs):
    check_late(keyed_window(kind, layout, p, parquet_inputs), expected(kind, layout))


@pytest.mark.parametrize("kind, layout, p", [
    pytest.param(kind, layout, p, id=f"{kind}-{layout}-p{p}")
    for kind in ("sliding", "cumulate") for layout in ("memory", "parquet_files") for p in (1, 4)])
def test_sliced_window_golden(kind, layout, p, parquet_inputs):
    """Sliding and cumulate windows whose aggregations all merge exactly (no first/last)
    share slices: each row updates its slice and a window merges its slices when it fires.
    With rows out of order, behind the watermark within the allowed lateness (re-emitting
    fired windows) and beyond it, the last row of every (key, window) is still the
    reference's, and late_records counts the late rows."""
    names = ["n", "nv", "sum", "min", "max", "mean"]
    env = streaming_env(parallelism=p, batch_size=B)
    res = (source(env, layout, parquet_inputs)
           .key_by("k").window(SPECS[kind][0], allowed_lateness="5s").agg(rb_aggs()[:len(names)]))
    want = expected(kind, layout)
    results, late_records = run_job(res)
    assert results.column_names == ["k", "window_start", "window_end", *names]
    assert_results_equal(final_rows(results, ("k",)),
                         {w: {n: a[n] for n in names} for w, a in want.results.items()})
    assert late_records == len(want.late)


@pytest.mark.parametrize("kind, layout", [
    pytest.param(kind, layout, id=f"{kind}-{layout}")
    for kind in ("tumbling", "cumulate") for layout in ("memory", "parquet_files")])
def test_non_keyed_window_golden(kind, layout, parquet_inputs):
    env = streaming_env(parallelism=4, batch_size=B)
    res = source(env, layout, parquet_inputs).window(SPECS[kind][0], allowed_lateness="5s").agg(rb_aggs())
    want = expected(kind, layout, keys=())
    results, late_records = run_job(res)
    assert results.column_names == ["window_start", "window_end", *AGG_TYPES]
    assert_results_equal(final_rows(results, ()), want.results)
    assert late_records == len(want.late)


@pytest.mark.parametrize("layout", ["memory", "parquet_files"])
@pytest.mark.parametrize("kind", ["tumbling", "cumulate"])
def test_non_keyed_window_late(kind, layout, parquet_inputs):
    env = streaming_env(parallelism=4, batch_size=B)
    res = source(env, layout, parquet_inputs).window(SPECS[kind][0], allowed_lateness="5s").agg(rb_aggs())
    check_late(res, expected(kind, layout, keys=()))


def test_reference_examples():
    """The reference itself, on hand-computed cases."""
    assert ref.tumbling(10).windows(-1) == [(-10, 0)]
    assert ref.tumbling(10).windows(10) == [(10, 20)]
    assert ref.sliding(10, 5).windows(12) == [(5, 15), (10, 20)]
    assert ref.sliding(10, 5).windows(10) == [(5, 15), (10, 20)]
    assert ref.cumulate(5, 20).windows(12) == [(0, 15), (0, 20)]
    assert ref.cumulate(5, 20).windows(0) == [(0, 5), (0, 10), (0, 15), (0, 20)]
    assert ref.cumulate(5, 20).windows(19) == [(0, 20)]
    assert ref.session(3).windows(4) == [(4, 7)]
    assert ref.split_watermarks([5, 1, 9, 2, 0], 2, 1) == [None, None, 3, 3, 7]
    assert ref.split_watermarks([5, 1, 9, 2, 0], 2, 1, splits=[3, 2]) == [None, None, 3, None, None]
    assert ref.merge_sessions([(0, 2, 0), (3, 5, 1), (1, 3, 2), (5, 6, 3)]) == [
        (0, 3, [0, 2]), (3, 5, [1]), (5, 6, [3])]  # touching windows do not merge
    rows = [{"k": "a", "ts": 10, "v": 1}, {"k": "a", "ts": 0, "v": None}, {"k": "a", "ts": 11, "v": 3}]
    r = ref.reference(rows, ref.tumbling(10), keys=("k",), time="ts", aggs=REF_AGGS, batch_size=1, bound=0)
    assert r.late == [rows[1]]  # window end 10 - 1 <= watermark 10 - 0 - 1
    assert r.results == {("a", 10, 20): {"n": 2, "nv": 2, "sum": 4, "min": 1, "max": 3, "mean": 2.0,
                                         "first": 1, "last": 3}}
    r = ref.reference(rows, ref.tumbling(10), keys=("k",), time="ts", aggs=REF_AGGS, batch_size=2, bound=0)
    assert r.late == [] and r.results[("a", 0, 10)]["n"] == 1 and r.results[("a", 0, 10)]["sum"] is None


@pytest.mark.parametrize("delta", [0, -1], ids=["at_threshold", "one_us_before"])
@pytest.mark.parametrize("kind", list(SPECS))
def test_lateness_threshold_is_exact(kind, delta):
    """A row is late exactly when its split's watermark reaches (last window end) - 1 µs +
    allowed lateness; one microsecond less and it is kept."""
    spec = SPECS[kind][1]
    t2 = BASE + 3 * ref.SECOND + 777
    last_end = max(end for _, end in spec.windows(t2))
    t1 = last_end - 1 + LATENESS + BOUND + 1 + delta  # watermark before the second batch - delta
    rows = [{"k": "a", "ts": t1, "v": 1}, {"k": "a", "ts": t2, "v": 2}]
    want = ref.reference(rows, spec, keys=("k",), time="ts", aggs=REF_AGGS, batch_size=1, bound=BOUND,
                         lateness=LATENESS)
    assert len(want.late) == (1 if delta == 0 else 0)
    t = pa.table({"k": ["a", "a"], "ts": pa.array([t1, t2], pa.timestamp("us")), "v": [1, 2]})
    res = (streaming_env(parallelism=1, batch_size=1).from_arrow(t, event_time="ts", max_out_of_orderness="2s")
           .key_by("k").window(SPECS[kind][0], allowed_lateness="5s").agg(rb_aggs()))
    late, late_records = run_job(res.late())
    assert late_multiset(late) == Counter((r["k"], r["ts"], r["v"]) for r in want.late)
    assert late_records == len(want.late)


@pytest.mark.parametrize("batch_size, late", [(2, 0), (1, 1)])
def test_rows_of_one_batch_do_not_see_each_other(batch_size, late):
    t = small_table(["a", "a"], [100, 0], [1, 2])
    res = (streaming_env(parallelism=1, batch_size=batch_size).from_arrow(t, event_time="ts")
           .key_by("k").window(rb.tumbling("10s")).agg(rb.count().alias("n")))
    with pytest.warns(rb.LateRowsWarning, match="1 late rows") if late else contextlib.nullcontext():
        out = res.collect(progress=False)
    assert sorted(out.column("n").to_pylist()) == [1] * (2 - late)
    assert res.late().collect(progress=False).num_rows == late


# Minimal reproductions of the engine bugs the golden tests hit.

def test_chunked_table_batches_follow_its_chunks():
    # In-memory input is passed on without copying: each chunk of the table is cut into
    # batches of at most batch_size rows, and batch boundaries never span chunks. So with two
    # one-row chunks, 0 s comes in a later batch than 100 s and is late (docs/streaming.md).
    t = pa.concat_tables([small_table(["a"], [100], [1]), small_table(["a"], [0], [2])])
    assert t.column("ts").num_chunks == 2
    res = (streaming_env(parallelism=1, batch_size=2).from_arrow(t, event_time="ts")
           .key_by("k").window(rb.tumbling("10s")).agg(rb.count().alias("n")))
    assert res.late().collect(progress=False).num_rows == 1


def test_session_fired_and_expired_by_one_watermark():
    # One batch: the watermark after it (9 s - 1 µs) passes [0 s, 2 s) by more than 5 s.
    t = small_table(["a", "a"], [0, 9], [1, 2])
    res = (streaming_env(parallelism=1).from_arrow(t, event_time="ts").key_by("k")
           .window(rb.session("2s"), allowed_lateness="5s").agg(rb.count().alias("n"), col("v").sum().alias("s")))
    got = final_rows(res.collect(progress=False), ("k",))
    assert got == {("a", BASE, BASE + 2 * ref.SECOND): {"n": 1, "s": 1},
                   ("a", BASE + 9 * ref.SECOND, BASE + 11 * ref.SECOND): {"n": 1, "s": 2}}


def test_session_merge_keeps_input_order_for_first_last():
    # Batch 1: (3 s, v=2) then (0 s, v=1) open two sessions; batch 2: (1.5 s, null) merges them.
    t = small_table(["a", "a", "a"], [3, 0, 1.5], [2, 1, None])
    res = (streaming_env(parallelism=1, batch_size=2).from_arrow(t, event_time="ts", max_out_of_orderness="2s")
           .key_by("k").window(rb.session("2s"))
           .agg(rb.count().alias("n"), col("v").first().alias("first"), col("v").last().alias("last")))
    got = final_rows(res.collect(progress=False), ("k",))
    assert got == {("a", BASE, BASE + 5 * ref.SECOND): {"n": 3, "first": 2, "last": 1}}


def test_non_keyed_late_update():
    # Batches of one row: 20 s fires [0 s, 10 s); 5 s is behind the watermark but within the lateness.
    t = small_table(["a", "a", "a"], [0, 20, 5], [1, 2, 3])
    res = (streaming_env(parallelism=1, batch_size=1).from_arrow(t, event_time="ts")
           .window(rb.tumbling("10s"), allowed_lateness="15s").agg(rb.count().alias("n")))
    got = final_rows(res.collect(progress=False), ())
    assert got == {(BASE - 123_457, BASE - 123_457 + 10 * ref.SECOND): {"n": 2},
                   (BASE - 123_457 + 20 * ref.SECOND, BASE - 123_457 + 30 * ref.SECOND): {"n": 1}}


def test_keyed_late_update_reemits():
    """The keyed counterpart of test_non_keyed_late_update: the window is emitted, then again updated."""
    t = small_table(["a", "a", "a"], [0, 20, 5], [1, 2, 3])
    res = (streaming_env(parallelism=1, batch_size=1).from_arrow(t, event_time="ts").key_by("k")
           .window(rb.tumbling("10s"), allowed_lateness="15s").agg(rb.count().alias("n")))
    out = res.collect(progress=False)
    w0 = BASE - 123_457
    assert sorted(zip(to_micros(out.column("window_start")), out.column("n").to_pylist())) == [
        (w0, 1), (w0, 2), (w0 + 20 * ref.SECOND, 1)]


@pytest.mark.parametrize("ts_type", [pa.timestamp("ms"), pa.timestamp("ns"), pa.timestamp("us", tz="UTC"),
                                     pa.int64()], ids=["ms", "ns", "us_utc", "int64_ms"])
def test_window_columns_typed_like_event_time(ts_type):
    """window_start / window_end take the type of the event-time column (int64: epoch ms)."""
    rows = [dict(r, ts=r["ts"] // 1000 * 1000) for r in ROWS]  # representable in every type
    if ts_type == pa.int64():
        ts = pa.array([r["ts"] // 1000 for r in rows], pa.int64())
    else:
        ts = pc.cast(pa.array([r["ts"] for r in rows], pa.timestamp("us")), ts_type)
    table = pa.table({"k": TABLE.column("k"), "ts": ts, "v": TABLE.column("v")})
    env = streaming_env(parallelism=2, batch_size=B)
    res = (env.from_arrow(table, event_time="ts", max_out_of_orderness="2s")
           .key_by("k").window(rb.tumbling("10s"), allowed_lateness="5s").agg(rb_aggs()))
    with pytest.warns(rb.LateRowsWarning, match="28 late rows"):
        results = res.collect(progress=False)
    assert results.schema.field("window_start").type == ts_type
    assert results.schema.field("window_end").type == ts_type
    want = ref.reference(rows, SPECS["tumbling"][1], keys=("k",), time="ts", aggs=REF_AGGS, batch_size=B,
                         bound=BOUND, lateness=LATENESS)
    assert_results_equal(final_rows(results, ("k",)), want.results)
    late = res.late().collect(progress=False)
    assert late.schema == table.schema
    assert late_multiset(late) == Counter((r["k"], r["ts"], r["v"]) for r in want.late)


# -- 2. the Nexmark generator against DuckDB ----------------------------------------------------

NEXMARK_EVENTS = 200_000


@pytest.fixture(scope="module")
def nexmark_expected():
    """DuckDB's 1 s tumbling GROUP BY over the bounded bids: {(auction, start_ms): (n, max price)}."""
    import duckdb

    bids = rb.nexmark(max_events=NEXMARK_EVENTS).bids().collect(progress=False)
    assert bids.num_rows > 150_000
    con = duckdb.connect()
    con.register("bids", bids)
    # (epoch_ms needs a plain TIMESTAMP: DuckDB cannot take it of a TIMESTAMP_MS column)
    rows = con.execute("""
        SELECT auction, (epoch_ms(date_time::TIMESTAMP) // 1000) * 1000 AS start_ms, count(*) AS n,
               max(price) AS mx
        FROM bids GROUP BY ALL""").fetchall()
    base_ms, last_ms = con.execute(
        "SELECT epoch_ms(min(date_time)::TIMESTAMP), epoch_ms(max(date_time)::TIMESTAMP) FROM bids").fetchone()
    con.close()
    return {(a, s): (n, mx) for a, s, n, mx in rows}, base_ms, last_ms


def nexmark_windows(results: pa.Table) -> dict[tuple[int, int], tuple[int, int]]:
    assert results.schema.field("window_start").type == pa.timestamp("ms")  # typed like date_time
    starts = pc.cast(results.column("window_start"), pa.int64()).to_pylist()
    ends = pc.cast(results.column("window_end"), pa.int64()).to_pylist()
    assert all(e - s == 1000 for s, e in zip(starts, ends))
    out = {}
    for a, s, n, mx in zip(results.column("auction").to_pylist(), starts, results.column("n").to_pylist(),
                           results.column("max_price").to_pylist()):
        assert (a, s) not in out, f"window emitted twice: {(a, s)}"  # no late data: one result each
        out[(a, s)] = (n, mx)
    return out


def nexmark_query(env: rb.Environment, max_events: int | None) -> rb.Stream:
    return (env.nexmark(max_events=max_events).bids()
            .key_by("auction").window(rb.tumbling("1s"))
            .agg(rb.count().alias("n"), col("price").max().alias("max_price")))


@pytest.mark.parametrize("p", [1, 4], ids=lambda p: f"p{p}")
def test_nexmark_bounded_matches_duckdb(p, nexmark_expected):
    want, _, _ = nexmark_expected
    got = nexmark_windows(nexmark_query(rb.Environment(parallelism=p), NEXMARK_EVENTS).collect(progress=False))
    assert got == want


@pytest.mark.parametrize("p", [1, 4], ids=lambda p: f"p{p}")
def test_nexmark_unbounded_matches_bounded(p, nexmark_expected):
    want, base_ms, last_ms = nexmark_expected
    horizon = base_ms + 2000  # every event before it is among the bounded events
    assert last_ms < horizon
    want = {w: v for w, v in want.items() if w[1] + 1000 <= horizon}
    stream = nexmark_query(rb.Environment(parallelism=p), None)
    job = stream.start()
    batches = []
    deadline = time.monotonic() + 30
    try:
        # A window ending a second after the horizon has fired: the watermark is past the
        # horizon, so every window ending at or before it has fired too.
        while time.monotonic() < deadline:
            b = next(job.results(timeout="30s", max_batches=1), None)
            assert b is not None, f"the job ended or stalled: {job.status}"
            batches.append(b)
            if max(pc.cast(b.column("window_end"), pa.int64()).to_pylist(), default=0) >= horizon + 1000:
                break
        else:
            pytest.fail("no window ending after the horizon within 30 s")
        job.stop(timeout="30s")
        batches += list(job.results(timeout="30s"))
        assert job.wait(timeout=30)
        assert job.status == "finished"
    finally:
        if job.status == "running":
            job.cancel()
    got = nexmark_windows(pa.Table.from_batches(batches, schema=job.schema))
    got = {w: v for w, v in got.items() if w[1] + 1000 <= horizon}
    assert got == want


# -- 3. processing time ---------------------------------------------------------------------------

@pytest.mark.parametrize("p", [1, 4], ids=lambda p: f"p{p}")
@pytest.mark.parametrize("keyed", [False, True], ids=["global", "keyed"])
def test_processing_time_smoke(p, keyed):
    env = rb.Environment(parallelism=p, batch_size=B)
    s = env.from_arrow(TABLE)  # no event time needed
    w = rb.tumbling("100ms", time="processing")
    res = (s.key_by("k").window(w) if keyed else s.window(w)).agg(rb.count().alias("n"))
    out = res.collect(progress=False)
    assert sum(out.column("n").to_pylist()) == TABLE.num_rows
    starts = pc.cast(out.column("window_start"), pa.int64()).to_pylist()
    ends = pc.cast(out.column("window_end"), pa.int64()).to_pylist()
    assert all(e - s == 100_000 and s % 100_000 == 0 for s, e in zip(starts, ends))
    if keyed:
        per_key = Counter()
        for k, n in zip(out.column("k").to_pylist(), out.column("n").to_pylist()):
            per_key[k] += n
        assert per_key == Counter(TABLE.column("k").to_pylist())


# -- 4. errors ------------------------------------------------------------------------------------

def test_window_without_event_time():
    s = rb.from_arrow(TABLE).key_by("k").window(rb.tumbling("10s")).agg(rb.count())
    with pytest.raises(rb.PlanError, match="event_time"):
        s.collect(progress=False)


def test_string_event_time_column():
    t = TABLE.append_column("s", pa.array(["x"] * TABLE.num_rows))
    with pytest.raises(rb.TypeMismatchError, match='"s"'):
        rb.from_arrow(t, event_time="s").key_by("k").window(rb.tumbling("10s")).agg(rb.count()).collect()


def test_unknown_window_duration_unit():
    s = rb.from_arrow(TABLE, event_time="ts").key_by("k").window(rb.tumbling("10x")).agg(rb.count())
    with pytest.raises(rb.PlanError, match="10x"):
        s.collect(progress=False)


def test_collect_on_unbounded_stream():
    with pytest.raises(rb.PlanError, match="unbounded"):
        rb.nexmark().bids().key_by("auction").window(rb.tumbling("1s")).agg(rb.count()).collect()


def test_group_by_on_unbounded_stream():
    # An unbounded group_by is an updating result (tests/test_changelog.py); it cannot be
    # collected.
    s = rb.nexmark().bids().group_by("auction").agg(rb.count())
    assert s.schema.names[-1] == "__op"
    with pytest.raises(rb.PlanError, match="unbounded"):
        s.collect()


# -- 5. the job API -----------------------------------------------------------------------------

def global_bid_counts(p: int = 2) -> rb.Stream:
    """An unbounded job with few results (one row per second of event time)."""
    return rb.Environment(parallelism=p).nexmark().bids().window(rb.tumbling("1s")).agg(rb.count().alias("n"))


def test_job_start_results_metrics_stop(nexmark_expected):
    want, base_ms, _ = nexmark_expected
    t0 = time.monotonic()
    job = global_bid_counts().start()
    assert time.monotonic() - t0 < 2
    try:
        assert job.status == "running"
        batches = list(job.results(timeout="30s", max_batches=2))
        assert len(batches) == 2
        for b in batches:
            assert isinstance(b, pa.RecordBatch)
            assert b.schema == job.schema
        first = pa.Table.from_batches(batches)
        first_start = pc.cast(first.column("window_start"), pa.int64())[0].as_py()
        assert first_start == base_ms
        assert first.column("n")[0].as_py() == sum(n for (a, s), (n, _) in want.items() if s == base_ms)

        m = job.metrics()
        assert isinstance(m, pa.Table)
        assert {"operator", "records_in", "records_out", "late_records", "windows_fired", "watermark"} <= set(
            m.column_names)
        ops = m.column("operator").to_pylist()
        assert "nexmark" in ops and "window_agg(tumbling)" in ops
        win = m.filter(pc.equal(m.column("operator"), "window_agg(tumbling)"))
        assert win.column("records_in")[0].as_py() > 0
        assert win.column("windows_fired")[0].as_py() >= 2
        assert win.column("watermark")[0].as_py() is not None

        job.stop(timeout="30s")
        assert job.status == "finished"
        rest = list(job.results(timeout="10s"))  # what was produced before the stop stays readable
        assert job.wait(timeout=10)
        assert all(isinstance(b, pa.RecordBatch) for b in rest)
    finally:
        if job.status == "running":
            job.cancel()


def window_records_in(job: rb.Job) -> int:
    m = job.metrics()
    return m.filter(pc.equal(m.column("operator"), "window_agg(tumbling)")).column("records_in")[0].as_py()


@pytest.mark.parametrize("drain", [True, False], ids=["drain", "no_drain"])
def test_stop_drain_fires_pending_windows(drain):
    """stop(drain=True) fires every pending window, so the counts add up to every row the
    window read; without drain the windows the watermark (4 s behind) has not passed are dropped."""
    job = global_bid_counts().start()
    try:
        first = next(job.results(timeout="30s", max_batches=1))
        job.stop(drain=drain, timeout="30s")
        assert job.status == "finished"
        out = pa.Table.from_batches([first, *job.results(timeout="10s")])
        assert job.wait(timeout=10)
    finally:
        if job.status == "running":
            job.cancel()
    ends = pc.cast(out.column("window_end"), pa.int64()).to_pylist()
    assert ends == sorted(ends) and len(set(ends)) == len(ends)
    assert all(b - a == 1_000 for a, b in zip(ends, ends[1:])), "a window is missing"
    total, seen = sum(out.column("n").to_pylist()), window_records_in(job)
    if drain:
        assert total == seen
    else:
        assert total < seen


def drain_until_done(job: rb.Job, seconds: float = 30) -> None:
    """Read (and drop) results until the job has ended."""
    deadline = time.monotonic() + seconds
    while job.status == "running" and time.monotonic() < deadline:
        try:
            for _ in job.results(timeout=0.5):
                pass
        except rb.RiverbedError:  # how the job ended is not what this clean-up checks
            pass


def fill_result_buffer(job: rb.Job) -> None:
    """Wait until the job is held up by unread results: result batches have reached the
    sink and no more arrive (the job's buffers, bounded in bytes, are full)."""
    deadline = time.monotonic() + 30
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        m = job.metrics()
        n = m.filter(pc.equal(m.column("operator"), "collect")).column("batches_in")[0].as_py()
        if n != last:
            last, since = n, time.monotonic()
        elif n > 1 and time.monotonic() - since > 1.0:
            return
        time.sleep(0.05)
    pytest.fail(f"the job did not stall on unread result batches in 30 s ({last} batches)")


def test_stop_with_unread_results_ends_the_job():
    job = nexmark_query(rb.Environment(parallelism=2), None).start()
    try:
        next(job.results(timeout="30s", max_batches=1))
        fill_result_buffer(job)
        job.stop(timeout="30s")
        assert job.status == "finished"
    finally:
        drain_until_done(job)


def test_cancel_with_unread_results_returns():
    job = nexmark_query(rb.Environment(parallelism=2), None).start()
    next(job.results(timeout="30s", max_batches=1))
    fill_result_buffer(job)
    job.cancel()
    assert job.status == "cancelled"
    assert list(job.results(timeout="1s")) == []


def test_cancel():
    job = nexmark_query(rb.Environment(parallelism=2), None).start()
    next(job.results(timeout="30s", max_batches=1))
    job.cancel()
    assert job.status == "cancelled"
    assert list(job.results(timeout="1s")) == []  # nothing more, and no error raised
    job.wait(timeout=1)


def failing_stream() -> rb.Stream:
    """A stream whose cast fails at run time, after the job has started."""
    t0 = 1_767_225_600_000  # 2026-01-01 in ms
    ts = pa.array([t0 + i * 100 for i in range(2000)], pa.timestamp("ms"))
    s = pa.array([str(i) if i < 1500 else "x" for i in range(2000)])
    table = pa.table({"k": pa.array([i % 3 for i in range(2000)]), "s": s, "ts": ts})
    return (streaming_env(parallelism=2, batch_size=100).from_arrow(table, event_time="ts")
            .with_columns(x=col("s").cast(rb.Int64))
            .key_by("k").window(rb.tumbling("1s")).agg(col("x").sum().alias("sx")))


def test_runtime_error_surfaces_on_results():
    job = failing_stream().start()
    got = []
    with pytest.raises(rb.DataError, match="cast"):
        for b in job.results(timeout="30s"):
            got.append(b)
    assert job.status == "failed"


def test_runtime_error_surfaces_on_wait():
    job = failing_stream().start()
    with pytest.raises(rb.DataError, match="cast"):
        job.wait(timeout=30)
    assert job.status == "failed"


@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_window_time_cascades(mode):
    """window(..., window_time=True): the results have window_time = window_end - 1 µs (of
    the microsecond event time), their event time, so a second window(...) over them
    windows by it; both equal DuckDB's windows by hand."""
    import datetime as dt

    from oracles import duck

    rnd = random.Random(5)
    t0 = dt.datetime(2026, 1, 1)
    n = 400
    t = pa.table({"k": pa.array([rnd.randrange(3) for _ in range(n)], pa.int64()),
                  "v": pa.array([rnd.randrange(100) for _ in range(n)], pa.int64()),
                  "ts": pa.array(sorted(t0 + dt.timedelta(microseconds=rnd.randrange(60_000_000)) for _ in range(n)),
                                 pa.timestamp("us"))})
    env = rb.Environment(parallelism=2, runtime_mode=mode)
    first = env.from_arrow(t, event_time="ts").key_by("k").window(rb.tumbling("5s"), window_time=True).agg(
        col("v").sum().alias("s5"))
    got1 = first.collect()
    assert got1.column_names == ["k", "window_start", "window_end", "window_time", "s5"]
    want1 = duck("""SELECT k, time_bucket(INTERVAL 5 SECOND, ts) AS window_start,
                           time_bucket(INTERVAL 5 SECOND, ts) + INTERVAL 5 SECOND AS window_end,
                           time_bucket(INTERVAL 5 SECOND, ts) + INTERVAL 5 SECOND
                             - INTERVAL 1 MICROSECOND AS window_time,
                           SUM(v) AS s5 FROM t GROUP BY ALL""", t=t)
    assert sorted(got1.to_pylist(), key=str) == sorted(want1.to_pylist(), key=str)
    got2 = first.key_by("k").window(rb.tumbling("10s")).agg(
        col("s5").sum().alias("total"), rb.count().alias("parts")).collect()
    want2 = duck("""SELECT k, time_bucket(INTERVAL 10 SECOND, ts) AS window_start,
                           time_bucket(INTERVAL 10 SECOND, ts) + INTERVAL 10 SECOND AS window_end,
                           SUM(v) AS total, COUNT(DISTINCT time_bucket(INTERVAL 5 SECOND, ts)) AS parts
                    FROM t GROUP BY ALL""", t=t)
    assert got2.num_rows > 10 and any(r["parts"] == 2 for r in got2.to_pylist())
    assert sorted(got2.to_pylist(), key=str) == sorted(want2.to_pylist(), key=str)
    with pytest.raises(ValueError, match="window_time=True is an option of window"):
        env.from_arrow(t, event_time="ts").window(rb.tumbling("5s"), window_time=True).top_n(1, "v")


@pytest.mark.parametrize("unit,window,what", [
    ("s", rb.tumbling("500ms"), "size"), ("s", rb.session("1500ms"), "gap"),
    ("ms", rb.tumbling("5s", offset="1234us"), "offset"), ("s", rb.sliding("10s", every="2500ms"), "every"),
])
def test_window_finer_than_the_time_column_unit_is_refused(unit, window, what):
    # Its bounds could not be written in the column's type (window_end came out equal to
    # window_start, or before the row it holds).
    t = pa.table({"ts": pa.array([0, 1, 2], pa.timestamp(unit)), "k": [1, 1, 2]})
    src = rb.from_arrow(t, event_time="ts")
    with pytest.raises(rb.PlanError, match=f"window's {what} .* is not a whole number of"):
        src.key_by("k").window(window).agg(rb.count().alias("n")).collect()
    with pytest.raises(rb.PlanError, match="is not a whole number of"):
        src.window(rb.tumbling("1500ms" if unit == "s" else "1500us")).top_n(1, "k").collect()
    dates = rb.from_arrow(pa.table({"d": pa.array([0, 1], pa.date32())}), event_time="d")
    with pytest.raises(rb.PlanError, match="not a whole number of days"):
        dates.window(rb.tumbling("12h")).agg(rb.count().alias("n")).collect()
    # A whole number of the unit is taken, and its windows are exact.
    out = src.window(rb.tumbling("2s")).agg(rb.count().alias("n")).collect()
    assert [r["n"] for r in out.to_pylist()] == [2, 1] if unit == "s" else [3]


@pytest.mark.parametrize("offset", ["-7s", "3s", "13s", "neg-timedelta"])
@pytest.mark.parametrize("kind", ["tumbling", "sliding"])
def test_window_offsets_may_be_negative(offset, kind):
    # As Flink's (Time.hours(-8) for days of UTC+8): windows start at offset + k * size
    # (sliding: + k * every) for every integer k, so -7s, 3s and 13s give the same windows
    # of 10s. A negative offset was refused as an invalid duration. Oracle: plain Python.
    import datetime as dt

    off_s = {"-7s": -7, "3s": 3, "13s": 13, "neg-timedelta": -7}[offset]
    off = dt.timedelta(seconds=-7) if offset == "neg-timedelta" else offset
    rng = random.Random(5)
    secs = [rng.randrange(-100, 100) for _ in range(300)]
    t = pa.table({"ts": pa.array([s * 1_000_000 for s in secs], pa.timestamp("us"))})
    size, every = 10, 4
    w = rb.tumbling("10s", offset=off) if kind == "tumbling" else rb.sliding("10s", every="4s", offset=off)
    out = rb.from_arrow(t, event_time="ts").window(w).agg(rb.count().alias("n")).collect()
    epoch = dt.datetime(1970, 1, 1)
    sec = lambda d: int((d - epoch).total_seconds())  # noqa: E731
    got = Counter({(sec(r["window_start"]), sec(r["window_end"])): r["n"] for r in out.to_pylist()})
    want: Counter = Counter()
    for s in secs:
        step = size if kind == "tumbling" else every
        last = (s - off_s) // step * step + off_s
        for start in range(last, s - size, -step):
            want[(start, start + size)] += 1
    assert got == want


@pytest.mark.parametrize("win", ["tumbling", "sliding"])
def test_a_late_row_that_opens_a_window_fires_it_at_once(win):
    # Within allowed lateness, a row for a window the watermark has passed, which had no
    # row yet, waited for the next watermark to be emitted: with a live source that then
    # stalls, never. Flink's trigger fires on such an element.
    import datetime as dt
    import threading
    t0 = dt.datetime(2026, 1, 1)
    schema = pa.schema([("k", pa.string()), ("ts", pa.timestamp("us"))])
    release = threading.Event()

    def gen():
        for k, s in [("a", 5.0), ("b", 0.0)]:
            yield pa.record_batch([pa.array([k]), pa.array([t0 + dt.timedelta(seconds=s)], pa.timestamp("us"))],
                                  schema=schema)
        release.wait(30)  # a live source with nothing more for now

    window = rb.tumbling("1s") if win == "tumbling" else rb.sliding("2s", "1s")
    src = rb.Environment(parallelism=1, batch_size=1).from_arrow(
        pa.RecordBatchReader.from_batches(schema, gen()), event_time="ts", bounded=False)
    job = src.key_by("k").window(window, allowed_lateness="10s").agg(rb.count().alias("n")).start()
    try:
        got = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(r["k"] == "b" for r in got):
            got += [r for b in job.results(timeout=0.2) for r in b.to_pylist()]
        # Windows of b@0 whose end the watermark (5s) has passed: [0,1) ([-1,1), [0,2) sliding).
        want = {("b", (t0 + dt.timedelta(seconds=s)), 1) for s in ([0] if win == "tumbling" else [-1, 0])}
        assert {(r["k"], r["window_start"], r["n"]) for r in got if r["k"] == "b"} == want
    finally:
        release.set()
        job.cancel()
