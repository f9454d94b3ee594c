"""An operator keyed on the columns its input is already partitioned on (a group_by's keys,
a join's keys, carried through filters and selects) takes that input where it is, by a
forward edge, without a hash exchange or a pre-aggregation (batch mode). Each pipeline's
answer is DuckDB's, and its plan has the exchanges it needs and no others: a key the plan
computes or changes (k + 1, a cast, another key, the nullable side of an outer join) is
exchanged again, which the answers would show if it were not (groups split over subtasks)."""

from __future__ import annotations

import random
import re

import duckdb
import pyarrow as pa
import pytest

import riverbed as rb
from riverbed import col

random.seed(11)
N = 20_000
FACTS = pa.table({
    "k": pa.array([None if i % 97 == 0 else random.choice([1, 2, 3]) if i % 5 == 0 else random.randrange(3000)
                   for i in range(N)], pa.int64()),
    "g": pa.array([i % 7 for i in range(N)], pa.int64()),
    "v": pa.array([random.randrange(1000) for _ in range(N)], pa.int64()),
})
DIM = pa.table({"k": pa.array(list(range(0, 4000, 2)) + [None], pa.int64()),
                "w": pa.array([i % 11 for i in range(2000)] + [5], pa.int64())})


def rows(t: pa.Table) -> list[tuple]:
    return sorted(zip(*[t[c].to_pylist() for c in t.column_names]), key=repr)


def pipelines(env: rb.Environment) -> dict:
    f, d = env.from_arrow(FACTS), env.from_arrow(DIM)
    per_k = f.group_by("k").agg(col("v").sum().alias("s"), rb.count().alias("n"))
    return {
        # join a group_by's result on its key, then group by that key again
        "group_join_group": (
            per_k.join(d, on="k").filter(col("w") > 2)
            .group_by("k").agg(col("s").sum().alias("s"), col("w").max().alias("w")),
            "with p as (select k, sum(v) s from facts group by k) "
            "select p.k, sum(s) s, max(w) w from p join dim on p.k = dim.k where w > 2 group by p.k",
            2),  # facts and dim by k; nothing after
        # a select renaming the key keeps it; the join on the new name needs no exchange for it
        "renamed_key": (
            per_k.select(col("k").alias("key"), "s").join(d.select(col("k").alias("key"), "w"), on="key", how="left")
            .group_by("key").agg(col("s").sum().alias("s"), col("w").sum().alias("w")),
            "with p as (select k, sum(v) s from facts group by k) "
            "select p.k as key, sum(s) s, sum(w) w from p left join dim on p.k = dim.k group by p.k",
            2),
        # semi join of the rows on the keys of their own group_by, then a group_by on the key (TPC-H q21)
        "semi_then_group": (
            f.join(per_k.filter(col("n") > 1), on="k", how="semi").group_by("k").agg(col("g").n_unique().alias("u")),
            "select k, count(distinct g) u from facts where k in "
            "(select k from facts group by k having count(*) > 1) group by k",
            2),
        # k + 1 is not k: exchanged again
        "changed_key": (
            per_k.with_columns((col("k") + 1).alias("k")).group_by("k").agg(col("s").sum().alias("s")),
            "select k + 1 as k, sum(s) s from (select k, sum(v) s from facts group by k) group by k + 1",
            2),
        # a cast key hashes as its new type: exchanged again
        "cast_key": (
            per_k.with_columns(col("k").cast(pa.int32()).alias("k")).group_by("k").agg(col("n").sum().alias("n")),
            "select k::int as k, count(*) n from facts group by k::int",
            2),
        # grouped by (k, g), then by g alone: exchanged again
        "other_key": (
            f.group_by("k", "g").agg(col("v").sum().alias("s")).group_by("g").agg(col("s").sum().alias("s")),
            "select g, sum(v) s from facts group by g",
            2),
        # the right key of a right join is the output's key; the left key may be null there
        "right_join_keys": (
            per_k.join(d, on="k", how="right").group_by("k").agg(col("s").sum().alias("s"), col("w").sum().alias("w")),
            "with p as (select k, sum(v) s from facts group by k) "
            "select dim.k, sum(s) s, sum(w) w from p right join dim on p.k = dim.k group by dim.k",
            2),
        # a full join's left key is null on the right rows without a match, wherever they are
        "full_join_exchanged": (
            per_k.join(d, on="k", how="full").group_by("k").agg(col("s").sum().alias("s"), col("w").sum().alias("w")),
            "with p as (select k, sum(v) s from facts group by k) "
            "select p.k, sum(s) s, sum(w) w from p full join dim on p.k = dim.k group by p.k",
            3),
    }


def hash_edges(stream: rb.Stream) -> int:
    physical = stream.explain().split("physical plan:")[1]
    return len(re.findall(r"hash from stage", physical))


@pytest.mark.parametrize("parallelism,batch_size", [(1, 997), (2, 997), (3, 997), (4, 997), (2, 1)])
@pytest.mark.parametrize("name", list(pipelines(rb.Environment()).keys()))
def test_partitioned_flows_skip_exchanges_and_match_duckdb(name: str, parallelism: int, batch_size: int) -> None:
    env = rb.Environment(parallelism=parallelism, batch_size=batch_size)
    stream, sql, exchanges = pipelines(env)[name]
    con = duckdb.connect()
    con.register("facts", FACTS)
    con.register("dim", DIM)
    want = con.sql(sql).to_arrow_table()
    got = stream.collect()
    assert got.column_names == want.column_names
    assert rows(got) == rows(want.cast(got.schema)), name
    assert hash_edges(stream) == exchanges, stream.explain()


def test_streaming_mode_keeps_its_exchanges() -> None:
    """A streaming job keeps every hash exchange (the forward edges are batch mode's)."""
    env = rb.Environment(parallelism=2, runtime_mode="streaming")
    stream, _, exchanges = pipelines(env)["group_join_group"]
    assert hash_edges(stream) == exchanges + 2
