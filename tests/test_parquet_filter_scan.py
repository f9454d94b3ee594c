"""A filter directly over read_parquet runs inside the scan: the scan evaluates the predicate
(over a page's dictionary once, where it reads one column of fixed-width values) and decodes
the other columns only at the rows kept. Every answer equals DuckDB's WHERE over the same
files: dictionary-encoded chunks, chunks that fell back to plain pages, plain chunks, nulls,
NaN, predicates that keep nulls, and columns of every kind returned or not."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import riverbed as rb
from riverbed import col


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("scan_filter")
    rng = np.random.default_rng(7)
    n = 30_000
    for i, dict_limit in enumerate([1 << 20, 2_000]):  # dictionary throughout; falls back to plain
        few = rng.integers(-5, 20, n)
        t = pa.table({
            "id": pa.array(np.arange(i * n, (i + 1) * n), pa.int64()),
            "k": pa.array(few, pa.int64(), mask=rng.random(n) < 0.1),
            "x": pa.array(np.where(rng.random(n) < 0.02, np.nan, np.round(rng.normal(0, 2, n), 1)),
                          mask=rng.random(n) < 0.05),
            "d": pa.array(rng.integers(18_000, 18_400, n).astype("int32"), pa.date32()),
            "w": pa.array(rng.integers(-3, 3, n).astype("int8"), pa.int8()),
            "s": pa.array([f"s{v}" for v in rng.integers(0, 50, n)], mask=rng.random(n) < 0.05),
            "b": pa.array(rng.random(n) < 0.3),
        })
        pq.write_table(t, d / f"part-{i}.parquet", row_group_size=7_000, data_page_size=4_096,
                       dictionary_pagesize_limit=dict_limit)
    plain = pq.read_table(d / "part-0.parquet").slice(0, 9_000)
    plain = plain.set_column(0, "id", pa.array(np.arange(2 * n, 2 * n + 9_000), pa.int64()))
    pq.write_table(plain, d / "part-plain.parquet", row_group_size=3_000, use_dictionary=False)
    return d


CASES = [
    (col("k") > 10, "k > 10"),
    (col("k").is_null(), "k IS NULL"),
    ((col("k") < 0) | col("k").is_null(), "k < 0 OR k IS NULL"),
    # NaN is the largest value. (DuckDB's WHERE isnan(x) over Parquet keeps no row: its
    # statistics, which leave NaN out, refute it; the text of the value does not.)
    (col("x") > 0, "x > 0 OR x::varchar = 'nan'"),
    (col("x") <= 0.5, "x <= 0.5"),
    (col("x").is_nan(), "x::varchar = 'nan'"),
    (col("d") >= pa.scalar(18_300, pa.date32()).as_py(), "d >= DATE '2020-02-08'"),
    (col("w") == -1, "w = -1"),
    (col("s") == "s7", "s = 's7'"),
    ((col("k") > 3) & (col("x") < 1), "k > 3 AND x < 1"),
    (col("b"), "b"),
    (col("k") + 100 > 1_000, "k + 100 > 1000"),  # keeps nothing
    (col("k") > -100, "k > -100"),  # keeps every row with a k
]


@pytest.mark.parametrize("pred,where", CASES, ids=[w for _, w in CASES])
@pytest.mark.parametrize("columns", [None, ["id"], ["id", "s", "b", "d"]], ids=["all", "id", "some"])
def test_filtered_scan_matches_duckdb(files, pred, where, columns):
    env = rb.Environment(parallelism=2, batch_size=2_500)
    s = env.read_parquet(files).filter(pred)
    if columns is not None:
        s = s.select(*columns)
    got = s.collect().sort_by("id")
    cols = ", ".join(columns) if columns else "*"
    sql = f"SELECT {cols} FROM read_parquet('{files}/*.parquet') WHERE {where} ORDER BY id"
    want = duckdb.sql(sql).to_arrow_table()
    assert got.num_rows == want.num_rows
    for name in want.column_names:
        assert _values(got[name]) == _values(want[name].cast(got.schema.field(name).type)), name


def _values(arr):
    return ["NaN" if isinstance(v, float) and v != v else v for v in arr.to_pylist()]


def test_a_filtered_scan_reports_its_filter_and_rows_read(files):
    job = rb.Environment(parallelism=2).read_parquet(files).filter(col("k") > 10).select("id").start()
    t = job.collect()
    scans = [m for m in job.metrics(as_dict=True) if m["operator"].startswith("scan_parquet")]
    assert scans and all(m["operator"].endswith("+ filter") for m in scans)
    assert sum(m["records_out"] for m in scans) == t.num_rows
    total = duckdb.sql(f"SELECT count(*) FROM read_parquet('{files}/*.parquet')").fetchall()[0][0]
    assert job._h.progress()["rows_read"] == total  # what the progress bar shows


@pytest.mark.parametrize("batch_size,parallelism", [(1, 1), (65_536, 4)])
@pytest.mark.parametrize("pred,where", [CASES[2], CASES[3], CASES[8]], ids=[CASES[i][1] for i in (2, 3, 8)])
def test_filtered_scan_at_extreme_batch_sizes_and_parallelism(files, pred, where, batch_size, parallelism):
    path = files / "part-plain.parquet" if batch_size == 1 else files  # one file and many
    env = rb.Environment(parallelism=parallelism, batch_size=batch_size)
    got = env.read_parquet(path).filter(pred).select("id", "k", "x", "s").collect().sort_by("id")
    src = f"'{path}'" if batch_size == 1 else f"'{files}/*.parquet'"
    want = duckdb.sql(f"SELECT id, k, x, s FROM read_parquet({src}) WHERE {where} ORDER BY id").to_arrow_table()
    assert got.num_rows == want.num_rows
    for name in want.column_names:
        assert _values(got[name]) == _values(want[name]), name
