"""sort, tail, unique and relational joins keep their state across a savepoint: stopped
mid-input and restored at another parallelism, the answer equals an uninterrupted run's
(and Polars'), and the restored run reads only the rest of the input."""

from __future__ import annotations

import time

import polars as pl
import pyarrow as pa
import pytest

import riverbed as rb
from riverbed import col

N = 60_000
DIM = pa.table({"k": list(range(0, 1000, 7)), "name": [f"n{k}" for k in range(0, 1000, 7)]})


def source(env: rb.Environment) -> rb.Stream:
    # Paced, so that the stop lands mid-input; bounded and replayable.
    return env.datagen({"x": rb.Int64}, fields={"x": {"kind": "sequence", "min": 0}}, rows_per_second=40_000,
                       number_of_rows=N).with_columns((col("x") % 1000).alias("k"))


PIPES = {
    "sort": lambda s, env: s.sort("k", "x", descending=[False, True]),
    "tail": lambda s, env: s.tail(25),
    "unique last": lambda s, env: s.unique("k", keep="last"),
    "unique first": lambda s, env: s.unique("k", keep="first"),
    "left join": lambda s, env: s.join(env.from_arrow(DIM), on="k", how="left"),
    "inner join": lambda s, env: s.join(env.from_arrow(DIM), on="k"),
    "window functions": lambda s, env: s.with_columns(
        col("x").cum_sum().over("k", order_by="x").alias("c"),
        col("x").rank("ordinal", descending=True).over("k").alias("r"),
        col("x").shift().over("k", order_by="x").alias("lag")),
    "statistics": lambda s, env: s.group_by("k").agg(
        col("x").std().round(6).alias("sd"), col("x").median().alias("med"), col("x").arg_max().alias("am"),
        col("x").approx_n_unique().alias("anu"), (col("x") % 3 == 0).any().alias("any3"),
        col("k").max_by("x").alias("mb")),
}


def polars_answer(what: str) -> pa.Table:
    df = pl.DataFrame({"x": range(N)}).with_columns((pl.col("x") % 1000).alias("k"))
    return {
        "sort": lambda: df.sort(["k", "x"], descending=[False, True]),
        "tail": lambda: df.tail(25),
        "unique last": lambda: df.unique("k", keep="last", maintain_order=True),
        "unique first": lambda: df.unique("k", keep="first", maintain_order=True),
        "left join": lambda: df.join(pl.from_arrow(DIM), on="k", how="left"),
        "inner join": lambda: df.join(pl.from_arrow(DIM), on="k"),
        "window functions": lambda: df.with_columns(
            pl.col("x").cum_sum().over("k", order_by="x").alias("c"),
            pl.col("x").rank("ordinal", descending=True).over("k").cast(pl.Int64).alias("r"),
            pl.col("x").shift().over("k", order_by="x").alias("lag")),
        # approx_n_unique is exact at 60 values per key: compared with n_unique.
        "statistics": lambda: df.group_by("k").agg(
            pl.col("x").std().round(6).alias("sd"), pl.col("x").median().alias("med"),
            pl.col("x").arg_max().cast(pl.Int64).alias("am"), pl.col("x").n_unique().cast(pl.Int64).alias("anu"),
            (pl.col("x") % 3 == 0).any().alias("any3"), pl.col("k").max_by("x").alias("mb")),
    }[what]().to_arrow()


def rows(t: pa.Table) -> list[str]:
    return sorted(map(repr, t.to_pylist()))


@pytest.mark.parametrize("what", list(PIPES))
def test_savepoint_mid_input_then_restore_at_other_parallelism(tmp_path, what: str) -> None:
    env = rb.Environment(parallelism=2, batch_size=500)
    job = PIPES[what](source(env), env).start()
    time.sleep(0.4)
    job.stop(savepoint=tmp_path / "sp")
    before = pa.Table.from_batches(list(job.results()), schema=job.schema)
    env3 = rb.Environment(parallelism=3, batch_size=500)
    restored = PIPES[what](source(env3), env3).start(restore=tmp_path / "sp")
    after = restored.collect()
    read = sum(m["records_out"] for m in restored.metrics().to_pylist() if m["operator"] == "datagen")
    assert 0 < read < N, f"the restored run read {read} of {N} rows: the stop did not land mid-input"
    want = polars_answer(what)
    both = pa.concat_tables([before.cast(after.schema), after]) if before.num_rows else after
    assert rows(both) == rows(want.cast(both.schema))
    if what in ("sort", "tail"):  # in order too
        assert both.to_pylist() == want.cast(both.schema).to_pylist()
