"""Aggregations over frames of preceding rows or time (``expr.over(..., rows=, range=)``, SQL's
``OVER (... ROWS|RANGE BETWEEN ... PRECEDING AND CURRENT ROW)``): bounded results equal DuckDB's
window functions on the same rows; the same pipeline over an unbounded input (released by the
watermark, on several subtasks) gives the same rows; late rows are dropped and counted."""
from __future__ import annotations

import datetime as dt
import math
import random

import pyarrow as pa
import pytest

import riverbed as rb
from oracles import duck
from riverbed import col

duckdb = pytest.importorskip("duckdb")

T0 = dt.datetime(2026, 1, 1)


def _norm(v: object) -> object:
    if isinstance(v, float):
        return None if math.isnan(v) else float(f"{v:.9g}")
    return v


def _rows(t: pa.Table, cols: list[str]) -> list[tuple[object, ...]]:
    out = [tuple(_norm(r[c]) for c in cols) for r in t.to_pylist()]
    return sorted(out, key=lambda r: tuple((v is None, v if v is not None else 0) for v in r))


_duck = duck


@pytest.fixture(scope="module")
def events() -> pa.Table:
    """Events in time order (seconds, many equal times), a unique input position seq, an
    integer order column o with ties, NULL values and a NULL key."""
    rnd = random.Random(5)
    n = 800
    secs, s = [], 0
    for _ in range(n):
        s += rnd.choice([0, 0, 1, 2, 5, 9])
        secs.append(s)
    return pa.table({
        "k": pa.array([None if rnd.random() < 0.05 else rnd.choice("abcde") for _ in range(n)], pa.string()),
        "ts": pa.array([T0 + dt.timedelta(seconds=x) for x in secs], pa.timestamp("ms")),
        "seq": pa.array(range(n), pa.int64()),
        "o": pa.array([rnd.randrange(120) for _ in range(n)], pa.int64()),
        "v": pa.array([None if rnd.random() < 0.1 else rnd.randrange(-20, 100) for _ in range(n)], pa.int64()),
        "x": pa.array([None if rnd.random() < 0.1 else rnd.randrange(4000) / 8 for _ in range(n)], pa.float64()),
    })


# Each: riverbed expression, DuckDB's (ROWS frames order ties by seq, the input order).
FRAMES = [
    (col("v").sum().over("k", order_by="ts", rows=3), "SUM(v) OVER (PARTITION BY k ORDER BY ts, seq ROWS 3 PRECEDING)"),
    (rb.count().over("k", order_by="ts", rows=5), "COUNT(*) OVER (PARTITION BY k ORDER BY ts, seq ROWS 5 PRECEDING)"),
    (col("x").max().over("k", order_by="ts", rows=0), "MAX(x) OVER (PARTITION BY k ORDER BY ts, seq ROWS CURRENT ROW)"),
    (col("x").mean().over("k", order_by="ts", rows="unbounded"),
     "AVG(x) OVER (PARTITION BY k ORDER BY ts, seq ROWS UNBOUNDED PRECEDING)"),
    (col("v").min().over("k", order_by="ts", range="10s"),
     "MIN(v) OVER (PARTITION BY k ORDER BY ts RANGE BETWEEN INTERVAL 10 SECOND PRECEDING AND CURRENT ROW)"),
    (col("x").sum().over("k", order_by="ts", range="30s"),
     "SUM(x) OVER (PARTITION BY k ORDER BY ts RANGE BETWEEN INTERVAL 30 SECOND PRECEDING AND CURRENT ROW)"),
    (col("v").count().over("k", order_by="ts", range="0s"),
     "COUNT(v) OVER (PARTITION BY k ORDER BY ts RANGE BETWEEN CURRENT ROW AND CURRENT ROW)"),
    (col("v").mean().over("k", order_by="ts", range="unbounded"),
     "AVG(v) OVER (PARTITION BY k ORDER BY ts RANGE UNBOUNDED PRECEDING)"),
    (col("x").max().over("k", order_by="ts", range="unbounded"),
     "MAX(x) OVER (PARTITION BY k ORDER BY ts RANGE UNBOUNDED PRECEDING)"),
]


def _with_frames(s: rb.Stream) -> rb.Stream:
    return s.with_columns(*(e.alias(f"f{i}") for i, (e, _) in enumerate(FRAMES)))


def _duck_frames(t: pa.Table) -> pa.Table:
    aggs = ", ".join(f"{q} AS f{i}" for i, (_, q) in enumerate(FRAMES))
    return _duck(f"SELECT *, {aggs} FROM t", t=t)


COLS = ["seq"] + [f"f{i}" for i in range(len(FRAMES))]


def test_frames_equal_duckdb(events: pa.Table) -> None:
    """Bounded input (no event time): every frame kind equals DuckDB's, on all subtasks."""
    got = _with_frames(rb.Environment(parallelism=4).from_arrow(events)).collect()
    assert got.num_rows == events.num_rows
    assert got.column_names == events.column_names + [f"f{i}" for i in range(len(FRAMES))]
    assert _rows(got, COLS) == _rows(_duck_frames(events), COLS)


def test_range_over_integer_column_and_mixed_functions(events: pa.Table) -> None:
    """range= a number over an integer column; frames mixed with other window functions (computed
    together on bounded input) and of two partitionings; DuckDB's answers."""
    got = rb.from_arrow(events).with_columns(
        col("v").sum().over("k", order_by="o", range=7).alias("a"),
        col("x").min().over("k", order_by="o", range="unbounded").alias("b"),
        col("v").max().over(order_by="o", range=0).alias("c"),
        col("v").cum_sum().over("k", order_by="seq").alias("d"),
    ).collect()
    want = _duck("""SELECT seq,
        SUM(v) OVER (PARTITION BY k ORDER BY o RANGE BETWEEN 7 PRECEDING AND CURRENT ROW) AS a,
        MIN(x) OVER (PARTITION BY k ORDER BY o) AS b,
        MAX(v) OVER (ORDER BY o RANGE CURRENT ROW) AS c,
        SUM(v) OVER (PARTITION BY k ORDER BY seq ROWS UNBOUNDED PRECEDING) AS d FROM t""", t=events)
    # cum_sum leaves a NULL row NULL (Polars); DuckDB gives the sum so far: compare where v is set
    cols = ["seq", "a", "b", "c"]
    assert _rows(got, cols) == _rows(want, cols)
    d_got = {r["seq"]: r["d"] for r in got.to_pylist() if r["v"] is not None}
    d_want = {r["seq"]: r["d"] for r in want.to_pylist() if r["seq"] in d_got}
    assert d_got == d_want


def _unbounded(t: pa.Table, chunk: int = 37, **kw: object) -> rb.Stream:
    reader = pa.RecordBatchReader.from_batches(t.schema, iter(t.to_batches(max_chunksize=chunk)))
    return rb.Environment(parallelism=4).from_arrow(reader, event_time="ts", bounded=False, **kw)


def test_streaming_equals_bounded(events: pa.Table) -> None:
    """The same pipeline over an unbounded input (rows released as the watermark passes, on
    four subtasks) gives the bounded run's rows, which are DuckDB's; none is late."""
    bounded = _with_frames(rb.from_arrow(events, event_time="ts")).collect()
    job = _with_frames(_unbounded(events)).start()
    batches = list(job.results(timeout="60s"))
    assert job.wait(timeout=60) and job.status == "finished"
    streamed = pa.Table.from_batches(batches, schema=job.schema)
    assert sum(job.metrics().column("late_records").to_pylist()) == 0
    assert _rows(streamed, COLS) == _rows(bounded, COLS) == _rows(_duck_frames(events), COLS)


def test_late_rows_are_dropped_and_counted(events: pa.Table) -> None:
    """Rows behind the watermark on arrival are dropped and counted as late; the others get
    DuckDB's answers over the rows that were not late."""
    base = events.slice(0, 300)
    late_ts = base["ts"][10].as_py()  # long behind the last batch's times
    late = pa.table({"k": ["a", "b", None], "ts": pa.array([late_ts] * 3, pa.timestamp("ms")),
                     "seq": pa.array([1000, 1001, 1002], pa.int64()), "o": pa.array([0, 0, 0], pa.int64()),
                     "v": pa.array([1, 2, 3], pa.int64()), "x": pa.array([1.0, 2.0, 3.0])})
    batches = base.to_batches(max_chunksize=100) + late.to_batches()
    reader = pa.RecordBatchReader.from_batches(base.schema, iter(batches))
    s = rb.Environment(parallelism=2).from_arrow(reader, event_time="ts", bounded=False)
    job = _with_frames(s).start()
    out = pa.Table.from_batches(list(job.results(timeout="60s")), schema=job.schema)
    assert job.wait(timeout=60) and job.status == "finished"
    assert sum(job.metrics().column("late_records").to_pylist()) == 3
    assert _rows(out, COLS) == _rows(_duck_frames(base), COLS)


def test_sql_over_unbounded_table_equals_duckdb(events: pa.Table) -> None:
    """SQL's OVER aggregations with ROWS and RANGE frames over an unbounded table (the event
    time orders them) equal DuckDB's over the same rows."""
    q = """SELECT seq,
        SUM(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS a,
        AVG(x) OVER (PARTITION BY k ORDER BY ts RANGE BETWEEN INTERVAL '1' MINUTE PRECEDING AND CURRENT ROW) AS b,
        COUNT(*) OVER (PARTITION BY k ORDER BY ts RANGE BETWEEN INTERVAL '20' SECOND PRECEDING AND CURRENT ROW) AS c,
        MAX(v) OVER (PARTITION BY k ORDER BY ts) AS d,
        MIN(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN CURRENT ROW AND CURRENT ROW) AS e,
        COUNT(*) OVER (PARTITION BY k ORDER BY ts RANGE BETWEEN CURRENT ROW AND CURRENT ROW) AS f
      FROM t"""
    duck_q = q.replace("ORDER BY ts ROWS", "ORDER BY ts, seq ROWS")
    job = rb.sql(q, t=_unbounded(events)).start()
    got = pa.Table.from_batches(list(job.results(timeout="60s")), schema=job.schema)
    assert job.wait(timeout=60)
    cols = ["seq", "a", "b", "c", "d", "e", "f"]
    assert _rows(got, cols) == _rows(_duck(duck_q, t=events), cols)
    # bounded tables take RANGE frames too, with the same answers
    assert _rows(rb.sql(q, t=rb.from_arrow(events)).collect(), cols) == _rows(got, cols)


def test_explain_and_errors(events: pa.Table) -> None:
    s = _unbounded(events)
    text = str(s.with_columns(col("v").sum().over("k", order_by="ts", range="1h").alias("s")).explain())
    assert "aggregations over frames" in text and "watermark" in text
    g = rb.datagen({"k": rb.Int64, "o": rb.Int64, "v": rb.Int64, "ts": rb.Timestamp})  # unbounded
    with pytest.raises(rb.PlanError, match="order by the event-time column"):
        g.with_columns(col("v").sum().over("k", order_by="o", rows=3)).explain()
    with pytest.raises(rb.PlanError, match="needs a bounded input"):
        g.with_columns(col("v").sum().over("k", order_by="ts", rows=3).alias("a"),
                       col("v").sum().over("o", order_by="ts", rows=3).alias("b")).explain()
    b = rb.from_arrow(events)
    with pytest.raises(rb.PlanError, match="range= over the integer column"):
        b.with_columns(col("v").sum().over("k", order_by="o", range="1h")).explain()
    with pytest.raises(rb.PlanError, match="is a duration"):
        b.with_columns(col("v").sum().over("k", order_by="ts", range=5)).explain()
    with pytest.raises(rb.PlanError, match="not both"):
        b.with_columns(col("v").sum().over("k", order_by="ts", range="1h", rows=2)).explain()
    with pytest.raises(rb.PlanError, match="exactly one order_by"):
        b.with_columns(col("v").sum().over("k", rows=2)).explain()
    with pytest.raises(rb.TypeMismatchError, match="numeric column"):
        b.with_columns(col("k").max().over("o", order_by="ts", rows=2)).explain()
    with pytest.raises(rb.PlanError, match="takes an aggregation"):
        b.with_columns(col("v").cum_sum().over("k", order_by="ts", rows=2)).explain()
    nulls = pa.table({"o": pa.array([1, None], pa.int64()), "v": [1, 2]})
    with pytest.raises(rb.DataError, match="order_by value .* is null"):
        rb.from_arrow(nulls).with_columns(col("v").sum().over(order_by="o", rows=1)).collect()


def test_savepoint_then_restore_at_other_parallelism(tmp_path) -> None:
    """Stopped mid-input with a savepoint (rows waiting for the watermark, the rows frames
    reach, running aggregates) and restored at another parallelism, the rows of both runs are
    DuckDB's answer over the whole input."""
    import time

    n = 60_000

    def pipe(env: rb.Environment) -> rb.Stream:
        s = env.datagen({"x": rb.Int64, "ts": rb.Timestamp}, fields={"x": {"kind": "sequence", "min": 0}},
                        rows_per_second=40_000, number_of_rows=n, event_time="ts").with_columns(
            (col("x") % 50).alias("k"))
        return s.with_columns(col("x").sum().over("k", order_by="ts", rows=4).alias("s4"),
                              rb.count().over("k", order_by="ts", range="5ms").alias("c5"),
                              col("x").max().over("k", order_by="ts", range="unbounded").alias("mx"))

    env = rb.Environment(parallelism=2, batch_size=500)
    job = pipe(env).start()
    time.sleep(0.4)
    job.stop(savepoint=tmp_path / "sp")
    before = pa.Table.from_batches(list(job.results()), schema=job.schema)
    env3 = rb.Environment(parallelism=3, batch_size=500)
    restored = pipe(env3).start(restore=tmp_path / "sp")
    after = restored.collect()
    read = sum(m["records_out"] for m in restored.metrics().to_pylist() if m["operator"] == "datagen")
    assert 0 < read < n, f"the restored run read {read} of {n} rows: the stop did not land mid-input"
    both = pa.concat_tables([before, after]) if before.num_rows else after
    src = rb.datagen({"x": rb.Int64, "ts": rb.Timestamp}, fields={"x": {"kind": "sequence", "min": 0}},
                     rows_per_second=40_000, number_of_rows=n).collect()
    want = _duck("""SELECT x,
        SUM(x) OVER (PARTITION BY x % 50 ORDER BY ts, x ROWS 4 PRECEDING)::BIGINT AS s4,
        COUNT(*) OVER (PARTITION BY x % 50 ORDER BY ts
                       RANGE BETWEEN INTERVAL 5 MILLISECOND PRECEDING AND CURRENT ROW) AS c5,
        MAX(x) OVER (PARTITION BY x % 50 ORDER BY ts) AS mx FROM src""", src=src)
    cols = ["x", "s4", "c5", "mx"]
    assert both.num_rows == n
    assert _rows(both, cols) == _rows(want, cols)


def test_float_frames_with_huge_values_inf_and_nan_equal_duckdb() -> None:
    """Values that leave a frame do not stay in its float sum (1e20 + 1 - 1e20 would be 0,
    inf - inf NaN), and NaN, greater than every number, is a frame's (and cum_max's) max but
    not its min. Oracle: DuckDB's window functions (cum_min / cum_max as MIN / MAX over the
    rows so far)."""
    rnd = random.Random(11)
    n = 400
    special = [1e20, math.inf, -math.inf, math.nan]  # a window sums the same in any order
    t = pa.table({
        "k": pa.array([rnd.choice("ab") for _ in range(n)]),
        "seq": pa.array(range(n), pa.int64()),
        "o": pa.array([i // 3 for i in range(n)], pa.int64()),
        "x": pa.array([None if rnd.random() < 0.1 else rnd.choice(special) if rnd.random() < 0.15
                       else float(rnd.randrange(-50, 50)) for _ in range(n)], pa.float64()),
    })
    frames = {"s1": (col("x").sum().over("k", order_by="seq", rows=1), "SUM(x) OVER (w ROWS 1 PRECEDING)"),
              "m3": (col("x").mean().over("k", order_by="seq", rows=3), "AVG(x) OVER (w ROWS 3 PRECEDING)"),
              "r2": (col("x").sum().over("k", order_by="o", range=2),
                     "SUM(x) OVER (PARTITION BY k ORDER BY o RANGE 2 PRECEDING)"),
              "lo": (col("x").min().over("k", order_by="seq", rows=2), "MIN(x) OVER (w ROWS 2 PRECEDING)"),
              "hi": (col("x").max().over("k", order_by="seq", rows=2), "MAX(x) OVER (w ROWS 2 PRECEDING)"),
              "cmin": (col("x").cum_min().over("k", order_by="seq"), "MIN(x) OVER (w ROWS UNBOUNDED PRECEDING)"),
              "cmax": (col("x").cum_max().over("k", order_by="seq"), "MAX(x) OVER (w ROWS UNBOUNDED PRECEDING)")}
    for parallelism in (1, 3):
        got = rb.Environment(parallelism=parallelism).from_arrow(t).with_columns(
            *(e.alias(name) for name, (e, _) in frames.items())).collect().sort_by("seq")
        sql = ", ".join(f"{q} AS {name}" for name, (_, q) in frames.items())
        want = _duck(f"SELECT seq, {sql} FROM t WINDOW w AS (PARTITION BY k ORDER BY seq) ORDER BY seq", t=t)

        def same(a: object, b: object) -> bool:
            if a is None or b is None:
                return a is b
            if math.isnan(a) or math.isnan(b):
                return math.isnan(a) and math.isnan(b)
            return a == b or math.isclose(a, b, rel_tol=1e-9)
        for name in frames:
            for i, (a, b, x) in enumerate(zip(got[name].to_pylist(), want[name].to_pylist(), t["x"].to_pylist())):
                if x is not None or not name.startswith("c"):  # cum_* leave a null row null (Polars)
                    assert same(a, b), (parallelism, name, i, a, b)


def test_sql_min_max_frames_with_descending_or_several_keys_order_nan_greatest() -> None:
    """SQL's MIN / MAX over a ROWS frame ordered by a descending key or by several keys (the
    rolling path, not the one-key frame) order NaN above every number, as the one-key frames
    and DuckDB do (MIN returned NaN whenever its frame held one)."""
    rnd = random.Random(5)
    n = 300
    t = pa.table({"id": pa.array(range(n), pa.int64()), "g": pa.array([i % 4 for i in range(n)], pa.int64()),
                  "f": pa.array([None if rnd.random() < 0.1 else math.nan if rnd.random() < 0.2
                                 else float(rnd.randrange(-9, 9)) for _ in range(n)], pa.float64())})
    q = ("SELECT id, MIN(f) OVER (ORDER BY id DESC ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS a, "
         "MAX(f) OVER (ORDER BY g, id ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS b, "
         "MIN(f) OVER (PARTITION BY g ORDER BY f DESC, id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS c "
         "FROM t ORDER BY id")
    got, want = rb.sql(q, t=t).collect(), duck(q, t=t)
    for name in "abc":
        for a, b in zip(got[name].to_pylist(), want[name].to_pylist()):
            assert (a is None and b is None) or (math.isnan(a) and math.isnan(b)) or a == b, (name, a, b)
