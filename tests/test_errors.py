"""Bad input raises a specific exception from one hierarchy, naming the problem — before
anything runs where it can be known in advance; never a crash, hang or partial result."""

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import riverbed as rb
from riverbed import col


@pytest.fixture
def orders(tmp_path):
    t = pa.table({"user_id": [1, 2, 3], "amount": [1.5, 2.5, -1.0], "name": ["a", "b", "c"]})
    d = tmp_path / "orders"
    d.mkdir()
    pq.write_table(t, d / "a.parquet")
    pq.write_table(t, d / "b.parquet")
    return d


def test_unknown_column_suggests(orders):
    with pytest.raises(rb.ColumnNotFoundError, match=r'no column "amout"; did you mean "amount"\?'):
        rb.read_parquet(orders).filter(col("amout") > 0).collect()


def test_unknown_column_lists_columns_when_no_close_match():
    with pytest.raises(rb.ColumnNotFoundError, match=r'no column "zzz".*"user_id"'):
        rb.from_pydict({"user_id": [1]}).select(col("zzz")).collect()


def test_errors_share_one_root_and_std_bases(orders):
    with pytest.raises(rb.RiverbedError):
        rb.read_parquet(orders).select("nope").collect()
    with pytest.raises(KeyError):
        rb.read_parquet(orders).select("nope").collect()


def test_type_mismatch_in_comparison(orders):
    with pytest.raises(rb.TypeMismatchError, match=r'cannot compare col\("name"\) \(utf8\) with lit\(5\) \(int64\)'):
        rb.read_parquet(orders).filter(col("name") > 5).collect()


def test_arithmetic_on_string(orders):
    with pytest.raises(rb.TypeMismatchError, match="arithmetic needs numeric operands"):
        rb.read_parquet(orders).with_columns(x=col("name") * 2).collect()


@pytest.mark.parametrize("agg", ["sum", "mean"])
def test_numeric_aggregation_of_string(orders, agg):
    with pytest.raises(rb.TypeMismatchError, match=rf'cannot take the {agg} of col\("name"\): it is utf8'):
        rb.read_parquet(orders).group_by("user_id").agg(getattr(col("name"), agg)()).collect()


def test_filter_needs_boolean(orders):
    with pytest.raises(rb.TypeMismatchError, match="is float64, not bool"):
        rb.read_parquet(orders).filter(col("amount") + 1).collect()


def test_expr_bool_teaches():
    with pytest.raises(TypeError, match="Use '&' instead of 'and'"):
        (col("a") > 1) and (col("b") < 2)  # noqa: B015


def test_missing_path(tmp_path):
    with pytest.raises(rb.InputNotFoundError, match="nothing-here"):
        rb.read_parquet(tmp_path / "nothing-here").collect()
    with pytest.raises(FileNotFoundError):
        rb.read_parquet(str(tmp_path / "*.parquet")).collect()


def test_truncated_parquet_names_file(orders):
    victim = orders / "b.parquet"
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    with pytest.raises(rb.DataError, match="b.parquet"):
        rb.read_parquet(orders).collect()


def test_corrupt_page_names_file(tmp_path):
    t = pa.table({"x": list(range(100_000))})
    path = tmp_path / "bad.parquet"
    pq.write_table(t, path, compression="none")
    data = bytearray(path.read_bytes())
    # Garble the first page header (it starts right after the 4-byte magic); keep the footer.
    for i in range(4, 40):
        data[i] = 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(rb.DataError, match="bad.parquet"):
        rb.read_parquet(path).collect()


def test_garbage_file(tmp_path):
    (tmp_path / "x.parquet").write_bytes(b"this is not a parquet file at all" * 10)
    with pytest.raises(rb.DataError, match="x.parquet"):
        rb.read_parquet(tmp_path).collect()


def test_incompatible_schemas_across_files(tmp_path):
    pq.write_table(pa.table({"id": [1], "amount": [1.0]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"id": [2], "amount": [1]}), tmp_path / "b.parquet")
    with pytest.raises(rb.SchemaError, match=r'(?s)b\.parquet.*a\.parquet.*"amount"'):
        rb.read_parquet(tmp_path).collect()


def test_union_of_different_schemas():
    a = rb.from_pydict({"x": [1]})
    b = rb.from_pydict({"y": [1]})
    with pytest.raises(rb.SchemaError, match="union"):
        a.union(b).collect()


def test_unknown_aggregation_suggests():
    from riverbed.expr import Expr

    bad = Expr({"agg": "summ", "args": [col("x")._to_plan()]})
    with pytest.raises(rb.PlanError, match=r'did you mean "sum"\?'):
        rb.from_pydict({"x": [1]}).group_by("x").agg(bad).collect()


def test_duplicate_output_name():
    with pytest.raises(rb.PlanError, match='"x" is produced twice'):
        rb.from_pydict({"x": [1]}).select(col("x"), (col("x") + 1)).collect()


def test_aggregation_outside_agg():
    # select and with_columns take aggregations (test_aggregations.py); a filter does not
    with pytest.raises(rb.PlanError, match=r"only allowed inside group_by"):
        rb.from_pydict({"x": [1]}).filter(col("x").sum() > 0).collect()
    with pytest.raises(rb.PlanError, match=r"not inside another aggregation"):
        rb.from_pydict({"x": [1]}).select(col("x").sum().max()).collect()


def test_bad_cast_value_is_data_error():
    with pytest.raises(rb.DataError, match=r'col\("s"\)\.cast\(int64\)'):
        rb.from_pydict({"s": ["1", "two"]}).select(col("s").cast(rb.Int64)).collect()


def test_invalid_regex():
    with pytest.raises(rb.TypeMismatchError, match="invalid regular expression"):
        rb.from_pydict({"s": ["a"]}).filter(col("s").str.contains("(")).collect()


def test_validation_happens_before_running(tmp_path):
    """A plan error is raised before any output is written."""
    out = tmp_path / "out"
    with pytest.raises(rb.ColumnNotFoundError):
        rb.from_pydict({"x": [1]}).select(col("y")).write_parquet(out)
    assert not out.exists() or not any(out.iterdir())


def test_output_dir_not_empty(tmp_path):
    s = rb.from_pydict({"x": [1, 2]})
    s.write_parquet(tmp_path / "o")
    with pytest.raises(rb.StorageError, match='mode="overwrite"'):
        s.write_parquet(tmp_path / "o")


def test_one_shot_reader_reused():
    reader = pa.table({"x": [1]}).to_reader()
    s = rb.from_arrow(reader)
    assert s.collect()["x"].to_pylist() == [1]
    with pytest.raises(rb.RiverbedError, match="one-shot"):
        s.collect()


def test_bad_input_object():
    with pytest.raises(TypeError, match="cannot read int as Arrow data"):
        rb.from_arrow(5)


def test_errors_do_not_leak_engine_memory(orders):
    before = rb._allocated_bytes()
    for _ in range(20):
        with pytest.raises(rb.DataError):
            rb.from_pydict({"s": ["1", "two"] * 1000}).select(col("s").cast(rb.Int64)).collect()
    assert rb._allocated_bytes() == before
    assert os.path.exists(orders)


@pytest.mark.parametrize("build", [
    lambda s: s.key_by("k").window(rb.tumbling("10s", on="tss")).top_n(1, "v"),
    lambda s: s.key_by("kk").window(rb.tumbling("10s")).top_n(1, "v"),
    lambda s: s.key_by("k").window(rb.tumbling("10s")).top_n(1, "vv"),
    lambda s: s.key_by("kk").window(rb.tumbling("10s")).agg(rb.count()),
    lambda s: s.window(rb.sliding("10s", every="5s", on="tss")).agg(rb.count()),
], ids=["top_n-window-on", "top_n-key", "top_n-by", "window-key", "window-on"])
def test_unknown_column_in_stateful_operators_is_a_column_error_and_library_keeps_working(build):
    import datetime as dt
    t = pa.table({"k": [1, 1, 2], "v": [3, 1, 2],
                  "ts": [dt.datetime(2026, 1, 1, 0, 0, s) for s in (1, 2, 3)]})
    s = rb.from_arrow(t, event_time="ts")
    with pytest.raises(rb.ColumnNotFoundError):
        _ = build(s).schema
    # the library is not disabled: a valid job still runs and answers correctly
    assert rb.from_arrow(t).filter(col("v") > 1).collect().column("v").to_pylist() == [3, 2]


def test_key_errors_name_the_operator_and_the_key():
    """Keys of group_by and of windows: a repeated key, one clashing with window_start, and
    one that cannot be hashed are plan errors that say which; sort and unique keys follow the
    same rules (one compiler of keys) and name the operator."""
    t = rb.from_pydict({"k": [1, 2], "f": [[1], [2]],
                        "ts": pa.array([0, 1], pa.timestamp("us"))}, event_time="ts")
    with pytest.raises(rb.PlanError, match='the key "k" is given twice'):
        _ = t.group_by("k", "k").agg(rb.count()).schema
    with pytest.raises(rb.PlanError, match='the key "window_start" is given twice or clashes with window_start'):
        _ = t.key_by(rb.col("k").alias("window_start")).window(rb.tumbling("1s")).agg(rb.count()).schema
    with pytest.raises(rb.RiverbedError, match="cannot group by"):
        _ = t.group_by("f").agg(rb.count()).schema
    with pytest.raises(rb.RiverbedError, match="cannot key by"):
        _ = t.key_by("f").window(rb.tumbling("1s")).agg(rb.count()).schema
    for what, build in (("deduplicate", lambda: t.unique("f")), ("deduplicate", lambda: t.unique(["k", "f"])),
                        ("sort", lambda: t.sort("f")), ("sort", lambda: t.sort(rb.col("k"), rb.col("f")))):
        op = "unique" if what == "deduplicate" else what
        with pytest.raises(rb.TypeMismatchError, match=rf"{op}.*: cannot {what} by .*f.* of type list"):
            _ = build().schema
    with pytest.raises(rb.ColumnNotFoundError, match="nope"):
        _ = t.sort("k", rb.col("nope") + 1).schema
    # a dictionary key is compared by its values, as in group_by (the answers worked by hand:
    # sorted a, a, b, b keeps input order among ties; the last "b" is n=3, the last "a" n=4)
    d = rb.from_arrow(pa.table({"k": pa.array(["b", "a", "b", "a"]).dictionary_encode(), "n": [1, 2, 3, 4]}))
    assert d.unique("k", keep="last").collect()["n"].to_pylist() == [3, 4]
    assert d.sort("k").collect()["n"].to_pylist() == [2, 4, 1, 3]


def test_text_the_engine_would_cut_or_misread_is_refused(tmp_path):
    # The engine reads SQL, paths and column names as C strings: a NUL byte would end them
    # early (a query without its WHERE, another directory), so it is refused by name;
    # JSON has no NaN, so a NaN or infinite option is refused instead of garbling the plan.
    import math

    t = pa.table({"a": [1, 200, 300]})
    assert rb.sql("SELECT a FROM t WHERE a > 100", t=t).collect().num_rows == 2
    with pytest.raises(rb.InvalidArgumentError, match="NUL byte"):
        rb.sql("SELECT a FROM t\x00 WHERE a > 100", t=t).collect()
    with pytest.raises(rb.InvalidArgumentError, match="column name with a NUL byte"):
        rb.from_arrow(pa.table({"a\x00b": [1]})).collect()
    with pytest.raises(rb.InvalidArgumentError, match="NUL byte"):
        rb.read_savepoint(str(tmp_path) + "\x00junk")
    for build in (lambda: rb.nexmark(events_per_second=math.nan).bids(),
                  lambda: rb.nexmark(events_per_second=math.inf).bids(),
                  lambda: rb.from_arrow(pa.table({"x": [2.0]})).select(col("x").log(base=math.nan))):
        with pytest.raises(rb.InvalidArgumentError, match="NaN or infinite"):
            build().limit(1).collect()


def test_argument_errors_raised_in_python_are_riverbed_errors():
    # Every exception riverbed raises on purpose derives from RiverbedError, argument
    # checks made in Python too (they still are ValueError or TypeError).
    s = rb.from_arrow(pa.table({"x": [1]}))
    for bad in (lambda: s.limit(-1), lambda: s.join(s, on="x", how="sideways"), lambda: col("x").quantile(1.5),
                lambda: rb.lit(2**70), lambda: s.select(), lambda: col(5), lambda: s.filter("x")):
        with pytest.raises(rb.RiverbedError) as e:
            bad()
        assert isinstance(e.value, (ValueError, TypeError))


def test_map_rows_must_have_the_output_columns_and_pandas_rows_without_columns_count():
    import pandas as pd

    s = rb.from_arrow(pa.table({"a": [1, 2, 3]}))
    with pytest.raises(rb.UserFunctionError, match=r"missing \['totl'\], unexpected \['total'\]"):
        s.map(lambda r: {"total": r.a * 2}, output_schema={"totl": pa.int64()}).collect()
    with pytest.raises(rb.UserFunctionError, match=r"missing \['y'\]"):
        rb.from_arrow(pa.table({"a": list(range(300))})).map(
            lambda r: {"y": r.a} if r.a < 150 else {"z": r.a}).collect()
    assert s.map(lambda r: {"y": r.a, "z": None}).collect().to_pylist() == [
        {"y": i, "z": None} for i in (1, 2, 3)]
    df = pd.DataFrame(index=range(3))
    assert rb.from_pandas(df).group_by().agg(rb.count()).collect()["count"].to_pylist() == [len(df)]


def test_a_live_stream_that_raises_fails_the_job_with_its_exception_as_cause():
    schema = pa.schema([("a", pa.int64())])

    def gen():
        yield pa.record_batch({"a": [1]})
        raise RuntimeError("source broke")

    with pytest.raises(rb.DataError) as e:
        rb.from_arrow(pa.RecordBatchReader.from_batches(schema, gen())).collect()
    assert "the stream raised RuntimeError: source broke" in str(e.value)
    assert "Traceback" not in str(e.value) and "Unknown error" not in str(e.value)
    assert isinstance(e.value.__cause__, RuntimeError) and str(e.value.__cause__) == "source broke"


def test_values_too_large_say_so():
    import datetime as dt

    s = rb.from_arrow(pa.table({"a": [1, 2], "s": ["x", "y"], "t": [dt.datetime(2024, 1, 1)] * 2}))
    huge = dt.timedelta(days=999_999_999)
    cases = [(lambda: s.with_columns(t2=col("t") + huge), "does not fit in duration"),
             (lambda: s.select(col("a").shift(2**62).over("s")), "out of range"),
             (lambda: s.limit(2**70), "out of range"),
             (lambda: rb.from_arrow(pa.table({"t": [dt.datetime(2024, 1, 1)]}), event_time="t")
              .window(rb.tumbling(huge)).agg(rb.count()), "too long")]
    for build, what in cases:
        with pytest.raises(rb.PlanError, match=what):
            build().collect()


def test_counts_out_of_range_and_empty_keys_are_named_for_the_call_made(tmp_path):
    t = rb.from_pydict({"x": [1, 2, 3], "k": [1, 1, 2], "xs": [[1], [2], []]})
    with pytest.raises(rb.PlanError, match=r"tail: 9223372036854775808 is out of range \(below 2\*\*53\)"):
        t.tail(2**63)
    with pytest.raises(rb.PlanError, match=r"top_k: 1152921504606846976 is out of range"):
        t.top_k(2**60, by="x")
    with pytest.raises(rb.PlanError, match=r"bottom_k takes a non-negative integer, got True"):
        t.bottom_k(True, by="x")
    for method in ("top_k", "bottom_k"):
        with pytest.raises(rb.PlanError, match=rf"{method} needs at least one column in by="):
            getattr(t, method)(2, by=[])
    with pytest.raises(rb.PlanError, match=r"rolling_sum: window_size 4611686018427387904 is out of range"):
        t.with_columns(col("x").rolling_sum(2**62).over("k")).collect()
    # CSV has no nested values: the hint is the format that has them, not a cast that is refused.
    with pytest.raises(rb.TypeMismatchError, match=r'column "xs" .* write the stream with write_ndjson'):
        t.write_csv(str(tmp_path / "o"))
    t.write_ndjson(str(tmp_path / "nd"))  # the hint holds


def test_over_expressions_print_as_written():
    t = rb.from_pydict({"x": [1, 2], "k": [1, 1], "o": [2, 1]})
    written = r'over: \(col\("x"\) \+ lit\("a"\)\)\.over\(col\("k"\), order_by=\[col\("o"\)\]\): '
    with pytest.raises(rb.PlanError, match=written):
        t.with_columns((col("x") + "a").over("k", order_by="o")).collect()
    u = rb.from_arrow(pa.table({"u": pa.array([2**63, 2**63], pa.uint64()), "k": [1, 1]}))
    with pytest.raises(rb.DataError) as e:
        u.with_columns(col("u").sum().over("k").alias("s")).collect()
    assert str(e.value).startswith('over: col("u").sum().over(col("k")): u: sum of col("u") overflows uint64'), e.value
