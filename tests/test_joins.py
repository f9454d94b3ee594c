"""Joins, dedup and top-N against plain-Python references, from memory and Parquet, at
parallelism 1 and 4."""

import datetime as dt
import random
import warnings

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import riverbed as rb

T0 = dt.datetime(2026, 1, 1)


def ts(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def make_side(seed: int, n: int, name: str) -> pa.Table:
    """Rows in event-time order (no lateness), with a few keys and a null key."""
    rng = random.Random(seed)
    t = 0.0
    rows = []
    for i in range(n):
        t += rng.choice([0.0, 0.2, 0.5, 1.0, 1.5])
        k = rng.choice([1, 2, 3, 4, None])
        rows.append({"k": k, name: i, "ts": ts(t)})
    return pa.Table.from_pylist(rows, schema=pa.schema([("k", pa.int64()), (name, pa.int64()),
                                                        ("ts", pa.timestamp("us"))]))


@pytest.fixture(params=["memory", "parquet"])
def source(request, tmp_path):
    def make(env, table, name):
        if request.param == "memory":
            return env.from_arrow(table, event_time="ts")
        path = tmp_path / f"{name}.parquet"
        pq.write_table(table, path, row_group_size=50)
        return env.read_parquet(path, event_time="ts")
    return make


@pytest.fixture(params=[1, 4])
def env(request):
    return rb.Environment(parallelism=request.param, batch_size=50)


def pairs_key(rows, *cols):
    return sorted(tuple(r[c] for c in cols) for r in rows)


def test_window_join(env, source):
    left, right = make_side(1, 300, "a"), make_side(2, 250, "b")
    out = source(env, left, "l").join_window(source(env, right, "r"), on="k", window=rb.tumbling("10s")).collect()
    want = []
    for lr in left.to_pylist():
        for rr in right.to_pylist():
            if lr["k"] is not None and lr["k"] == rr["k"]:
                w = int((lr["ts"] - T0).total_seconds() // 10)
                if w == int((rr["ts"] - T0).total_seconds() // 10):
                    want.append({"a": lr["a"], "b": rr["b"], "window_start": ts(w * 10)})
    assert pairs_key(out.to_pylist(), "a", "b", "window_start") == pairs_key(want, "a", "b", "window_start")
    assert out.column_names == ["k", "a", "ts", "b", "ts_right", "window_start", "window_end"]


def test_interval_join(env, source):
    left, right = make_side(3, 300, "a"), make_side(4, 300, "b")
    out = source(env, left, "l").join_interval(source(env, right, "r"), on="k", lower="-2s", upper="3s").collect()
    want = [{"a": lr["a"], "b": rr["b"]}
            for lr in left.to_pylist() for rr in right.to_pylist()
            if lr["k"] is not None and lr["k"] == rr["k"]
            and lr["ts"] - dt.timedelta(seconds=2) <= rr["ts"] <= lr["ts"] + dt.timedelta(seconds=3)]
    assert pairs_key(out.to_pylist(), "a", "b") == pairs_key(want, "a", "b")


def test_asof_join(env, source):
    left, right = make_side(5, 300, "a"), make_side(6, 200, "b")
    out = source(env, left, "l").join_asof(source(env, right, "r"), by="k").collect()
    rights = right.to_pylist()
    want = []
    for lr in left.to_pylist():
        match = None
        for rr in rights:  # rows are in time order: the last one at or before wins
            if lr["k"] is not None and rr["k"] == lr["k"] and rr["ts"] <= lr["ts"]:
                match = rr["b"]
        want.append((lr["a"], match))
    got = sorted((r["a"], r["b"]) for r in out.to_pylist())
    assert got == sorted(want, key=lambda p: p[0])


@pytest.mark.parametrize("strategy", ["backward", "forward", "nearest"])
@pytest.mark.parametrize("tolerance", [None, "1s"])
@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_asof_join_equals_polars(env, strategy, tolerance, mode):
    pl = pytest.importorskip("polars")
    # Distinct times per key on the right (Polars' choice among equal times is not
    # specified), keys with nulls, and left rows before, between and after right rows.
    rng = random.Random(11)
    left = make_side(8, 300, "a")
    rrows = []
    for k in (1, 2, 3, None):
        times = sorted(rng.sample(range(0, 3000), 60))
        rrows += [{"k": k, "b": len(rrows) + i, "ts": ts(t / 10)} for i, t in enumerate(times)]
    rrows.sort(key=lambda r: r["ts"])
    right = pa.Table.from_pylist(rrows, schema=pa.schema([("k", pa.int64()), ("b", pa.int64()),
                                                          ("ts", pa.timestamp("us"))]))
    out = (env.from_arrow(left, event_time="ts")
           .join_asof(env.from_arrow(right, event_time="ts"), on="ts", by="k", strategy=strategy,
                      tolerance=tolerance)
           .collect(runtime_mode=mode))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Polars cannot check sortedness within by groups
        want = pl.from_arrow(left).join_asof(pl.from_arrow(right), on="ts", by="k", strategy=strategy,
                                             tolerance=tolerance).to_arrow()
    assert out.column_names == want.column_names
    got = sorted((r["a"], r["b"]) for r in out.to_pylist())
    assert got == sorted((r["a"], r["b"]) for r in want.to_pylist())


@pytest.mark.parametrize("strategy", ["backward", "forward", "nearest"])
@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_asof_join_of_right_rows_with_equal_times_equals_polars(strategy, mode):
    # Several right rows share a time (in input order): backward and nearest take the
    # last of them, forward the first, as Polars does; nearest's ties between a row
    # behind and one ahead take the one ahead. Oracle: Polars.
    pl = pytest.importorskip("polars")
    rng = random.Random(7)
    lts = sorted(rng.randrange(60) for _ in range(300))
    left = pa.table({"ts": pa.array([ts(t) for t in lts], pa.timestamp("us")),
                     "a": pa.array(range(300), pa.int64())})
    rts = sorted(rng.randrange(0, 60, 3) for _ in range(80))
    right = pa.table({"ts": pa.array([ts(t) for t in rts], pa.timestamp("us")),
                      "b": pa.array(range(80), pa.int64())})
    for p in (1, 2):
        env = rb.Environment(parallelism=p)
        out = (env.from_arrow(left, event_time="ts")
               .join_asof(env.from_arrow(right, event_time="ts"), on="ts", strategy=strategy)
               .collect(runtime_mode=mode))
        want = pl.from_arrow(left).join_asof(pl.from_arrow(right), on="ts", strategy=strategy).to_arrow()
        assert sorted((r["a"], r["b"]) for r in out.to_pylist()) == sorted((r["a"], r["b"]) for r in want.to_pylist())


@pytest.mark.parametrize("strategy", ["backward", "forward", "nearest"])
def test_asof_join_keeps_left_rows_of_a_null_time(strategy):
    # A null time matches nothing: the left row is in the result with nulls (it was
    # dropped as late), a right row is no candidate. Oracle: Polars.
    pl = pytest.importorskip("polars")
    rng = random.Random(4)
    left = pa.table({"ts": pa.array([None if rng.random() < 0.2 else ts(rng.randrange(100)) for _ in range(200)],
                                    pa.timestamp("us")),
                     "k": pa.array([rng.randrange(3) for _ in range(200)], pa.int64()),
                     "a": pa.array(range(200), pa.int64())})
    rts = sorted(rng.sample(range(100), 40))
    right = pa.table({"ts": pa.array([None if i % 9 == 0 else ts(t) for i, t in enumerate(rts)], pa.timestamp("us")),
                      "k": pa.array([i % 3 for i in range(40)], pa.int64()),
                      "b": pa.array(range(40), pa.int64())})
    for p in (1, 3):
        env = rb.Environment(parallelism=p)
        with warnings.catch_warnings():
            warnings.simplefilter("error", rb.LateRowsWarning)  # nothing is late in batch mode
            out = env.from_arrow(left).join_asof(env.from_arrow(right), on="ts", by="k", strategy=strategy).collect()
        want = pl.from_arrow(left).sort("ts").join_asof(pl.from_arrow(right).drop_nulls("ts").sort("ts"), on="ts",
                                                         by="k", strategy=strategy, check_sortedness=False).to_arrow()
        assert sorted((r["a"], r["b"]) for r in out.to_pylist()) == sorted((r["a"], r["b"]) for r in want.to_pylist())


def test_asof_join_on_other_columns_in_batch_mode_and_old_spelling(env):
    left = pa.table({"t1": pa.array([dt.date(2024, 1, d) for d in (2, 5, 9)]), "k": [1, 1, 2], "x": [0, 1, 2]})
    right = pa.table({"t2": pa.array([dt.date(2024, 1, d) for d in (1, 5, 8)]), "k": [1, 1, 2], "y": [7, 8, 9]})
    out = env.from_arrow(left).join_asof(env.from_arrow(right), left_on="t1", right_on="t2", by="k").sort("x").collect()
    assert out.column_names == ["t1", "k", "x", "t2", "y"]
    assert out["y"].to_pylist() == [7, 8, 9]
    # No key: every row is one key.
    out = env.from_arrow(left).join_asof(env.from_arrow(right), left_on="t1", right_on="t2").sort("x").collect()
    assert out["y"].to_pylist() == [7, 8, 9]
    with pytest.raises(rb.PlanError, match=r'on= names the time column .* write join_asof\(other, on="ts", by="k"\)'):
        env.from_arrow(left.append_column("ts", pa.array([ts(0)] * 3)), event_time="ts") \
            .join_asof(env.from_arrow(right.append_column("ts", pa.array([ts(0)] * 3)), event_time="ts"), on="k") \
            .collect()
    with pytest.raises(rb.PlanError, match=r"in streaming mode an as-of join reads time from its inputs' event time"):
        env.from_arrow(left).join_asof(env.from_arrow(right), left_on="t1", right_on="t2").collect(
            runtime_mode="streaming")
    with pytest.raises(ValueError, match="strategy"):
        env.from_arrow(left).join_asof(env.from_arrow(right), on="t1", strategy="closest")


def test_dedup(env, source):
    t = make_side(7, 400, "a")
    out = source(env, t, "d").deduplicate("k", within="5s").collect()
    kept, want = {}, []
    # First per key in event-time order (ties: input order).
    for r in sorted(t.to_pylist(), key=lambda r: r["ts"]):
        k = r["k"]
        if k not in kept or (r["ts"] - kept[k]).total_seconds() >= 5:
            kept[k] = r["ts"]
            want.append(r["a"])
    assert sorted(out["a"].to_pylist()) == sorted(want)


def test_top_n_per_window_and_key(env, source):
    t = make_side(8, 400, "a")
    out = source(env, t, "t").key_by("k").window(rb.tumbling("20s")).top_n(2, "a").collect()
    groups = {}
    for r in t.to_pylist():
        groups.setdefault((r["k"], int((r["ts"] - T0).total_seconds() // 20)), []).append(r["a"])
    want = sorted((-1 if k is None else k, w, a, rank + 1) for (k, w), vals in groups.items()
                  for rank, a in enumerate(sorted(vals, reverse=True)[:2]))
    got = sorted((-1 if r["k"] is None else r["k"], int((r["window_start"] - T0).total_seconds() // 20), r["a"],
                  r["rank"]) for r in out.to_pylist())
    assert got == want


def test_top_n_of_window_results(env):
    """Nexmark q5 shape: per window, the auction with the most bids."""
    bids = env.nexmark(max_events=60_000).bids()
    counts = bids.key_by("auction").window(rb.tumbling("100ms")).agg(rb.count().alias("num"))
    out = counts.top_n(1, "num").collect()
    all_counts = rb.nexmark(max_events=60_000).bids().key_by("auction").window(rb.tumbling("100ms")).agg(
        rb.count().alias("num")).collect().to_pylist()
    best = {}
    for r in all_counts:
        best[r["window_start"]] = max(best.get(r["window_start"], 0), r["num"])
    got = {r["window_start"]: r["num"] for r in out.to_pylist()}
    assert got == best
    assert set(out["rank"].to_pylist()) == {1}


def test_join_errors():
    a = rb.from_pydict({"k": [1], "ts": [T0]}, event_time="ts")
    b = rb.from_pydict({"k": ["x"], "ts": [T0]}, event_time="ts")
    with pytest.raises(rb.TypeMismatchError, match="cannot join"):
        a.join_interval(b, on="k", lower="0s", upper="1s").collect()
    c = rb.from_pydict({"k": [1]})
    with pytest.raises(rb.PlanError, match="right input has no event time"):
        a.join_asof(c, by="k").collect()
    with pytest.raises(rb.PlanError, match="lower bound"):
        a.join_interval(a, on="k", lower="5s", upper="1s").collect()
    with pytest.raises(rb.ColumnNotFoundError, match='no column "kk"'):
        a.join_window(a, on="kk", window=rb.tumbling("1s")).collect()


# The same operators over the Nexmark generator, against DuckDB / plain Python on the
# generated rows.

N_EVENTS = 40_000


@pytest.fixture(scope="module")
def nexmark_tables():
    nx = rb.nexmark(max_events=N_EVENTS)
    return nx.bids().collect(progress=False), nx.auctions().collect(progress=False)


@pytest.mark.parametrize("p", [1, 4])
def test_generator_window_join_matches_duckdb(p, nexmark_tables):
    import duckdb

    bids, auctions = nexmark_tables
    env = rb.Environment(parallelism=p, batch_size=5000)
    nx = env.nexmark(max_events=N_EVENTS)
    out = nx.bids().join_window(nx.auctions(), left_on="auction", right_on="id",
                                window=rb.tumbling("50ms")).collect(progress=False)
    want = duckdb.sql("""
        select b.auction, b.bidder, b.price, b.date_time from bids b join auctions a
          on b.auction = a.id
         and epoch_ms(b.date_time::timestamp) // 50 = epoch_ms(a.date_time::timestamp) // 50""").fetchall()
    got = sorted(zip(out["auction"].to_pylist(), out["bidder"].to_pylist(), out["price"].to_pylist(),
                     out["date_time"].to_pylist()))
    assert len(got) > 100
    assert got == sorted(want)


@pytest.mark.parametrize("p", [1, 4])
def test_generator_dedup_matches_reference(p, nexmark_tables):
    bids, _ = nexmark_tables
    out = rb.Environment(parallelism=p, batch_size=5000).nexmark(max_events=N_EVENTS).bids() \
        .deduplicate("bidder", within="20ms").collect(progress=False)
    kept, want = {}, []
    # Generated rows come in event-id order, which is event-time order.
    for r in bids.select(["bidder", "date_time", "price"]).to_pylist():
        t = r["date_time"]
        if r["bidder"] not in kept or (t - kept[r["bidder"]]).total_seconds() >= 0.02:
            kept[r["bidder"]] = t
            want.append((r["bidder"], t, r["price"]))
    got = sorted(zip(out["bidder"].to_pylist(), out["date_time"].to_pylist(), out["price"].to_pylist()))
    assert got == sorted(want)


def late_side(seed: int, n: int, name: str, batch: int, bound_s: float):
    """Rows mostly in time order, some out of order within the bound, and a few far behind
    (late). Returns the table and the set of late row values (the split rule: a row is late
    when its time is at or below the watermark before its batch)."""
    rng = random.Random(seed)
    rows, t = [], 0.0
    for i in range(n):
        t += rng.choice([0.1, 0.3, 0.5])
        when = t
        if i % 17 == 5:
            when = t - rng.uniform(0.1, bound_s * 0.9)  # out of order, not late
        if i % 23 == 11 and i > 2 * batch:
            when = t - bound_s - 3                     # late
        rows.append({"k": rng.choice([1, 2, 3]), name: i, "ts": ts(when)})
    late, top = set(), None
    for b in range(0, n, batch):
        wm = None if top is None else top - dt.timedelta(seconds=bound_s, microseconds=1)
        for r in rows[b:b + batch]:
            if wm is not None and r["ts"] <= wm:
                late.add(r[name])
        batch_max = max(r["ts"] for r in rows[b:b + batch])
        top = batch_max if top is None else max(top, batch_max)
    table = pa.Table.from_pylist(rows, schema=pa.schema([("k", pa.int64()), (name, pa.int64()),
                                                         ("ts", pa.timestamp("us"))]))
    return table, late


@pytest.mark.parametrize("p", [1, 4])
def test_interval_and_asof_joins_drop_late_rows(p):
    batch = 10
    left, late_l = late_side(11, 300, "a", batch, 1.0)
    right, late_r = late_side(12, 300, "b", batch, 1.0)
    assert late_l and late_r
    env = rb.Environment(parallelism=p, batch_size=batch, runtime_mode="streaming")

    def streams():
        return (env.from_arrow(left, event_time="ts", max_out_of_orderness="1s"),
                env.from_arrow(right, event_time="ts", max_out_of_orderness="1s"))

    lrows = [r for r in left.to_pylist() if r["a"] not in late_l]
    rrows = [r for r in right.to_pylist() if r["b"] not in late_r]

    ls, rs = streams()
    job = ls.join_interval(rs, on="k", lower="-1s", upper="1s").start()
    got = sorted((r["a"], r["b"]) for b in job.results(timeout="60s") for r in b.to_pylist())
    late_count = sum(m["late_records"] for m in job.metrics(as_dict=True))
    want = sorted((lr["a"], rr["b"]) for lr in lrows for rr in rrows
                  if lr["k"] == rr["k"] and abs((rr["ts"] - lr["ts"]).total_seconds()) <= 1.0)
    assert got == want
    assert late_count == len(late_l) + len(late_r)

    ls, rs = streams()
    with pytest.warns(rb.LateRowsWarning, match=f"{len(late_l) + len(late_r)} late rows") as warned:
        out = ls.join_asof(rs, by="k").collect(progress=False)
    assert [w.filename for w in warned] == [__file__]  # the warning points at the caller's line
    want_asof = []
    for lr in lrows:
        best = None
        for rr in sorted(rrows, key=lambda r: r["ts"]):  # stable: input order breaks ties
            if rr["k"] == lr["k"] and rr["ts"] <= lr["ts"]:
                best = rr["b"]
        want_asof.append((lr["a"], best))
    assert sorted((r["a"], r["b"]) for r in out.to_pylist()) == sorted(want_asof, key=lambda x: x[0])


def test_interval_join_holds_back_its_watermark_for_pairs_behind_it():
    """A pair carries its left row's time, which is up to ``upper`` behind a right row still
    to come: the join's output watermark stays that far back, so a window after the join
    counts every pair (none is late). The right side waits until the left side is read and
    its watermark has passed the left rows, so without the hold-back the pair is late."""
    import threading
    import time

    schema = pa.schema([("k", pa.int64()), ("ts", pa.timestamp("us"))])
    left_done = threading.Event()

    def left():
        yield pa.record_batch([pa.array([1]), pa.array([ts(8.5)], pa.timestamp("us"))], schema=schema)
        yield pa.record_batch([pa.array([2]), pa.array([ts(10)], pa.timestamp("us"))], schema=schema)
        left_done.set()

    def right():
        yield pa.record_batch([pa.array([3]), pa.array([ts(9.9)], pa.timestamp("us"))], schema=schema)
        left_done.wait(10)
        time.sleep(0.3)
        yield pa.record_batch([pa.array([1]), pa.array([ts(10)], pa.timestamp("us"))], schema=schema)

    env = rb.Environment(parallelism=1, runtime_mode="streaming")
    ls = env.from_arrow(pa.RecordBatchReader.from_batches(schema, left()), event_time="ts")
    rs = env.from_arrow(pa.RecordBatchReader.from_batches(schema, right()), event_time="ts")
    joined = ls.join_interval(rs, on="k", lower="-1s", upper="2s")
    with warnings.catch_warnings():
        warnings.simplefilter("error", rb.LateRowsWarning)
        out = joined.key_by("k").window(rb.tumbling("1s")).agg(rb.count().alias("n")).collect(progress=False)
    # The one pair: left (k=1, 8.5 s) with right (k=1, 10 s), in the window [8 s, 9 s).
    assert out.select(["k", "window_start", "n"]).to_pylist() == [{"k": 1, "window_start": ts(8), "n": 1}]
