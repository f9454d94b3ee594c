"""map_batches: Python functions on Arrow batches, called from the engine's threads."""

import threading
import time
import traceback

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import riverbed as rb
from riverbed import col


@pytest.mark.parametrize("parallelism", [1, 3])
def test_map_batches_matches_pyarrow(parallelism):
    t = pa.table({"x": pa.array(range(10_000)), "s": pa.array([f"v{i % 7}" for i in range(10_000)])})

    def fn(b: pa.RecordBatch) -> pa.RecordBatch:
        return pa.record_batch({"x2": pc.multiply(b["x"], 3), "s": pc.utf8_upper(b["s"])})

    out = (rb.Environment(parallelism=parallelism, batch_size=777).from_arrow(t)
           .map_batches(fn, schema={"x2": rb.Int64, "s": rb.Utf8})
           .filter(col("x2") % 2 == 0)
           .collect())
    want = pa.table({"x2": pc.multiply(t["x"], 3), "s": pc.utf8_upper(t["s"])})
    want = want.filter(pc.equal(pc.bit_wise_and(want["x2"], 1), 0))
    assert out.equals(want.combine_chunks().cast(out.schema))  # input order is kept


def test_pandas_result_and_filtering_rows():
    def fn(b):
        df = b.to_pandas()
        return df[df.x % 2 == 1].assign(half=lambda d: d.x / 2)

    out = rb.from_pydict({"x": [1, 2, 3, 4, 5]}).map_batches(fn, schema={"x": rb.Int64, "half": rb.Float64}).collect()
    assert out.to_pydict() == {"x": [1, 3, 5], "half": [0.5, 1.5, 2.5]}


def test_exception_surfaces_with_original_traceback():
    def explode(b):
        if b.num_rows:
            raise KeyError("no such customer")
        return b

    with pytest.raises(rb.UserFunctionError, match="explode raised KeyError") as info:
        rb.Environment(parallelism=2).from_pydict({"x": list(range(100))}).map_batches(explode).collect()
    cause = info.value.__cause__
    assert isinstance(cause, KeyError)
    tb = "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))
    assert "in explode" in tb and 'raise KeyError("no such customer")' in tb
    # The engine is fine afterwards.
    assert rb.from_pydict({"x": [1]}).map_batches(lambda b: b).collect().num_rows == 1


def test_wrong_result_schema_is_reported():
    with pytest.raises(rb.UserFunctionError, match=r"returned columns \{y: int64\}.*declares \{x: int64\}"):
        rb.from_pydict({"x": [1]}).map_batches(lambda b: pa.record_batch({"y": [1]})).collect()


def test_wrong_result_type_is_reported():
    with pytest.raises(rb.UserFunctionError, match="must return a pyarrow RecordBatch"):
        rb.from_pydict({"x": [1]}).map_batches(lambda b: 42).collect()


def test_gil_is_held_only_during_the_call():
    """A slow Python function does not stop other Python threads."""
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.002)

    def slow(b):
        time.sleep(0.01)  # releases the GIL, as real work in numpy/pyarrow does
        return b

    th = threading.Thread(target=ticker)
    th.start()
    try:
        env = rb.Environment(parallelism=2, batch_size=10)
        out = env.from_pydict({"x": list(range(500))}).map_batches(slow).collect()
    finally:
        stop.set()
        th.join()
    assert out.num_rows == 500
    assert len(ticks) > 50


def test_not_callable():
    with pytest.raises(TypeError, match="takes a function"):
        rb.from_pydict({"x": [1]}).map_batches(5)


def test_functions_are_unregistered_when_their_streams_and_jobs_are_gone():
    """A map_batches function stays registered while a stream or a running job can call it,
    and is freed after: a notebook that builds pipelines in a loop does not keep them all."""
    import gc

    from riverbed import udf

    gc.collect()
    before = udf.registered()
    for i in range(20):
        s = rb.from_pydict({"x": [1, 2, 3]}).map_batches(lambda b, i=i: b)
        assert s.collect()["x"].to_pylist() == [1, 2, 3]
    del s
    gc.collect()
    assert udf.registered() == before
    # A job started from a stream that is then dropped can still call its function.
    job = rb.from_pydict({"x": [1, 2, 3]}).map_batches(lambda b: b).start()
    gc.collect()
    assert udf.registered() == before + 1
    assert sum(b.num_rows for b in job.results(timeout="60s")) == 3


def test_exceptions_not_raised_are_freed_with_their_function():
    """The exception (and traceback, which holds the batch) of a failed function is kept until
    its job's error is raised; those never raised (here the other subtask's: both fail at once)
    are freed when the function's streams and jobs are gone."""
    import gc

    from riverbed import udf

    both_in = threading.Barrier(2, timeout=10)

    def fail(b):
        both_in.wait()  # both subtasks are in the function before either fails
        raise ValueError("bad batch")

    gc.collect()
    before = udf.stored_errors()
    s = rb.Environment(parallelism=2, batch_size=10).from_pydict({"x": list(range(400))}).map_batches(fail)
    with pytest.raises(rb.UserFunctionError) as info:
        s.collect()
    assert isinstance(info.value.__cause__, ValueError)
    assert udf.stored_errors() == before + 1  # the other subtask's, never raised
    del info, s
    gc.collect()
    assert udf.stored_errors() == before


def test_map_batches_pandas_and_polars_results_take_the_declared_types():
    # pandas and Polars hand strings back as large_utf8: a result that converts safely to
    # the declared schema (by default the input's) is cast to it, empty ones too; a
    # LazyFrame is named as what it is.
    import polars as pl

    t = pa.table({"a": [1, 2], "s": ["x", "y"]})
    for fn in (lambda b: b.to_pandas(), lambda b: pl.from_arrow(b)):
        out = rb.from_arrow(t).map_batches(fn).collect()
        assert out.equals(t)
    assert rb.from_arrow(t).map_batches(lambda b: pl.from_arrow(b).head(0)).collect().num_rows == 0
    declared = {"a": rb.Int64, "s": rb.Utf8}
    assert rb.from_arrow(t).map_batches(lambda b: pl.from_arrow(b), schema=declared).collect().equals(t)
    with pytest.raises(rb.UserFunctionError, match=r"Polars LazyFrame \(call \.collect\(\) on it\)"):
        rb.from_arrow(t).map_batches(lambda b: pl.from_arrow(b).lazy()).collect()
