"""CSV and newline-delimited JSON in and out: read_csv / read_ndjson against pyarrow, Polars
and DuckDB reading the same files; write_csv / write_ndjson read back by them; errors that
name file, line and column; replay from a savepoint."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import time

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pytest

import riverbed as rb
from riverbed import col


def duck(sql: str) -> pa.Table:
    t = duckdb.sql(sql).arrow()
    return t.read_all() if isinstance(t, pa.RecordBatchReader) else t


def table() -> pa.Table:
    """Values that need care in CSV: separators, quotes and line breaks in strings, nulls in
    every type, negative and large numbers, dates and timestamps."""
    n = 200
    return pa.table({
        "id": pa.array(range(n), pa.int64()),
        "amount": pa.array([None if i % 11 == 0 else (i - 100) * 1.25 for i in range(n)], pa.float64()),
        "name": pa.array([None if i % 7 == 0 else f'n{i}, "q"\nx' if i % 5 == 0 else f"name{i}" for i in range(n)]),
        "ok": pa.array([None if i % 13 == 0 else i % 2 == 0 for i in range(n)]),
        "day": pa.array([None if i % 17 == 0 else dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(n)]),
        "ts": pa.array([None if i % 19 == 0 else dt.datetime(2024, 1, 1, 3, 4, 5) + dt.timedelta(minutes=37 * i,
                        microseconds=1000 * i) for i in range(n)], pa.timestamp("us")),
        "big": pa.array([(-1) ** i * (2 ** 62 - i) for i in range(n)], pa.int64()),
    })


def split_files(d, t: pa.Table, k: int, write) -> list[str]:
    paths = []
    step = (t.num_rows + k - 1) // k
    for i in range(k):
        p = os.path.join(d, f"part-{i:03d}.csv")
        write(t.slice(i * step, step), p)
        paths.append(p)
    return paths


# ---- CSV reading ----

@pytest.mark.parametrize("parallelism", [1, 3])
def test_read_csv_of_many_pyarrow_files_equals_pyarrow_and_duckdb(tmp_path, parallelism):
    t = table()
    split_files(tmp_path, t, 7, lambda part, p: pacsv.write_csv(part, p))
    env = rb.Environment(parallelism=parallelism, batch_size=16)
    got = env.read_csv(tmp_path).collect()
    # Inferred as pyarrow infers (timestamps in microseconds here), in file order.
    assert got.schema == t.schema
    assert got.to_pylist() == t.to_pylist()
    # pyarrow and DuckDB read the same files to the same values (strings: empty is null).
    opts = pacsv.ConvertOptions(column_types=t.schema, strings_can_be_null=True)
    pa_read = pa.concat_tables(pacsv.read_csv(os.path.join(tmp_path, f), convert_options=opts)
                               for f in sorted(os.listdir(tmp_path)))
    assert got.to_pylist() == pa_read.to_pylist()
    dk = duck(f"select * from read_csv('{tmp_path}/*.csv', header=true) order by id")
    assert got.select(["id", "amount", "name", "ok", "day"]).to_pylist() == \
        dk.select(["id", "amount", "name", "ok", "day"]).to_pylist()


def test_read_csv_polars_files_with_schema_separator_and_nulls(tmp_path):
    t = table()
    df = pl.from_arrow(t)
    df.write_csv(tmp_path / "a.tsv", separator="\t", null_value="NA")
    got = rb.read_csv(tmp_path / "a.tsv", separator="\t", null_values="NA", schema=t.schema).collect()
    want = pl.read_csv(tmp_path / "a.tsv", separator="\t", null_values="NA", schema=df.schema).to_arrow()
    assert got.to_pylist() == want.to_pylist() == t.to_pylist()


def test_read_csv_duckdb_files_without_header_and_projection(tmp_path):
    t = table()
    duckdb.from_arrow(t).write_csv(str(tmp_path / "d.csv"), header=False)
    schema = {"id": rb.Int64, "amount": rb.Float64, "name": rb.String, "ok": rb.Boolean, "day": rb.Date,
              "ts": rb.Timestamp("us"), "big": rb.Int64}
    s = rb.read_csv(tmp_path / "d.csv", has_header=False, schema=schema)
    got = s.filter(col("ok")).select("id", "name").collect()
    want = duck(f"""select id, name from read_csv('{tmp_path / "d.csv"}', header=false,
                 columns={{'id': 'BIGINT', 'amount': 'DOUBLE', 'name': 'VARCHAR', 'ok': 'BOOLEAN',
                          'day': 'DATE', 'ts': 'TIMESTAMP', 'big': 'BIGINT'}}) where ok""")
    assert got.to_pylist() == want.to_pylist()
    assert "scan_csv" in s.select("id").explain()


def test_read_csv_inference_matches_polars_and_duckdb(tmp_path):
    body = ("i,f,b,s,d,z,empty\n"
            "1,1.5,true,x,2024-01-02,2024-01-02 03:04:05+02:00,\n"
            "-7,2,FALSE,\"y, z\",2024-02-29,2024-01-02T00:00:00Z,\n"
            ",NaN,,,,,\n")
    (tmp_path / "a.csv").write_text(body)
    got = rb.read_csv(tmp_path / "a.csv").collect()
    assert got.schema == pa.schema({"i": pa.int64(), "f": pa.float64(), "b": pa.bool_(), "s": pa.string(),
                                    "d": pa.date32(), "z": pa.timestamp("us", "UTC"), "empty": pa.string()})
    want = pl.read_csv(tmp_path / "a.csv", try_parse_dates=True).to_arrow()
    for c in ("i", "b", "s", "d"):
        assert got[c].to_pylist() == want[c].to_pylist(), c
    assert got["f"].to_pylist()[:2] == want["f"].to_pylist()[:2]
    dk = duck(f"select z from read_csv('{tmp_path / 'a.csv'}')")
    assert [v.astimezone(dt.timezone.utc) if v else None for v in dk["z"].to_pylist()] == got["z"].to_pylist()


def test_read_csv_comments_bom_crlf_gzip_and_empty_files(tmp_path):
    (tmp_path / "a.csv").write_bytes(b"\xef\xbb\xbfx,y\r\n# a comment\r\n1,a\r\n")
    (tmp_path / "b.csv").write_bytes(b"")
    (tmp_path / "c.csv").write_bytes(b"x,y\n")
    with gzip.open(tmp_path / "d.csv.gz", "wb") as f:
        f.write(b"y,x\nb,2\n")
    got = rb.read_csv(tmp_path, comment_prefix="#").collect()
    assert got.to_pylist() == [{"x": 1, "y": "a"}, {"x": 2, "y": "b"}]
    # Only empty files: the schema given reads as an empty table, none is an error.
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "x.csv").write_bytes(b"")
    assert rb.read_csv(tmp_path / "e", schema={"x": rb.Int64}).collect().num_rows == 0
    with pytest.raises(rb.SchemaError, match=r"every file is empty.*pass schema="):
        rb.read_csv(tmp_path / "e").collect()
    with pytest.raises(rb.InputNotFoundError, match=r"no CSV files"):
        rb.read_csv(tmp_path / "e" / "*.tsv").collect()


def test_read_csv_errors_name_file_line_and_column(tmp_path):
    (tmp_path / "a.csv").write_text("id,amount\n1,2.5\n2,x\n")
    with pytest.raises(rb.DataError, match=r'a\.csv" line 3, character 3: column "amount": "x" is not a float64'):
        rb.read_csv(tmp_path / "a.csv", schema={"id": rb.Int64, "amount": rb.Float64}).collect()
    (tmp_path / "b.csv").write_text("id,amount\n1,2\n2\n")
    with pytest.raises(rb.DataError, match=r'b\.csv" line 3: 1 fields where the header has 2'):
        rb.read_csv(tmp_path / "b.csv").collect()
    (tmp_path / "c.csv").write_text('id\n"1\n')
    with pytest.raises(rb.DataError, match=r'c\.csv" line 2.*malformed CSV'):
        rb.read_csv(tmp_path / "c.csv", schema={"id": rb.String}).collect()
    (tmp_path / "d.csv").write_text("id,other\n1,2\n")
    with pytest.raises(rb.SchemaError, match=r'd\.csv" has no column "amount"'):
        rb.read_csv(tmp_path / "d.csv", schema={"id": rb.Int64, "amount": rb.Float64}).collect()
    with pytest.raises(rb.ColumnNotFoundError, match=r'did you mean "amount"'):
        rb.read_csv(tmp_path / "a.csv", columns=["amout"]).collect()
    with pytest.raises(ValueError, match="separator must be one character"):
        rb.read_csv(tmp_path / "a.csv", separator=";;")


# ---- NDJSON reading ----

def records(n: int = 150) -> list[dict]:
    return [{"id": i, "score": None if i % 9 == 0 else i / 4, "name": f"u{i}" if i % 4 else None,
             "user": None if i % 10 == 0 else {"city": f"c{i % 3}", "tags": [f"t{j}" for j in range(i % 3)]},
             "ts": (dt.datetime(2024, 5, 6, 7, 8, 9) + dt.timedelta(seconds=13 * i)).isoformat() + "Z"}
            for i in range(n)]


def write_ndjson(path, recs) -> None:
    with open(path, "w") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")


@pytest.mark.parametrize("parallelism", [1, 2])
def test_read_ndjson_with_schema_equals_pyarrow_json(tmp_path, parallelism):
    recs = records()
    for i in range(5):
        write_ndjson(tmp_path / f"p{i}.ndjson", recs[i * 30:(i + 1) * 30])
    schema = pa.schema({"id": pa.int64(), "score": pa.float64(), "name": pa.string(),
                        "user": pa.struct({"city": pa.string(), "tags": pa.list_(pa.string())}),
                        "ts": pa.timestamp("ms", "UTC")})
    got = rb.Environment(parallelism=parallelism, batch_size=8).read_ndjson(tmp_path, schema=schema).collect()
    want = pa.concat_tables(
        pajson.read_json(tmp_path / f"p{i}.ndjson",
                         parse_options=pajson.ParseOptions(explicit_schema=schema)) for i in range(5))
    assert got.to_pylist() == want.to_pylist()


def test_read_ndjson_inference_equals_polars(tmp_path):
    recs = records()
    write_ndjson(tmp_path / "a.jsonl", recs)
    got = rb.read_ndjson(tmp_path / "a.jsonl").collect()
    want = pl.read_ndjson(tmp_path / "a.jsonl").to_arrow()
    assert got.column_names == want.column_names  # the objects' order, as Polars
    assert got.to_pylist() == want.cast(got.schema).to_pylist()
    dk = duck(f"select id, name, score from read_json('{tmp_path / 'a.jsonl'}', format='newline_delimited')")
    assert got.select(["id", "name", "score"]).to_pylist() == dk.to_pylist()


def test_read_ndjson_errors_name_file_line_and_field(tmp_path):
    (tmp_path / "a.ndjson").write_text('{"id": 1, "user": {"id": 2}}\n\n{"id": 1, "user": {"id": "x"}}\n')
    with pytest.raises(rb.DataError, match=r'a\.ndjson" line 3: field "user\.id": expected int64, got JSON string'):
        rb.read_ndjson(tmp_path / "a.ndjson", schema={"id": rb.Int64,
                                                      "user": pa.struct({"id": pa.int64()})}).collect()
    (tmp_path / "b.ndjson").write_text('{"id": 1}\n{"id": 2\n')
    with pytest.raises(rb.DataError, match=r'b\.ndjson" line 2: not valid JSON'):
        rb.read_ndjson(tmp_path / "b.ndjson").collect()
    (tmp_path / "c.ndjson").write_text('{"id": 1}\n{"id": "x"}\n')
    with pytest.raises(rb.SchemaError, match=r'c\.ndjson" line 2\): field "id" is a JSON number .* pass schema='):
        rb.read_ndjson(tmp_path / "c.ndjson").collect()


def test_event_time_windows_over_csv(tmp_path):
    t0 = dt.datetime(2024, 1, 1)
    rows = [(i % 3, t0 + dt.timedelta(seconds=7 * i)) for i in range(300)]
    for f in range(3):
        with open(tmp_path / f"e{f}.csv", "w") as out:
            out.write("k,ts\n")
            for k, ts in rows[f * 100:(f + 1) * 100]:
                out.write(f"{k},{ts.isoformat(sep=' ')}\n")
    for mode in ("batch", "streaming"):
        got = (rb.read_csv(tmp_path, event_time="ts", max_out_of_orderness="1s")
               .key_by("k").window(rb.tumbling("1m")).agg(rb.count().alias("n"))
               .collect(runtime_mode=mode))
        want = duck(f"""select k, time_bucket(interval 1 minute, ts) as window_start, count(*) as n
                        from read_csv('{tmp_path}/*.csv') group by all""")
        assert sorted(((r["k"], r["window_start"], r["n"]) for r in got.to_pylist()), key=str) == \
            sorted(((r["k"], r["window_start"], r["n"]) for r in want.to_pylist()), key=str), mode


# ---- writing ----

@pytest.mark.parametrize("parallelism", [1, 3])
def test_write_csv_reads_back_in_pyarrow_polars_and_duckdb(tmp_path, parallelism):
    t = table()
    out = tmp_path / "out"
    files = rb.Environment(parallelism=parallelism).from_arrow(t).write_csv(out, max_rows_per_file=70)
    assert sum(files["rows"].to_pylist()) == t.num_rows
    names = sorted(n for n in os.listdir(out) if n.endswith(".csv"))
    assert len(names) >= 3 and not [n for n in os.listdir(out) if n.startswith(".")]
    opts = pacsv.ConvertOptions(column_types=t.schema, strings_can_be_null=True)
    back = pa.concat_tables(pacsv.read_csv(out / n, convert_options=opts) for n in names)
    assert sorted(back.to_pylist(), key=lambda r: r["id"]) == t.to_pylist()
    pl_back = pl.concat([pl.read_csv(out / n, schema=pl.from_arrow(t).schema) for n in names]).to_arrow()
    assert sorted(pl_back.to_pylist(), key=lambda r: r["id"]) == t.to_pylist()
    dk = duck(f"select id, amount, name, ok, day, big from read_csv('{out}/*.csv') order by id")
    assert dk.to_pylist() == t.select(["id", "amount", "name", "ok", "day", "big"]).to_pylist()
    assert rb.read_csv(out).sort("id").collect().to_pylist() == t.to_pylist()


def test_csv_floats_beyond_finite_read_and_write_as_polars(tmp_path):
    # Infinities are written "inf"/"-inf" (Polars' spelling, which Polars and pyarrow
    # infer as floats; Go's "+Inf" they read as strings); a number beyond a float type's
    # range reads as an infinity, as pyarrow, Polars and DuckDB, with or without a schema.
    t = pa.table({"f": [float("inf"), -float("inf"), 1.5, None, float("nan")],
                  "g": pa.array([1e38, -float("inf"), 0.25, 2.0, None], pa.float32())})
    out = tmp_path / "out"
    rb.from_arrow(t).write_csv(out)
    (name,) = [n for n in os.listdir(out) if n.endswith(".csv")]
    text = (out / name).read_text()
    assert "+Inf" not in text and "inf" in text
    want = t.to_pydict()
    got = pl.read_csv(out / name).to_dict(as_series=False)
    assert got["f"][:4] == want["f"][:4] and got["f"][4] != got["f"][4]
    got = pacsv.read_csv(out / name, convert_options=pacsv.ConvertOptions(column_types=t.schema)).to_pydict()
    assert got["f"][:4] == want["f"][:4] and got["g"] == want["g"]
    back = rb.read_csv(out / name, schema={"f": rb.Float64, "g": rb.Float32}).collect()
    assert back["f"].to_pylist()[:4] == want["f"][:4] and back["g"].to_pylist() == want["g"]
    src = tmp_path / "big.csv"
    src.write_text("a\n0.5\n1e400\n-1e400\n")
    inferred = rb.read_csv(src).collect()
    assert inferred.schema.field("a").type == pacsv.read_csv(src).schema.field("a").type == pa.float64()
    assert inferred["a"].to_pylist() == pacsv.read_csv(src)["a"].to_pylist() == [0.5, float("inf"), -float("inf")]
    for typ, pa_typ in [(rb.Float32, pa.float32()), (rb.Float64, pa.float64())]:
        got = rb.read_csv(src, schema={"a": typ}).collect()["a"].to_pylist()
        opts = pacsv.ConvertOptions(column_types={"a": pa_typ})
        assert got == pacsv.read_csv(src, convert_options=opts)["a"].to_pylist()


def test_write_csv_options_modes_and_refused_types(tmp_path):
    t = pa.table({"a": [1, None], "b": ["x;y", ""], "z": pa.array([0, 1], pa.timestamp("s", "UTC"))})
    out = tmp_path / "o"
    rb.from_arrow(t).write_csv(out, separator=";", null_value="NULL", include_header=False)
    [name] = [n for n in os.listdir(out) if n.endswith(".csv")]
    text = (out / name).read_text()
    assert text.splitlines()[0] == '1;"x;y";1970-01-01 00:00:00Z'
    assert text.splitlines()[1].startswith("NULL;;")
    with pytest.raises(rb.StorageError, match=r"already holds 1 CSV file"):
        rb.from_arrow(t).write_csv(out)
    rb.from_arrow(t).write_csv(out, mode="append", include_header=False, separator=";")
    assert len([n for n in os.listdir(out) if n.endswith(".csv")]) == 2
    rb.from_arrow(t).write_csv(out, mode="overwrite")
    assert len([n for n in os.listdir(out) if n.endswith(".csv")]) == 1
    with pytest.raises(rb.TypeMismatchError, match=r'column "d" has type duration'):
        rb.from_arrow(pa.table({"d": pa.array([1], pa.duration("s"))})).write_csv(tmp_path / "x")
    with pytest.raises(rb.PlanError, match=r"null_value"):
        rb.from_arrow(t).write_csv(tmp_path / "y", null_value="a,b")


def test_write_ndjson_reads_back_in_polars_pyarrow_and_duckdb(tmp_path):
    recs = records(60)
    write_ndjson(tmp_path / "in.ndjson", recs)
    schema = pa.schema({"id": pa.int64(), "score": pa.float64(), "name": pa.string(),
                        "user": pa.struct({"city": pa.string(), "tags": pa.list_(pa.string())}),
                        "ts": pa.timestamp("ms", "UTC")})
    src = rb.Environment(parallelism=2).read_ndjson(tmp_path / "in.ndjson", schema=schema)
    out = tmp_path / "out"
    src.write_ndjson(out, max_rows_per_file=25)
    names = sorted(n for n in os.listdir(out) if n.endswith(".ndjson"))
    assert len(names) >= 3
    want = pajson.read_json(tmp_path / "in.ndjson", parse_options=pajson.ParseOptions(explicit_schema=schema))
    back = pa.concat_tables(pajson.read_json(out / n, parse_options=pajson.ParseOptions(explicit_schema=schema))
                            for n in names)
    assert sorted(back.to_pylist(), key=lambda r: r["id"]) == want.to_pylist()
    pl_back = pl.concat([pl.read_ndjson(out / n) for n in names]).sort("id")
    assert pl_back["name"].to_list() == want["name"].to_pylist()
    assert pl_back["user"].to_list() == want["user"].to_pylist()
    dk = duck(f"select count(*) as n, sum(id) as s from read_json('{out}/*.ndjson', format='newline_delimited')")
    assert dk.to_pylist() == [{"n": 60, "s": sum(range(60))}]
    with pytest.raises(rb.DataError, match=r'column "f" row 0'):
        rb.from_pydict({"f": [float("nan")]}).write_ndjson(tmp_path / "nan")


def test_csv_source_and_sink_resume_from_a_savepoint_exactly_once(tmp_path):
    n_files, per = 8, 1500
    src = tmp_path / "in"
    src.mkdir()
    for f in range(n_files):
        with open(src / f"f{f}.csv", "w") as out:
            out.write("x\n")
            for i in range(per):
                out.write(f"{f * per + i}\n")

    def slow(b: pa.RecordBatch) -> pa.RecordBatch:
        time.sleep(0.02)  # so that the stop lands mid-input
        return b

    def pipeline(env: rb.Environment) -> rb.Stream:
        return env.read_csv(src).map_batches(slow).write_csv(tmp_path / "out", lazy=True)

    env = rb.Environment(parallelism=2, batch_size=50, runtime_mode="streaming")
    job = pipeline(env).start()
    time.sleep(0.5)
    job.stop(savepoint=tmp_path / "sp")
    env3 = rb.Environment(parallelism=3, batch_size=50, runtime_mode="streaming")
    restored = pipeline(env3).start(restore=tmp_path / "sp")
    restored.collect()
    read = sum(m["records_out"] for m in restored.metrics().to_pylist() if m["operator"].startswith("scan_csv"))
    assert 0 < read < n_files * per, f"the restored run read {read} rows: the stop did not land mid-input"
    got = duck(f"select x from read_csv('{tmp_path}/out/*.csv') order by x")["x"].to_pylist()
    assert got == list(range(n_files * per))  # every row once: none lost, none twice


def test_csv_one_column_nulls_and_quoted_line_breaks_survive(tmp_path):
    # An empty line of a one-column file is that column's null (what write_csv writes for
    # it, what Polars and DuckDB read), and a quoted field keeps its \r\n. Oracles: Polars
    # and pyarrow reading the same bytes.
    p = tmp_path / "one.csv"
    p.write_bytes(b"a\n1\n\n3\n\n")
    got = rb.read_csv(p).collect()["a"].to_pylist()
    assert got == pl.read_csv(p)["a"].to_list() == [1, None, 3, None]
    out = tmp_path / "out"
    rb.from_arrow(pa.table({"x": pa.array([1, None, 3, None], pa.int64())})).write_csv(out)
    assert rb.read_csv(out).collect()["x"].to_pylist() == [1, None, 3, None]
    q = tmp_path / "crlf.csv"
    q.write_bytes(b's,n\r\n"x\r\ny",1\r\n"p\nq",2\r\n')
    got = rb.read_csv(q).collect()
    assert got["s"].to_pylist() == pacsv.read_csv(q)["s"].to_pylist() == ["x\r\ny", "p\nq"]
    out2 = tmp_path / "out2"
    rb.from_arrow(got).write_csv(out2)
    assert rb.read_csv(out2).collect()["s"].to_pylist() == ["x\r\ny", "p\nq"]
    two = tmp_path / "two.csv"  # an empty line between rows of several columns is no row
    two.write_bytes(b"a,b\n1,2\n\n3,4\n")
    assert rb.read_csv(two).collect().to_pylist() == [{"a": 1, "b": 2}, {"a": 3, "b": 4}]


def test_ndjson_nesting_deeper_than_arrow_hands_over_is_a_schema_error(tmp_path):
    # The Arrow C data interface takes 64 levels, the batch's own included: 63 nested
    # objects read as pyarrow reads them, deeper ones are a SchemaError naming the limit
    # (a raw pyarrow error at 64, "not one JSON object" far beyond, before).
    for depth in (63, 64, 100):
        p = tmp_path / f"deep{depth}.ndjson"
        p.write_text('{"a": ' * depth + "1" + "}" * depth + "\n")
        if depth == 63:
            assert rb.read_ndjson(p).collect().to_pylist() == pajson.read_json(p).to_pylist()
        else:
            with pytest.raises(rb.SchemaError, match="nested more than 63 levels deep"):
                rb.read_ndjson(p).collect()


def test_csv_lines_ended_by_a_lone_carriage_return_are_refused(tmp_path):
    # Classic Mac OS line ends read as one line of garbled names and no rows, silently.
    p = tmp_path / "mac.csv"
    p.write_bytes(b"a,b\r1,x\r2,y\r")
    with pytest.raises(rb.DataError, match=r"mac.csv.*header holds a carriage return"):
        rb.read_csv(p).collect()


def test_schema_types_given_by_name(tmp_path):
    # A type may be given by name (as cast() takes it): it reads as that type, and an
    # unknown name is an error naming it (it was the null type, blamed on the format).
    src = tmp_path / "a.csv"
    src.write_text("a,b,t\n1,2.5,2024-01-02 03:04:05Z\n")
    got = rb.read_csv(src, schema={"a": "int32", "b": "double", "t": "timestamp[ms, tz=UTC]"}).collect()
    want = pacsv.read_csv(src, convert_options=pacsv.ConvertOptions(column_types={
        "a": pa.int32(), "b": pa.float64(), "t": pa.timestamp("ms", "UTC")}))
    assert got.schema == want.schema and got.to_pylist() == want.to_pylist()
    with pytest.raises(rb.TypeMismatchError, match="unknown type name 'nonsense'"):
        rb.read_csv(src, schema={"a": "nonsense"}).collect()


def test_text_that_is_not_utf8_is_a_data_error_naming_where(tmp_path):
    # String columns are UTF-8 in Arrow: bytes that are not are an error naming the file
    # and line (NDJSON, as CSV) or the column and row (Arrow input), never replacement
    # characters or invalid Arrow handed back. Oracles: Polars and DuckDB refuse the file,
    # pyarrow's full validation the array.
    import numpy as np

    src = tmp_path / "a.ndjson"
    src.write_bytes(b'{"a": "ok"}\n{"a": "\xff\xfe"}\n')
    with pytest.raises(pl.exceptions.ComputeError):
        pl.read_ndjson(src)
    with pytest.raises(duckdb.Error, match="UTF-8"):
        duckdb.sql(f"select * from read_json('{src}')").fetchall()
    with pytest.raises(rb.DataError, match=r'a\.ndjson" line 2: .*not valid UTF-8'):
        rb.read_ndjson(src).collect()
    offsets = pa.py_buffer(np.array([0, 2, 4], np.int32).tobytes())
    bad = pa.Array.from_buffers(pa.string(), 2, [None, offsets, pa.py_buffer(b"ok\xff\xfe")])
    with pytest.raises(pa.ArrowInvalid):
        bad.validate(full=True)
    with pytest.raises(rb.DataError, match=r'column "s" .* row 1 is not valid UTF-8'):
        rb.from_arrow(pa.table({"s": bad})).collect()
    assert rb.from_arrow(pa.table({"s": ["ok", "ü✓"]})).collect()["s"].to_pylist() == ["ok", "ü✓"]


def test_a_column_text_files_cannot_hold_gets_a_hint_that_applies(tmp_path):
    # write_ndjson of a map said "write the stream with write_ndjson".
    t = pa.table({"m": pa.array([[("a", 1)]], pa.map_(pa.string(), pa.int64())), "l": pa.array([[1]])})
    with pytest.raises(rb.TypeMismatchError,
                       match=r'write_ndjson: column "m" .* NDJSON; leave it out \(a map is written'):
        rb.from_arrow(t).write_ndjson(str(tmp_path / "a"))
    with pytest.raises(rb.TypeMismatchError,
                       match=r'write_csv: column "l" .* CSV; leave it out, or write the stream with write_ndjson'):
        rb.from_arrow(t.select(["l"])).write_csv(str(tmp_path / "b"))


def test_decimal_text_beyond_128_bits_or_not_decimal_is_a_data_error(tmp_path):
    # A JSON number past 128 bits (1e100) into a decimal column failed with an internal
    # error (a panic's stack); text big.Rat reads but no decimal reader does ("0x10",
    # "1_000") was read as 16.00 and 1000.00. pyarrow refuses both, as here.
    dec = pa.decimal128(10, 2)
    (tmp_path / "a.ndjson").write_text('{"d": 1.5}\n{"d": 1e100}\n')
    with pytest.raises(rb.DataError, match=r'a\.ndjson" line 2: field "d": 1e100 does not fit in decimal\(10, 2\)'):
        rb.read_ndjson(tmp_path / "a.ndjson", schema={"d": dec}).collect()
    for i, text in enumerate(["0x10", "1_000", "0b101", "1/2"]):
        (tmp_path / f"{i}.csv").write_text(f"d\n2.5\n{text}\n")
        with pytest.raises(pa.ArrowInvalid):
            pacsv.read_csv(tmp_path / f"{i}.csv", convert_options=pacsv.ConvertOptions(column_types={"d": dec}))
        want = rf'{i}\.csv" line 3, character 1: column "d": "{text}" is not a decimal number'
        with pytest.raises(rb.DataError, match=want):
            rb.read_csv(tmp_path / f"{i}.csv", schema={"d": dec}).collect()
    (tmp_path / "ok.csv").write_text("d\n+3\n-.5\n5.\n1.5e2\n-2.5E-1\n")
    got = rb.read_csv(tmp_path / "ok.csv", schema={"d": dec}).collect()
    want = pacsv.read_csv(tmp_path / "ok.csv", convert_options=pacsv.ConvertOptions(column_types={"d": dec}))
    assert got.equals(want)


def test_csv_booleans_read_as_pyarrow_reads_them(tmp_path):
    # 1 and 0 in a boolean column were an error; pyarrow (and DuckDB) read them.
    (tmp_path / "b.csv").write_text("b\n1\n0\ntrue\nFalse\nTRUE\n")
    got = rb.read_csv(tmp_path / "b.csv", schema={"b": pa.bool_()}).collect()
    want = pacsv.read_csv(tmp_path / "b.csv", convert_options=pacsv.ConvertOptions(column_types={"b": pa.bool_()}))
    assert got.equals(want)
    assert duckdb.sql(f"select b from read_csv('{tmp_path / 'b.csv'}', columns={{'b': 'BOOLEAN'}})").fetchall() == [
        (v,) for v in got["b"].to_pylist()]
    (tmp_path / "c.csv").write_text("b\nyes\n")
    with pytest.raises(rb.DataError, match=r'c\.csv" line 2, character 1: column "b": "yes" is not a boolean'):
        rb.read_csv(tmp_path / "c.csv", schema={"b": pa.bool_()}).collect()
