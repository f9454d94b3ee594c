"""Struct and list functions (``.struct.field``, ``unnest``, ``.list.len/get/first/last/
contains/join``) against Polars, whose names they take, over nulls at every level, empty
lists, sliced inputs and every Arrow list layout; and on nested data read from NDJSON."""

from __future__ import annotations

import json
import random

import polars as pl
import pyarrow as pa
import pytest

import riverbed as rb
from riverbed import col
from riverbed.errors import ColumnNotFoundError, DataError, TypeMismatchError


def random_table(n: int, seed: int) -> pa.Table:
    rnd = random.Random(seed)

    def maybe(v):  # a null one time in six
        return None if rnd.random() < 1 / 6 else v

    def ints():
        return maybe([maybe(rnd.randint(-3, 3)) for _ in range(rnd.randint(0, 4))])

    def strs():
        return maybe([maybe(rnd.choice(["a", "b", "cc", ""])) for _ in range(rnd.randint(0, 4))])

    users = [maybe({"id": maybe(rnd.randint(0, 9)), "name": maybe(rnd.choice(["ann", "bo"])),
                    "geo": maybe({"lat": maybe(rnd.random())})}) for _ in range(n)]
    return pa.table({
        "k": pa.array(range(n), pa.int64()),
        "user": pa.array(users, pa.struct([("id", pa.int64()), ("name", pa.string()),
                                           ("geo", pa.struct([("lat", pa.float64())]))])),
        "xs": pa.array([ints() for _ in range(n)], pa.list_(pa.int64())),
        "tags": pa.array([strs() for _ in range(n)], pa.list_(pa.string())),
        "item": pa.array([maybe(rnd.randint(-3, 3)) for _ in range(n)], pa.int64()),
    })


# Environments the functions run in: batches of one row, batches cut mid-list across four
# subtasks, and the default.
ENVS = {"batch 1": rb.Environment(parallelism=1, batch_size=1),
        "parallelism 4, batch 7": rb.Environment(parallelism=4, batch_size=7),
        "default": rb.Environment()}


def both(t: pa.Table, ours: list[rb.Expr], theirs: list[pl.Expr], env: str = "default") -> None:
    got = ENVS[env].from_arrow(t).select(col("k"), *ours).collect().sort_by("k").to_pylist()
    want = pl.from_arrow(t).select(pl.col("k"), *theirs).sort("k").to_dicts()
    assert got == want


@pytest.mark.parametrize("seed,env", [(1, "default"), (2, "batch 1"), (3, "parallelism 4, batch 7")])
def test_list_functions_match_polars(seed: int, env: str) -> None:
    t = random_table(300, seed)
    ours = [col("xs").list.len().alias("n"), col("xs").list.first().alias("first"),
            col("xs").list.last().alias("last"), col("xs").list.get(1, null_on_oob=True).alias("g1"),
            col("xs").list.get(-2, null_on_oob=True).alias("g_2"), col("xs").list.contains(2).alias("has2"),
            col("xs").list.contains(col("item")).alias("has_item"), col("tags").list.join("/").alias("j"),
            col("tags").list.join("/", ignore_nulls=False).alias("j_nulls")]
    theirs = [pl.col("xs").list.len().cast(pl.Int32).alias("n"), pl.col("xs").list.first().alias("first"),
              pl.col("xs").list.last().alias("last"), pl.col("xs").list.get(1, null_on_oob=True).alias("g1"),
              pl.col("xs").list.get(-2, null_on_oob=True).alias("g_2"), pl.col("xs").list.contains(2).alias("has2"),
              pl.col("xs").list.contains(pl.col("item")).alias("has_item"),
              pl.col("tags").list.join("/").alias("j"),
              pl.col("tags").list.join("/", ignore_nulls=False).alias("j_nulls")]
    both(t, ours, theirs, env)


def test_list_contains_null_item_matches_a_null_element() -> None:
    t = pa.table({"k": [0, 1, 2, 3], "xs": pa.array([[1, None], [1], [], None], pa.list_(pa.int64()))})
    got = rb.from_arrow(t).select(col("xs").list.contains(None).alias("c")).collect()["c"].to_pylist()
    assert got == [True, False, False, None]


@pytest.mark.parametrize("seed,env", [(4, "default"), (5, "batch 1"), (6, "parallelism 4, batch 7")])
def test_struct_field_and_unnest_match_polars(seed: int, env: str) -> None:
    t = random_table(200, seed)
    both(t, [col("user").struct.field("id"), col("user").struct.field("name"),
             col("user").struct.field("geo").struct.field("lat")],
         [pl.col("user").struct.field("id"), pl.col("user").struct.field("name"),
          pl.col("user").struct.field("geo").struct.field("lat")], env)
    got = ENVS[env].from_arrow(t).unnest("user").collect().sort_by("k")
    want = pl.from_arrow(t).unnest("user").sort("k")
    assert got.column_names == want.columns
    assert got.to_pylist() == want.to_dicts()


def test_every_list_layout_and_sliced_inputs() -> None:
    values = [[1, 2, 3], None, [4, 5, 6], [7, 8, 9]]
    for typ in (pa.list_(pa.int64()), pa.large_list(pa.int64()), pa.list_(pa.int64(), 3)):
        arr = pa.array(values, typ)
        t = pa.table({"k": [0, 1, 2, 3], "xs": arr}).slice(1, 3)  # offsets into the children
        got = rb.from_arrow(t).select(col("k"), col("xs").list.len().alias("n"),
                                      col("xs").list.get(-1).alias("last"),
                                      col("xs").list.contains(5).alias("has5")).collect().to_pylist()
        assert got == [{"k": 1, "n": None, "last": None, "has5": None},
                       {"k": 2, "n": 3, "last": 6, "has5": True},
                       {"k": 3, "n": 3, "last": 9, "has5": False}], typ


def test_struct_field_of_a_sliced_struct_with_nulls() -> None:
    arr = pa.array([{"a": 1}, None, {"a": None}, {"a": 4}], pa.struct([("a", pa.int64())]))
    t = pa.table({"k": [0, 1, 2, 3], "s": arr}).slice(1, 3)
    got = rb.from_arrow(t).select(col("s").struct.field("a")).collect()["a"].to_pylist()
    assert got == [None, None, 4]


def test_nested_fields_of_ndjson_filter_and_group(tmp_path) -> None:
    rnd = random.Random(7)
    rows = [{"user": {"id": rnd.randint(0, 5), "tier": rnd.choice(["gold", "free"])},
             "items": [rnd.randint(1, 9) for _ in range(rnd.randint(0, 3))]} for _ in range(500)]
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    got = (rb.read_ndjson(str(path))
           .filter(col("user").struct.field("tier") == "gold")
           .with_columns(col("user").struct.field("id").alias("uid"), col("items").list.len().alias("n"))
           .group_by("uid").agg(col("n").sum().alias("items"), rb.count().alias("events"))
           .collect().sort_by("uid").to_pylist())
    want: dict[int, list[int]] = {}
    for r in rows:
        if r["user"]["tier"] == "gold":
            w = want.setdefault(r["user"]["id"], [0, 0])
            w[0] += len(r["items"])
            w[1] += 1
    assert got == [{"uid": k, "items": v[0], "events": v[1]} for k, v in sorted(want.items())]


def test_list_get_out_of_bounds_is_an_error_naming_the_row() -> None:
    s = rb.from_pydict({"xs": [[1, 2], [3]]})
    with pytest.raises(DataError, match=r"list.get\(1\): index out of bounds in row 1 \(a list of 1 elements\)"):
        s.select(col("xs").list.get(1)).collect()


def test_bad_nested_calls_name_the_problem() -> None:
    s = rb.from_pydict({"k": [1], "xs": [[1]], "user": [{"id": 1, "name": "a"}]})
    with pytest.raises(ColumnNotFoundError, match=r'no field "nope"; its fields are "id", "name"'):
        s.select(col("user").struct.field("nope")).collect()
    with pytest.raises(TypeMismatchError, match=r"struct.field needs a struct column, got col\(\"k\"\) \(int64\)"):
        s.select(col("k").struct.field("a")).collect()
    with pytest.raises(TypeMismatchError, match=r"list.len needs a list column"):
        s.select(col("k").list.len()).collect()
    with pytest.raises(TypeMismatchError, match=r"cannot be compared with the list's int64 elements"):
        s.select(col("xs").list.contains("a")).collect()
    with pytest.raises(TypeMismatchError, match=r"list.join needs a list of strings"):
        s.select(col("xs").list.join(",")).collect()
    with pytest.raises(TypeMismatchError, match=r"unnest: column 'k' is int64, not a struct"):
        s.unnest("k")
    with pytest.raises(ColumnNotFoundError, match=r"unnest: no column 'zz'"):
        s.unnest("zz")
    with pytest.raises(TypeMismatchError, match=r"list.get takes an integer index"):
        col("xs").list.get("1")  # type: ignore[arg-type]
