"""Parquet in and out, interop with pandas / polars / DuckDB, notebook display, progress."""

import datetime as dt
import os

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import riverbed as rb
from riverbed import col


@pytest.fixture
def dataset(tmp_path):
    """12 files x 3 row groups, ascending ids so row groups have disjoint id ranges."""
    d = tmp_path / "events"
    d.mkdir()
    parts = []
    for i in range(12):
        n = 3000
        ids = pa.array(range(i * n, (i + 1) * n), pa.int64())
        t = pa.table({
            "id": ids,
            "user_id": pc.cast(pc.divide(ids, pa.scalar(7, pa.int64())), pa.int64()),
            "amount": pa.array([(j % 200) - 50.5 if j % 13 else None for j in range(i * n, (i + 1) * n)]),
            "ts": pa.array([dt.datetime(2026, 1, 1) + dt.timedelta(minutes=j) for j in range(i * n, (i + 1) * n)],
                           pa.timestamp("us")),
        })
        pq.write_table(t, d / f"part-{i:02d}.parquet", row_group_size=1000)
        parts.append(t)
    return d, pa.concat_tables(parts)


def test_issue_example(dataset):
    d, events = dataset
    t = (rb.read_parquet(d)
         .filter(col("amount") > 0)
         .with_columns((col("amount") * 100).cast(rb.Int64).alias("cents"))
         .group_by("user_id")
         .agg(rb.count().alias("n"), col("amount").sum().alias("total"), col("ts").max().alias("last_ts"))
         .collect())
    want = duckdb.sql("""
        select user_id, count(*) as n, sum(amount) as total, max(ts) as last_ts
        from events where amount > 0 group by user_id order by user_id""").arrow()
    if isinstance(want, pa.RecordBatchReader):
        want = want.read_all()
    got = t.sort_by("user_id")
    assert got["user_id"].to_pylist() == want["user_id"].to_pylist()
    assert got["n"].to_pylist() == want["n"].to_pylist()
    assert got["last_ts"].to_pylist() == want["last_ts"].to_pylist()
    assert got["total"].to_pylist() == pytest.approx(want["total"].to_pylist())


@pytest.mark.parametrize("how", ["dir", "glob", "file_list"])
def test_read_forms_preserve_order(dataset, how):
    d, table = dataset
    files = sorted(str(p) for p in d.iterdir())
    arg = {"dir": str(d), "glob": str(d / "part-*.parquet"), "file_list": files}[how]
    got = rb.Environment(parallelism=4).read_parquet(arg).collect()
    assert got.equals(table)


def test_projection(dataset):
    d, table = dataset
    got = rb.read_parquet(d, columns=["ts", "id"]).collect()
    assert got.column_names == ["ts", "id"]
    assert got.equals(table.select(["ts", "id"]))
    plan = rb.read_parquet(d).filter(col("amount") > 0).select("id").explain()
    assert "columns [id, amount]" in plan


def _pruned(stream):
    job = stream._start()
    try:
        reader = job.reader()
        table = reader.read_all()
        return table, job.progress()
    finally:
        job.free()


@pytest.mark.parametrize("pred, expect_pruned", [
    (col("id") >= 30_000, 30),            # the first 10 files hold ids below 30000
    (col("id") < 2_000, 34),              # only the first two row groups
    ((col("id") > 5_000) & (col("id") <= 5_999), 35),
    ((col("id") < 1_000) | (col("id") >= 35_000), 34),
    (col("id") == 17_500, 35),
    (col("amount") > 1e9, 0),             # floats: NaN is above every number and statistics omit it
    (col("amount") < -1e9, 36),
    (col("id").is_null(), 36),            # id has no nulls
    (col("ts") >= dt.datetime(2026, 1, 25, 12), 35),  # minute 35280 is in the last row group
    (col("id") * 2 > 10, 0),              # not a plain column comparison: nothing pruned
])
def test_row_group_pruning(dataset, pred, expect_pruned):
    d, table = dataset
    got, progress = _pruned(rb.read_parquet(d).filter(pred))
    want = rb.from_arrow(table).filter(pred).collect()
    assert got.equals(want)
    assert progress["splits_pruned"] == expect_pruned
    assert progress["total_splits"] == 36


def test_write_parquet_round_trip_and_modes(dataset, tmp_path):
    d, table = dataset
    out = tmp_path / "out"
    s = rb.read_parquet(d).filter(col("amount") > 0)
    summary = s.write_parquet(out)
    assert summary.column_names == ["path", "rows"]
    assert sum(summary["rows"].to_pylist()) == pc.sum(pc.greater(table["amount"], 0)).as_py()
    assert all(os.path.exists(p) for p in summary["path"].to_pylist())
    assert not [f for f in os.listdir(out) if f.startswith(".")], "no in-progress files left"
    back = pq.read_table(out)  # pyarrow, an independent reader
    want = table.filter(pc.greater(table["amount"], 0))
    assert back.sort_by("id").equals(want.sort_by("id"))

    s.write_parquet(out, mode="append")
    assert pq.read_table(out).num_rows == 2 * want.num_rows
    s.write_parquet(out, mode="overwrite")
    assert pq.read_table(out).num_rows == want.num_rows


def test_failed_write_leaves_no_files(tmp_path):
    out = tmp_path / "out"
    s = rb.from_pydict({"s": ["1", "2", "x"]}).select(col("s").cast(rb.Int64))
    with pytest.raises(rb.DataError):
        s.write_parquet(out)
    assert not out.exists() or os.listdir(out) == []


def test_pandas_and_polars_in_and_out():
    pdf = pd.DataFrame({"k": ["a", "b", "a", None], "v": [1.0, 2.0, None, 4.0]})
    got = rb.from_pandas(pdf).group_by("k").agg(col("v").sum().alias("s"), rb.count().alias("n")).to_pandas()
    want = pdf.groupby("k", dropna=False).agg(s=("v", "sum"), n=("v", "size")).reset_index()
    got = got.sort_values("k", na_position="last").reset_index(drop=True)
    want = want.sort_values("k", na_position="last").reset_index(drop=True)
    assert got["k"].tolist()[:2] == ["a", "b"] and pd.isna(got["k"].iloc[2])
    assert got["n"].tolist() == want["n"].tolist()
    assert got["s"].tolist() == want["s"].tolist()

    pldf = pl.DataFrame({"x": [1, 2, 3], "s": ["p", "q", "r"]})
    out = rb.from_arrow(pldf).filter(col("x") >= 2).to_polars()
    assert isinstance(out, pl.DataFrame)
    assert out.to_dicts() == [{"x": 2, "s": "q"}, {"x": 3, "s": "r"}]


def test_arrow_c_stream_consumers():
    s = rb.from_pydict({"x": [3, 1, 2]}).with_columns(y=col("x") * 10)
    assert pa.table(s).to_pydict() == {"x": [3, 1, 2], "y": [30, 10, 20]}
    assert pl.DataFrame(s)["y"].to_list() == [30, 10, 20]
    rel = duckdb.sql("select sum(y) as t from s")
    assert rel.fetchall() == [(60,)]


def test_record_batch_and_reader_inputs():
    b = pa.record_batch({"x": [1, 2, 3]})
    assert rb.from_arrow(b).collect()["x"].to_pylist() == [1, 2, 3]
    r = pa.Table.from_batches([b, b]).to_reader()
    assert rb.from_arrow(r).collect()["x"].to_pylist() == [1, 2, 3, 1, 2, 3]


def test_streaming_results():
    s = rb.Environment(parallelism=2, batch_size=100).from_arrow(pa.table({"x": range(1000)}))
    reader = s.to_reader()
    seen = [b.num_rows for b in reader]
    assert sum(seen) == 1000 and len(seen) == 10


def test_schema_and_columns_without_running(dataset):
    d, _ = dataset
    s = rb.read_parquet(d).with_columns(cents=(col("amount") * 100).cast(rb.Int64)).select("id", "cents")
    assert s.schema == pa.schema([("id", pa.int64()), ("cents", pa.int64())])
    assert s.columns == ["id", "cents"]


def test_explain_and_html(dataset):
    d, _ = dataset
    s = rb.read_parquet(d).filter(col("amount") > 0).group_by("user_id").agg(rb.count())
    text = s.explain()
    assert "logical plan" in text and "physical plan" in text and "hash from stage 0" in text
    html = s._repr_html_()
    assert html.startswith("<div") and "aggregate" in html
    from riverbed._display import table_html

    t = s.collect()
    h = table_html(t)
    assert "<table" in h and "user_id" in h and f"{t.num_rows:,} rows" in h


def test_progress_bar_reports_rows_and_files(dataset, capsys):
    d, table = dataset
    rb.read_parquet(d).collect(progress=True)
    err = capsys.readouterr().err
    assert "36.0k/36.0k" in err and "12/12 files" in err


def test_progress_off(dataset, capsys, monkeypatch):
    d, _ = dataset
    rb.read_parquet(d).collect(progress=False)
    monkeypatch.setenv("RIVERBED_PROGRESS", "0")
    rb.read_parquet(d).collect()
    assert capsys.readouterr().err == ""


def test_limit_stops_early_and_keeps_order(dataset):
    d, table = dataset
    # On two subtasks the first rows come in input order.
    got, _ = _pruned(rb.Environment(parallelism=2, batch_size=100).read_parquet(d).limit(150))
    assert got.equals(table.slice(0, 150))
    # On one, the scan and the limit share a task: the limit stops the scan after the first
    # row group of the 36, whatever the timing. (On two, the scan of the later files may
    # run ahead while the in-order gather holds their batches back.)
    got, progress = _pruned(rb.Environment(parallelism=1, batch_size=100).read_parquet(d).limit(150))
    assert got.equals(table.slice(0, 150))
    assert progress["rows_read"] <= 2000, progress


def test_union_and_limit_across_sources(dataset):
    d, table = dataset
    mem = rb.from_arrow(table.slice(0, 10))
    got = mem.union(rb.read_parquet(d)).limit(20).collect()
    assert got.equals(pa.concat_tables([table.slice(0, 10), table.slice(0, 10)]))


def test_reading_no_columns_is_refused_clearly(tmp_path):
    # columns=[] gave a raw pyarrow error (Parquet) or zero rows (CSV, NDJSON).
    pq.write_table(pa.table({"a": [1, 2]}), tmp_path / "a.parquet")
    (tmp_path / "a.csv").write_text("a\n1\n2\n")
    (tmp_path / "a.ndjson").write_text('{"a": 1}\n{"a": 2}\n')
    for read, name in [(rb.read_parquet, "a.parquet"), (rb.read_csv, "a.csv"), (rb.read_ndjson, "a.ndjson")]:
        with pytest.raises(ValueError, match="columns= must name at least one column"):
            read(tmp_path / name, columns=[])
