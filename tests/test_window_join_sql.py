"""Window joins of every kind: rb.sql's window joins as Flink writes them (two window table
functions joined on window_start, window_end and keys; INNER, LEFT, RIGHT, FULL; semi and
anti joins as IN, EXISTS, NOT EXISTS) over TUMBLE, HOP and CUMULATE windows, and the
Python API's ``join_window(how=...)`` (inner, left, right, full, semi, anti).

Oracle: DuckDB's relational join of the rows of each window, each row repeated once per
window it belongs to (window_start computed by hand with time_bucket), over the same Arrow
data; in streaming mode over the rows that are not late."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import riverbed as rb
from oracles import duck

duckdb = pytest.importorskip("duckdb")

T0 = dt.datetime(2026, 1, 1)


def _rows(t: pa.Table, cols: list[str] | None = None) -> list[tuple[object, ...]]:
    names = cols or t.column_names
    out = [tuple(r[c] for c in names) for r in t.to_pylist()]
    return sorted(out, key=lambda r: tuple((v is None, v if v is not None else 0) for v in r))


def _side(seed: int, n: int, tag: str, span_s: int, gap: tuple[int, int] | None = None) -> pa.Table:
    """Rows with keys 0..5 (every ninth key NULL) at random times in [0, span_s) seconds;
    none in gap (seconds), so that some windows have rows on one side only."""
    rnd = random.Random(seed)
    nums: list[int | None] = []
    ids: list[str] = []
    times: list[dt.datetime] = []
    while len(ids) < n:
        t = rnd.randrange(span_s * 1000)
        if gap and gap[0] * 1000 <= t < gap[1] * 1000:
            continue
        nums.append(None if len(ids) % 9 == 4 else rnd.randrange(6))
        ids.append(f"{tag}{len(ids)}")
        times.append(T0 + dt.timedelta(milliseconds=t))
    return pa.table({"num": pa.array(nums, pa.int64()), "id": ids,
                     "row_time": pa.array(times, pa.timestamp("ms"))})


@pytest.fixture(scope="module")
def sides() -> tuple[pa.Table, pa.Table]:
    return _side(1, 160, "L", 60, gap=(20, 30)), _side(2, 140, "R", 60, gap=(40, 50))


# The windows: the SQL table function and its intervals, and the Python API's window.
WINDOWS = {
    "tumble": ("TUMBLE", "INTERVAL '5' SECOND", rb.tumbling("5s")),
    "hop": ("HOP", "INTERVAL '5' SECOND, INTERVAL '10' SECOND", rb.sliding("10s", "5s")),
    "cumulate": ("CUMULATE", "INTERVAL '5' SECOND, INTERVAL '15' SECOND", rb.cumulate("5s", "15s")),
}


def _expanded(table: str, window: str) -> str:
    """DuckDB: the rows of table once per window they are in, with window_start and
    window_end (tumble2: tumbling windows of 2 s)."""
    def windows(start: str, end: str, ks: str, where: str = "") -> str:
        return (f"(SELECT t.*, {start} AS window_start, {end} AS window_end "
                f"FROM {table} t CROSS JOIN range({ks}) AS r(k) {where})")
    if window in ("tumble", "tumble2", "hop"):
        slide, n = {"tumble": (5, 1), "tumble2": (2, 1), "hop": (5, 2)}[window]
        start = f"time_bucket(INTERVAL {slide} SECOND, row_time) - k * INTERVAL {slide} SECOND"
        return windows(start, f"{start} + INTERVAL {slide * n} SECOND", f"0, {n}")
    # cumulate: windows from the start of each 15 s, growing by 5 s, that hold the row
    start = "time_bucket(INTERVAL 15 SECOND, row_time)"
    end = f"{start} + k * INTERVAL 5 SECOND"
    return windows(start, end, "1, 4", f"WHERE {end} > row_time")


def _sql_join(kind: str, fn: str, args: str) -> str:
    return f"""SELECT L.num AS L_Num, L.id AS L_Id, R.num AS R_Num, R.id AS R_Id,
                      L.window_start AS L_start, R.window_end AS R_end,
                      COALESCE(L.window_start, R.window_start) AS window_start,
                      COALESCE(L.window_end, R.window_end) AS window_end,
                      L.window_time AS L_time, R.window_time AS R_time
               FROM (SELECT * FROM TABLE({fn}(TABLE LeftTable, DESCRIPTOR(row_time), {args}))) L
               {kind} JOIN (SELECT * FROM TABLE({fn}(TABLE RightTable, DESCRIPTOR(row_time), {args}))) R
               ON L.num = R.num AND L.window_start = R.window_start AND L.window_end = R.window_end"""


def _duck_join(kind: str, window: str, unit: str = "MILLISECOND", **tables: pa.Table) -> pa.Table:
    """DuckDB's window join; window_time is window_end less one unit of the event time."""
    return duck(f"""SELECT L.num AS L_Num, L.id AS L_Id, R.num AS R_Num, R.id AS R_Id,
                           L.window_start AS L_start, R.window_end AS R_end,
                           COALESCE(L.window_start, R.window_start) AS window_start,
                           COALESCE(L.window_end, R.window_end) AS window_end,
                           L.window_end - INTERVAL 1 {unit} AS L_time, R.window_end - INTERVAL 1 {unit} AS R_time
                    FROM {_expanded("LeftTable", window)} L
                    {kind} JOIN {_expanded("RightTable", window)} R
                    ON L.num = R.num AND L.window_start = R.window_start AND L.window_end = R.window_end""",
                **tables)


@pytest.mark.parametrize("window", list(WINDOWS))
@pytest.mark.parametrize("kind", ["INNER", "LEFT", "RIGHT", "FULL OUTER"])
@pytest.mark.parametrize("p", [1, 3])
def test_sql_window_join_bounded(sides: tuple[pa.Table, pa.Table], kind: str, window: str, p: int) -> None:
    """Flink's window join text over bounded tables equals DuckDB's join of the rows of
    each window: null keys and rows of windows empty on the other side are padded, each
    side's window_time (window_end - 1 ms) NULL where that side is."""
    left, right = sides
    fn, args, _ = WINDOWS[window]
    env = rb.Environment(parallelism=p)
    got = env.sql(_sql_join(kind, fn, args), LeftTable=env.from_arrow(left, event_time="row_time"),
                  RightTable=env.from_arrow(right, event_time="row_time")).collect()
    want = _duck_join(kind, window, LeftTable=left, RightTable=right)
    assert got.num_rows > 40
    assert _rows(got) == _rows(want)
    if kind != "INNER":  # padded rows are there: a null key, and a window empty on one side
        assert any(r[0] is None and r[1] is not None for r in _rows(got)) == (kind in ("LEFT", "FULL OUTER"))
        assert any(r[1] is None for r in _rows(got)) == (kind in ("RIGHT", "FULL OUTER"))


SEMI_FORMS = {
    # Flink's window semi and anti joins; each with its DuckDB form (over the rows of each window)
    "IN": ("L.num IN (SELECT num FROM {r} R WHERE L.window_start = R.window_start AND L.window_end = R.window_end)",
           "L.num IN (SELECT num FROM {r} R WHERE L.window_start = R.window_start AND L.window_end = R.window_end)"),
    "EXISTS": ("EXISTS (SELECT * FROM {r} R WHERE L.num = R.num AND L.window_start = R.window_start "
               "AND L.window_end = R.window_end)",
               "EXISTS (SELECT * FROM {r} R WHERE L.num = R.num AND L.window_start = R.window_start "
               "AND L.window_end = R.window_end)"),
    "NOT EXISTS": ("NOT EXISTS (SELECT * FROM {r} R WHERE R.num = L.num AND R.window_start = L.window_start "
                   "AND R.window_end = L.window_end)",
                   "NOT EXISTS (SELECT * FROM {r} R WHERE L.num = R.num AND L.window_start = R.window_start "
                   "AND L.window_end = R.window_end)"),
}


@pytest.mark.parametrize("window", list(WINDOWS))
@pytest.mark.parametrize("form", list(SEMI_FORMS))
def test_sql_window_semi_anti_join(sides: tuple[pa.Table, pa.Table], form: str, window: str) -> None:
    """IN, EXISTS and NOT EXISTS over two window table functions, correlated on the
    windows, are the engine's window semi and anti joins; equal to DuckDB's."""
    left, right = sides
    fn, args, _ = WINDOWS[window]
    ours, theirs = SEMI_FORMS[form]
    tvf = "(SELECT * FROM TABLE({fn}(TABLE {t}, DESCRIPTOR(row_time), {args})))"
    q = (f"SELECT L.num, L.id, L.window_start, L.window_end FROM {tvf.format(fn=fn, t='LeftTable', args=args)} L "
         f"WHERE {ours.format(r=tvf.format(fn=fn, t='RightTable', args=args))}")
    s = rb.sql(q, LeftTable=rb.from_arrow(left, event_time="row_time"),
               RightTable=rb.from_arrow(right, event_time="row_time"))
    assert ("anti" if form == "NOT EXISTS" else "semi") + " window join" in s.explain()
    got = s.collect()
    want = duck(f"""SELECT L.num, L.id, L.window_start, L.window_end FROM {_expanded("LeftTable", window)} L
                    WHERE {theirs.format(r=_expanded("RightTable", window))}""",
                LeftTable=left, RightTable=right)
    assert got.num_rows > 20
    assert _rows(got) == _rows(want)
    if form == "NOT EXISTS":  # rows of a null key and of windows empty on the right are there
        assert any(r[0] is None for r in _rows(got))


def _right_nulls_early(right: pa.Table) -> pa.Table:
    """right with its NULL keys only in the first 10 s (elsewhere key 0): windows with a
    NULL on the right, and windows with right rows and no NULL."""
    early = pc.less(right["row_time"], pa.scalar(T0 + dt.timedelta(seconds=10), pa.timestamp("ms")))
    num = pc.if_else(pc.and_(pc.is_null(right["num"]), pc.invert(early)), 0, right["num"])
    return right.set_column(0, "num", num)


@pytest.mark.parametrize("window", list(WINDOWS))
@pytest.mark.parametrize("p", [1, 3])
def test_sql_window_not_in(sides: tuple[pa.Table, pa.Table], window: str, p: int) -> None:
    """L.num NOT IN (SELECT num FROM <window table function> R WHERE the windows are equal)
    is SQL's NOT IN per window, as DuckDB computes it: a left row stays when the window has
    no right row (a NULL key too), else only when its key is not NULL and no right row of
    the window has that key or a NULL one."""
    left, right = sides
    right = _right_nulls_early(right)
    fn, args, _ = WINDOWS[window]
    tvf = "(SELECT * FROM TABLE({fn}(TABLE {t}, DESCRIPTOR(row_time), {args})))"
    cond = "L.num NOT IN (SELECT num FROM {r} R WHERE L.window_start = R.window_start AND L.window_end = R.window_end)"
    q = (f"SELECT L.num, L.id, L.window_start, L.window_end, L.window_time FROM "
         f"{tvf.format(fn=fn, t='LeftTable', args=args)} L "
         f"WHERE {cond.format(r=tvf.format(fn=fn, t='RightTable', args=args))}")
    env = rb.Environment(parallelism=p)
    s = env.sql(q, LeftTable=env.from_arrow(left, event_time="row_time"),
                RightTable=env.from_arrow(right, event_time="row_time"))
    assert "null-aware anti window join" in s.explain()
    got = s.collect()
    want = duck(f"""SELECT L.num, L.id, L.window_start, L.window_end,
                           L.window_end - INTERVAL 1 MILLISECOND AS window_time
                    FROM {_expanded("LeftTable", window)} L
                    WHERE {cond.format(r=_expanded("RightTable", window))}""", LeftTable=left, RightTable=right)
    assert got.num_rows > 10
    assert _rows(got) == _rows(want)
    rows = _rows(got)
    assert any(r[0] is None for r in rows)  # a NULL key of a window without right rows
    # no row of a window whose right side has a NULL, though NOT EXISTS keeps some there
    null_windows = duck(f"""SELECT DISTINCT window_start, window_end FROM {_expanded("RightTable", window)}
                            WHERE num IS NULL""", RightTable=right).to_pylist()
    nulls = {(w["window_start"], w["window_end"]) for w in null_windows}
    assert nulls and not any((r[2], r[3]) in nulls for r in rows)
    anti = duck(f"""SELECT L.window_start, L.window_end FROM {_expanded("LeftTable", window)} L
                    WHERE NOT EXISTS (SELECT 1 FROM {_expanded("RightTable", window)} R WHERE R.num = L.num
                                      AND R.window_start = L.window_start AND R.window_end = L.window_end)""",
                LeftTable=left, RightTable=right).to_pylist()
    assert any((w["window_start"], w["window_end"]) in nulls for w in anti)


def test_sql_window_not_in_streaming_drops_late_rows() -> None:
    """Streaming NOT IN: each window once when the watermark passes its end; rows whose
    window has closed are late on either side (a late right row does not count for its
    window), the rest equal DuckDB's NOT IN over the rows that are not late."""
    batch = 10
    left, late_l = _late_side(21, 300, "L", batch, 1.0, 2)
    right, late_r = _late_side(22, 250, "R", batch, 1.0, 2, gaps=True)
    assert late_l and late_r
    tvf = "(SELECT * FROM TABLE(TUMBLE(TABLE {t}, DESCRIPTOR(row_time), INTERVAL '2' SECOND)))"
    cond = "L.num NOT IN (SELECT num FROM {r} R WHERE L.window_start = R.window_start AND L.window_end = R.window_end)"
    q = (f"SELECT L.num, L.id, L.window_start FROM {tvf.format(t='LeftTable')} L "
         f"WHERE {cond.format(r=tvf.format(t='RightTable'))}")
    env = rb.Environment(parallelism=2, batch_size=batch, runtime_mode="streaming")
    job = env.sql(q, LeftTable=env.from_arrow(left, event_time="row_time", max_out_of_orderness="1s"),
                  RightTable=env.from_arrow(right, event_time="row_time", max_out_of_orderness="1s")).start()
    got = pa.Table.from_batches(list(job.results(timeout="60s")))
    keep_l = left.filter(pa.array([i not in late_l for i in left["id"].to_pylist()]))
    keep_r = right.filter(pa.array([i not in late_r for i in right["id"].to_pylist()]))
    want = duck(f"""SELECT L.num, L.id, L.window_start FROM {_expanded("LeftTable", "tumble2")} L
                    WHERE {cond.format(r=_expanded("RightTable", "tumble2"))}""", LeftTable=keep_l, RightTable=keep_r)
    assert got.num_rows > 30
    assert _rows(got) == _rows(want)
    assert any(r[0] is None for r in _rows(got))


def test_sql_window_join_window_time_cascade(sides: tuple[pa.Table, pa.Table]) -> None:
    """A window join's result has window_time (window_end - 1 ms of the millisecond event
    time), its event time: a window aggregation over it (10 s windows of the 5 s windows'
    pairs) equals DuckDB's, in batch and in streaming mode."""
    left, right = sides
    q = """CREATE VIEW j AS
           SELECT L.num, L.id AS lid, R.id AS rid, L.window_start AS ws, L.window_time AS jt
           FROM TABLE(TUMBLE(TABLE LeftTable, DESCRIPTOR(row_time), INTERVAL '5' SECOND)) L
           JOIN TABLE(TUMBLE(TABLE RightTable, DESCRIPTOR(row_time), INTERVAL '5' SECOND)) R
           ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.num = R.num;
           SELECT num, window_start, window_end, window_time, COUNT(*) AS pairs, MIN(jt) AS first_jt
           FROM TABLE(TUMBLE(TABLE j, DESCRIPTOR(jt), INTERVAL '10' SECOND))
           GROUP BY num, window_start, window_end, window_time"""
    pairs = f"""(SELECT L.num, L.window_end - INTERVAL 1 MILLISECOND AS jt FROM {_expanded("LeftTable", "tumble")} L
                 JOIN {_expanded("RightTable", "tumble")} R
                 ON L.num = R.num AND L.window_start = R.window_start AND L.window_end = R.window_end)"""
    want = duck(f"""SELECT num, time_bucket(INTERVAL 10 SECOND, jt) AS window_start,
                           time_bucket(INTERVAL 10 SECOND, jt) + INTERVAL 10 SECOND AS window_end,
                           time_bucket(INTERVAL 10 SECOND, jt) + INTERVAL 10 SECOND
                             - INTERVAL 1 MILLISECOND AS window_time,
                           COUNT(*) AS pairs, MIN(jt) AS first_jt
                    FROM {pairs} GROUP BY ALL""", LeftTable=left, RightTable=right)
    for mode in ["batch", "streaming"]:
        env = rb.Environment(parallelism=2, runtime_mode=mode)
        lt, rt = (t.sort_by("row_time") for t in sides)
        got = env.sql(q, LeftTable=env.from_arrow(lt, event_time="row_time"),
                      RightTable=env.from_arrow(rt, event_time="row_time")).collect()
        assert got.schema.field("window_time").type == pa.timestamp("ms")
        assert got.num_rows > 10
        assert _rows(got) == _rows(want), mode


def _late_side(seed: int, n: int, tag: str, batch: int, bound_s: float, size_s: int,
               gaps: bool = False) -> tuple[pa.Table, set[str]]:
    """Rows mostly in time order, some out of order within the bound, a few far behind, and
    every ninth key NULL (with gaps: none in the last 4 s of every 8 s); also the ids of the
    rows that are late for a tumbling window of size_s (their window's end is at or below the
    watermark before their batch)."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    t = 0.0
    for i in range(n):
        t += rng.choice([0.1, 0.3, 0.5])
        when = t
        if i % 17 == 5:
            when = t - rng.uniform(0.1, bound_s * 0.9)
        if i % 23 == 11 and i > 2 * batch:
            when = t - bound_s - size_s - 1  # its window closed
        rows.append({"num": None if i % 9 == 4 else rng.choice([1, 2, 3]), "id": f"{tag}{i}",
                     "row_time": T0 + dt.timedelta(microseconds=round(when * 1e6))})
    if gaps:  # no rows in the last 4 s of every 8 s: windows empty on this side
        rows = [r for r in rows if (r["row_time"] - T0).total_seconds() % 8 < 4]
    late: set[str] = set()
    top: dt.datetime | None = None
    for b in range(0, len(rows), batch):
        wm = None if top is None else top - dt.timedelta(seconds=bound_s, microseconds=1)
        for r in rows[b:b + batch]:
            start = T0 + dt.timedelta(seconds=((r["row_time"] - T0).total_seconds() // size_s) * size_s)
            end = start + dt.timedelta(seconds=size_s)
            if wm is not None and end - dt.timedelta(microseconds=1) <= wm:
                late.add(r["id"])
        batch_max = max(r["row_time"] for r in rows[b:b + batch])
        top = batch_max if top is None else max(top, batch_max)
    table = pa.Table.from_pylist(rows, schema=pa.schema([("num", pa.int64()), ("id", pa.string()),
                                                         ("row_time", pa.timestamp("us"))]))
    return table, late


@pytest.mark.parametrize("kind", ["LEFT", "FULL OUTER"])
def test_sql_window_join_unbounded_drops_late_rows(kind: str) -> None:
    """Streaming: each window is joined once when the watermark passes its end; rows whose
    window has closed are late (dropped and counted), and the rest equal DuckDB's join."""
    batch = 10
    left, late_l = _late_side(11, 300, "L", batch, 1.0, 2)
    right, late_r = _late_side(12, 250, "R", batch, 1.0, 2)
    assert late_l and late_r
    env = rb.Environment(parallelism=2, batch_size=batch, runtime_mode="streaming")
    job = env.sql(_sql_join(kind, "TUMBLE", "INTERVAL '2' SECOND"),
                  LeftTable=env.from_arrow(left, event_time="row_time", max_out_of_orderness="1s"),
                  RightTable=env.from_arrow(right, event_time="row_time", max_out_of_orderness="1s")).start()
    got = pa.Table.from_batches(list(job.results(timeout="60s")))
    late_count = sum(m["late_records"] for m in job.metrics(as_dict=True))
    keep_l = left.filter(pa.array([i not in late_l for i in left["id"].to_pylist()]))
    keep_r = right.filter(pa.array([i not in late_r for i in right["id"].to_pylist()]))
    want = _duck_join(kind, "tumble2", "MICROSECOND", LeftTable=keep_l, RightTable=keep_r)
    assert got.num_rows > 100
    assert _rows(got) == _rows(want)
    assert late_count == len(late_l) + len(late_r)


@pytest.mark.parametrize("how", ["inner", "left", "right", "full", "semi", "anti"])
@pytest.mark.parametrize("window", list(WINDOWS))
def test_python_join_window_how(sides: tuple[pa.Table, pa.Table], how: str, window: str) -> None:
    """join_window(how=...) equals DuckDB's join of the rows of each window (semi and anti:
    EXISTS and NOT EXISTS), with Polars' output columns."""
    left, right = sides
    _, _, win = WINDOWS[window]
    env = rb.Environment(parallelism=2)
    got = env.from_arrow(left, event_time="row_time").join_window(
        env.from_arrow(right, event_time="row_time"), on="num", window=win, how=how).collect()  # type: ignore[arg-type]
    lw, rw = _expanded("LeftTable", window), _expanded("RightTable", window)
    if how in ("semi", "anti"):
        neg = "NOT " if how == "anti" else ""
        want = duck(f"""SELECT L.num, L.id, L.row_time, L.window_start, L.window_end FROM {lw} L
                        WHERE {neg}EXISTS (SELECT 1 FROM {rw} R WHERE R.num = L.num
                                           AND R.window_start = L.window_start AND R.window_end = L.window_end)""",
                    LeftTable=left, RightTable=right)
        assert got.column_names == ["num", "id", "row_time", "window_start", "window_end"]
    else:
        want = duck(f"""SELECT L.num, L.id, L.row_time, R.num AS num_right, R.id AS id_right,
                               R.row_time AS row_time_right,
                               COALESCE(L.window_start, R.window_start) AS window_start,
                               COALESCE(L.window_end, R.window_end) AS window_end
                        FROM {lw} L {how.upper()} JOIN {rw} R
                        ON L.num = R.num AND L.window_start = R.window_start AND L.window_end = R.window_end""",
                    LeftTable=left, RightTable=right)
        cols = {"inner": ["num", "id", "row_time", "id_right", "row_time_right"],
                "left": ["num", "id", "row_time", "id_right", "row_time_right"],
                "right": ["id", "row_time", "num", "id_right", "row_time_right"],
                "full": ["num", "id", "row_time", "num_right", "id_right", "row_time_right"]}[how]
        assert got.column_names == cols + ["window_start", "window_end"]
        if how == "right":  # the output's num is the right key
            want = want.drop_columns(["num"]).rename_columns(
                ["id", "row_time", "num", "id_right", "row_time_right", "window_start", "window_end"])
        want = want.select(got.column_names)
    assert got.num_rows > 20
    assert _rows(got) == _rows(want)


def test_sql_window_join_errors(sides: tuple[pa.Table, pa.Table]) -> None:
    left, right = sides
    tables = {"LeftTable": rb.from_arrow(left, event_time="row_time"),
              "RightTable": rb.from_arrow(right, event_time="row_time")}
    q = _sql_join("FULL", "TUMBLE", "INTERVAL '5' SECOND")
    mismatch = q.replace("TUMBLE(TABLE RightTable, DESCRIPTOR(row_time), INTERVAL '5' SECOND)",
                         "HOP(TABLE RightTable, DESCRIPTOR(row_time), INTERVAL '5' SECOND, INTERVAL '10' SECOND)")
    with pytest.raises(rb.PlanError, match=r"SQL line 7, column 41: a window join needs the same window table "
                                           r"function on both sides, and the left is TUMBLE\(5s\) while the right "
                                           r"is HOP\(5s, 10s\)"):
        rb.sql(mismatch, **tables)
    with pytest.raises(rb.PlanError, match=r"SESSION windows"):
        rb.sql(q.replace("TUMBLE(", "SESSION("), **tables)
    with pytest.raises(rb.PlanError, match=r"a condition other than equal keys and windows in the ON of an outer"):
        rb.sql(q + " AND L.id < R.id", **tables)
    tvf = "(SELECT * FROM TABLE(TUMBLE(TABLE {t}, DESCRIPTOR(row_time), INTERVAL '5' SECOND)))"
    with pytest.raises(rb.PlanError, match=r"SQL line 1, column 313: NOT IN over a window table function correlated "
                                           r"by more than the window .*write NOT EXISTS"):
        rb.sql(f"SELECT L.id FROM {tvf.format(t='LeftTable')} L WHERE L.num NOT IN (SELECT num FROM "
               f"{tvf.format(t='RightTable')} R WHERE L.window_start = R.window_start AND L.window_end = R.window_end "
               f"AND L.id = R.id)", **tables)
    with pytest.raises(rb.PlanError, match=r"SQL line 1, column 116: a row value \(a, b, ...\)"):
        rb.sql(f"SELECT L.id FROM {tvf.format(t='LeftTable')} L WHERE (L.num, L.id) NOT IN (SELECT num, id FROM "
               f"{tvf.format(t='RightTable')} R WHERE L.window_start = R.window_start AND L.window_end = R.window_end)",
               **tables)
    with pytest.raises(rb.PlanError, match=r"not correlated by L.window_start = R.window_start"):
        rb.sql(f"SELECT L.id FROM {tvf.format(t='LeftTable')} L WHERE EXISTS (SELECT * FROM "
               f"{tvf.format(t='RightTable')} R WHERE L.num = R.num)", **tables)
    with pytest.raises(rb.PlanError, match=r'unknown window join kind "outer"'):
        tables["LeftTable"].join_window(tables["RightTable"], on="num", window=rb.tumbling("5s"),
                                        how="outer").collect()  # type: ignore[arg-type]
