"""Dictionary columns stored in Parquet: read_parquet restores the dictionary type the writer
recorded (as pyarrow's pq.read_table does, index type and ordered flag included), whether the
chunks are dictionary-encoded, fell back to plain pages mid-way, or are plain throughout; and
every engine operation over such a column matches DuckDB (or pyarrow) on the same file."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import riverbed as rb
from riverbed import col

WORDS = np.array(["alpha", "beta", "gamma", "", "délta", "x" * 40, "Zeta"])


INT32, STRING = pa.int32(), pa.string()


def _dict_col(values, index=INT32, value=STRING, mask=None, ordered=False):
    arr = pa.array(values, value, mask=mask).dictionary_encode()
    return pa.DictionaryArray.from_arrays(arr.indices.cast(index), arr.dictionary, ordered=ordered)


def _plain(arr):
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    return arr.cast(arr.type.value_type) if pa.types.is_dictionary(arr.type) else arr


def _assert_reads_like_pyarrow(path, env=None):
    reader = env.read_parquet if env is not None else rb.read_parquet
    got = reader(path).collect()
    want = pq.read_table(path)
    assert got.schema == want.schema
    got, want = got.sort_by("id"), want.sort_by("id")
    for name in want.column_names:
        for chunk in got[name].chunks:
            chunk.validate(full=True)
        assert _plain(got[name]).equals(_plain(want[name])), name
    return got


def _table(n=3000, seed=0, index=INT32, value=STRING, ordered=False, words=WORDS):
    rng = np.random.default_rng(seed)
    mask = rng.random(n) < 0.1
    vals = words[rng.integers(0, len(words), n)]
    if pa.types.is_binary(value) or pa.types.is_large_binary(value):
        vals = [v.encode() for v in vals]
    return pa.table({"id": np.arange(n), "k": _dict_col(vals, index, value, mask, ordered),
                     "v": rng.integers(-100, 100, n)})


# ---- reading: the type and the values equal pyarrow's read of the same file ----

@pytest.mark.parametrize("index", [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(),
                                   pa.uint32()])
@pytest.mark.parametrize("use_dictionary", [True, False])
def test_index_types_match_pyarrow(tmp_path, index, use_dictionary):
    p = tmp_path / "d.parquet"
    pq.write_table(_table(index=index), p, use_dictionary=use_dictionary, row_group_size=700, data_page_size=512)
    got = _assert_reads_like_pyarrow(p)
    assert got.schema.field("k").type == pa.dictionary(index, pa.string())


@pytest.mark.parametrize("value", [pa.string(), pa.large_string(), pa.binary(), pa.large_binary()])
@pytest.mark.parametrize("ordered", [False, True])
@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_value_types_and_ordered_match_pyarrow(tmp_path, value, ordered, version):
    p = tmp_path / "d.parquet"
    pq.write_table(_table(value=value, ordered=ordered), p, data_page_version=version, row_group_size=1000)
    got = _assert_reads_like_pyarrow(p)
    assert got.schema.field("k").type.ordered == ordered


def test_dictionary_fallback_to_plain_pages_matches_pyarrow(tmp_path):
    """A dictionary page limit far below the chunk's distinct values makes the writer switch
    to plain pages mid-chunk: the result is still one valid dictionary array per batch, with
    the declared index type."""
    n, distinct = 40_000, 5000
    words = np.array([f"value-{i:05d}-" + "x" * 30 for i in range(distinct)])
    t = _table(n, words=words, index=pa.int16())
    p = tmp_path / "f.parquet"
    limit = 16 << 10
    pq.write_table(t, p, dictionary_pagesize_limit=limit, data_page_size=2048, row_group_size=20_000)
    # each row group holds far more distinct bytes than one dictionary page may
    assert distinct * len(words[0]) > 10 * limit
    md = pq.ParquetFile(p).metadata
    assert md.num_row_groups == 2
    for i in range(2):  # the dictionary page holds a fraction of the values: the rest are plain pages
        c = md.row_group(i).column(1)
        assert c.has_dictionary_page and c.data_page_offset - c.dictionary_page_offset < distinct * len(words[0]) / 4
    for batch_size in (None, 777):
        env = rb.Environment(batch_size=batch_size)
        got = _assert_reads_like_pyarrow(p, env)
        assert got.schema.field("k").type == pa.dictionary(pa.int16(), pa.string())


def test_small_batches_share_the_chunk_dictionary(tmp_path):
    p = tmp_path / "d.parquet"
    pq.write_table(_table(5000), p, row_group_size=2500, data_page_size=256)
    _assert_reads_like_pyarrow(p, rb.Environment(batch_size=100, parallelism=1))


def test_all_null_and_empty_dictionary_columns_match_pyarrow(tmp_path):
    p = tmp_path / "n.parquet"
    k = pa.DictionaryArray.from_arrays(pa.nulls(2000, pa.int32()), pa.array([], pa.string()))
    pq.write_table(pa.table({"id": np.arange(2000), "k": k}), p, row_group_size=500)
    _assert_reads_like_pyarrow(p)
    e = tmp_path / "e.parquet"
    pq.write_table(pa.table({"id": pa.array([], pa.int64()), "k": k.slice(0, 0)}), e)
    _assert_reads_like_pyarrow(e)


def test_dictionary_of_other_value_types_reads_as_values_like_pyarrow(tmp_path):
    """pyarrow restores only dictionaries of strings and binaries; others read as their values."""
    p = tmp_path / "o.parquet"
    t = pa.table({"id": np.arange(6),
                  "i": pa.array([1, 2, 1, None, 2, 1]).dictionary_encode(),
                  "f": pa.array([1.5, 2.5, 1.5, None, 2.5, 1.5]).dictionary_encode(),
                  "d64": pa.array([0, 86_400_000, None, 2 * 86_400_000, 0, 0], pa.date64())})
    pq.write_table(t, p)
    got = _assert_reads_like_pyarrow(p)
    assert got.schema.field("i").type == pa.int64() and got.schema.field("d64").type == pa.date32()


def test_dictionary_too_large_for_its_index_type_is_a_data_error(tmp_path):
    """Two batches with different int8 dictionaries in one row group: the chunk's dictionary
    holds 200 values, which int8 indices cannot address. pyarrow refuses it too."""
    mk = lambda prefix: _dict_col([f"{prefix}{i}" for i in range(100)], pa.int8())  # noqa: E731
    t = pa.Table.from_batches([pa.record_batch({"k": mk("a")}), pa.record_batch({"k": mk("b")})])
    p = tmp_path / "o.parquet"
    pq.write_table(t, p)
    with pytest.raises(pa.ArrowInvalid):
        pq.read_table(p)
    with pytest.raises(rb.DataError, match=r'(?s)column "k".*int8'):
        rb.read_parquet(p).collect()


# ---- the engine over dictionary columns read from Parquet, against DuckDB ----

@pytest.fixture(scope="module")
def dict_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("dictfile")
    p = d / "t.parquet"
    t = _table(6000, seed=3)
    t = t.append_column("k8", t["k"].cast(pa.dictionary(pa.int8(), pa.string())))
    t = t.append_column("ts", pa.array(np.arange(6000) * 1000, pa.timestamp("ms")))
    pq.write_table(t, p, row_group_size=1000)
    return p


def _duck(sql, path):
    return duckdb.sql(sql.replace("FROM T", f"FROM read_parquet('{path}')")).fetchall()


def test_filters_on_dictionary_columns_match_duckdb(dict_file):
    cases = [
        (col("k") == "beta", "k = 'beta'"),
        (col("k") != "beta", "k <> 'beta'"),
        (col("k8") < "beta", "k8 < 'beta'"),
        (col("k") >= "gamma", "k >= 'gamma'"),
        (col("k").is_null(), "k IS NULL"),
        (col("k") == col("k8"), "k = k8"),
        (col("k").str.starts_with("a"), "starts_with(k, 'a')"),
        (col("k").str.contains("l"), "contains(k, 'l')"),
    ]
    for expr, sql in cases:
        got = rb.read_parquet(dict_file).filter(expr).collect()
        want = pq.read_table(dict_file).schema
        assert got.schema == want, sql
        want_ids = sorted(r[0] for r in _duck(f"SELECT id FROM T WHERE {sql}", dict_file))
        assert sorted(got["id"].to_pylist()) == want_ids, sql


def test_select_and_with_columns_keep_the_dictionary_type_like_pyarrow(dict_file):
    got = rb.read_parquet(dict_file).select("id", "k", "k8").collect().sort_by("id")
    want = pq.read_table(dict_file, columns=["id", "k", "k8"])
    assert got.schema == want.schema
    assert _plain(got["k8"]).equals(_plain(want["k8"]))


def test_functions_and_casts_on_dictionary_columns_match_duckdb(dict_file):
    got = (rb.read_parquet(dict_file)
           .with_columns(u=col("k").str.upper(), n=col("k8").str.len_chars(), c=col("k").cast(pa.string()),
                         e=col("k") == "alpha")
           .select("id", "u", "n", "c", "e").collect().sort_by("id"))
    want = _duck("SELECT id, upper(k), length(k8), CAST(k AS VARCHAR), k = 'alpha' FROM T ORDER BY id", dict_file)
    assert [tuple(r.values()) for r in got.to_pylist()] == want
    assert got.schema.field("c").type == pa.string()


def test_group_by_dictionary_keys_and_aggregations_match_duckdb(dict_file):
    env = rb.Environment(parallelism=1)
    got = (env.read_parquet(dict_file).group_by("k")
           .agg(col("v").sum().alias("s"), col("k8").min().alias("mn"), col("k8").max().alias("mx"),
                col("k8").n_unique().alias("nu"), col("k8").count().alias("c"),
                col("k8").first().alias("f"), col("k8").last().alias("l"))
           .collect())
    want = _duck("SELECT k, sum(v), min(k8), max(k8), count(DISTINCT k8), count(k8), "
                 "first(k8 ORDER BY id), last(k8 ORDER BY id) FROM T GROUP BY k", dict_file)
    key = lambda r: (r[0] is None, r[0] or "")  # noqa: E731
    assert sorted((tuple(r.values()) for r in got.to_pylist()), key=key) == sorted(want, key=key)


def test_window_keyed_by_dictionary_column_matches_duckdb(dict_file):
    got = (rb.read_parquet(dict_file, event_time="ts").key_by("k8").window(rb.tumbling("1m"))
           .agg(col("v").sum().alias("s")).collect())
    rows = sorted((r["k8"] or "", r["window_start"], r["s"]) for r in got.to_pylist())
    want = _duck("SELECT k8, time_bucket(INTERVAL 1 minute, ts) w, sum(v) FROM T GROUP BY k8, w", dict_file)
    assert rows == sorted((k or "", w, s) for k, w, s in want)


def test_join_on_dictionary_keys_from_parquet_matches_duckdb(tmp_path, dict_file):
    right = tmp_path / "r.parquet"
    pq.write_table(pa.table({"k": _dict_col(["alpha", "beta", "Zeta", "nope"]),
                             "ts": pa.array([0, 0, 0, 0], pa.timestamp("ms")), "y": [1, 2, 3, 4]}), right)
    out = (rb.read_parquet(dict_file, event_time="ts")
           .join_window(rb.read_parquet(right, event_time="ts"), on="k", window=rb.tumbling("1m"))
           .collect())
    got = sorted(zip(out["id"].to_pylist(), out["y"].to_pylist()))
    want = sorted(duckdb.sql(
        f"SELECT l.id, r.y FROM read_parquet('{dict_file}') l JOIN read_parquet('{right}') r "
        "ON l.k = r.k AND time_bucket(INTERVAL 1 minute, l.ts) = time_bucket(INTERVAL 1 minute, r.ts)").fetchall())
    assert got == want


def test_write_parquet_of_dictionary_columns_round_trips_like_pyarrow(tmp_path, dict_file):
    out = tmp_path / "out"
    rb.read_parquet(dict_file).write_parquet(out)
    back = pq.read_table(out)
    orig = pq.read_table(dict_file)
    assert back.schema == orig.schema  # pyarrow restores the dictionary types riverbed stored
    back, orig = back.sort_by("id"), orig.sort_by("id")
    for name in orig.column_names:
        assert _plain(back[name]).equals(_plain(orig[name])), name
    _assert_reads_like_pyarrow(out)
    assert (duckdb.sql(f"SELECT count(*), count(k), count(DISTINCT k8) FROM read_parquet('{out}/*.parquet')").fetchall()
            == _duck("SELECT count(*), count(k), count(DISTINCT k8) FROM T", dict_file))


def test_top_n_ranked_by_a_dictionary_column_matches_duckdb(dict_file):
    """Ranking decodes the dictionary: rows rank by their values, as DuckDB ranks VARCHARs."""
    got = (rb.read_parquet(dict_file, event_time="ts").window(rb.tumbling("1m"))
           .top_n(3, "k8", descending=False).collect())
    rows = sorted((r["window_start"], r["rank"], r["k8"]) for r in got.to_pylist())
    want = _duck("SELECT w, r, k8 FROM (SELECT time_bucket(INTERVAL 1 minute, ts) w, k8, "
                 "row_number() OVER (PARTITION BY time_bucket(INTERVAL 1 minute, ts) ORDER BY k8 ASC NULLS LAST) r "
                 "FROM T) WHERE r <= 3", dict_file)
    assert rows == sorted(want)
    assert got.schema.field("k8").type == pa.dictionary(pa.int8(), pa.string())


SWEEP_DICT_TYPES = [(i, v) for v in (pa.string(), pa.binary()) for i in (pa.int8(), pa.uint8(), pa.int16(), pa.uint32(),
                                                                          pa.int64())]


@pytest.mark.parametrize("index,value", SWEEP_DICT_TYPES, ids=lambda t: str(t))
def test_every_expression_and_aggregation_over_parquet_dictionaries_works_like_its_values(tmp_path, index, value):
    """Each expression, aggregation and key of the type sweep takes a dictionary column read
    from Parquet exactly as it takes the same values stored plainly (whose results the rest
    of the suite checks against DuckDB): accepted or refused alike, with equal results."""
    from test_types import SWEEP_AGGS, SWEEP_EXPRS

    base = pa.array(["a", None, "ü", "a"], value)
    d, p = tmp_path / "d.parquet", tmp_path / "p.parquet"
    pq.write_table(pa.table({"c": base.dictionary_encode().cast(pa.dictionary(index, value)), "k": [1, 2, 1, 2]}), d)
    pq.write_table(pa.table({"c": base, "k": [1, 2, 1, 2]}), p)
    assert pq.read_table(d).schema.field("c").type == pa.dictionary(index, value)

    def run(build, path):
        try:
            return build(rb.read_parquet(path)).collect()
        except rb.RiverbedError as e:
            return type(e)

    def select(expr):
        return lambda s: s.select(expr(col("c")).alias("out"))

    def aggregate(agg):
        return lambda s: s.group_by("k").agg(getattr(col("c"), agg)().alias("out"))

    builds = {name: select(expr) for name, expr in SWEEP_EXPRS.items()}
    builds |= {agg: aggregate(agg) for agg in SWEEP_AGGS}
    builds["group_by"] = lambda s: s.group_by("c").agg(rb.count().alias("out"))
    for name, build in builds.items():
        got, want = run(build, d), run(build, p)
        if not isinstance(want, pa.Table):
            assert got is want, name
            continue
        assert isinstance(got, pa.Table), (name, got)
        key = lambda r: str(r)  # noqa: E731
        assert sorted(got.to_pylist(), key=key) == sorted(want.to_pylist(), key=key), name
        for f in want.schema:
            g = got.schema.field(f.name).type
            assert g == f.type or (pa.types.is_dictionary(g) and g.value_type == f.type), (name, g, f.type)


def test_top_n_ranked_by_a_computed_string_matches_duckdb(dict_file):
    """Sibling of the dictionary ranking: a computed ranking value (here str.upper of a plain
    string column) lives in an array released after its batch; the kept candidates must not
    point into it."""
    got = (rb.read_parquet(dict_file, event_time="ts").with_columns(s=col("k").cast(pa.string()))
           .window(rb.tumbling("1m")).top_n(3, col("s").str.upper(), descending=False)
           .with_columns(u=col("s").str.upper()).collect())
    rows = sorted((r["window_start"], r["rank"], r["u"]) for r in got.to_pylist())
    want = _duck("SELECT w, r, u FROM (SELECT time_bucket(INTERVAL 1 minute, ts) w, upper(k) u, row_number() "
                 "OVER (PARTITION BY time_bucket(INTERVAL 1 minute, ts) ORDER BY upper(k) ASC NULLS LAST) r "
                 "FROM T) WHERE r <= 3", dict_file)
    assert rows == sorted(want)


def test_row_groups_of_dictionary_columns_are_pruned_by_their_statistics(tmp_path):
    """A comparison of a dictionary column with a string skips the row groups whose footer
    statistics (read here with pyarrow) rule it out, and returns what pyarrow's filter does."""
    from test_io import _pruned

    n = 10_000
    t = pa.table({"id": np.arange(n),
                  "k": pa.array([f"k{i // 1000:02d}-{i % 7}" for i in range(n)]).dictionary_encode()})
    p = tmp_path / "p.parquet"
    pq.write_table(t, p, row_group_size=1000)
    md = pq.ParquetFile(p).metadata
    stats = [md.row_group(i).column(1).statistics for i in range(md.num_row_groups)]
    for lit in ("k05", "k03-3"):
        got, progress = _pruned(rb.read_parquet(p).filter(col("k") > lit))
        want = t.filter(pc.greater(t["k"].cast(pa.string()), lit))
        assert sorted(got["id"].to_pylist()) == want["id"].to_pylist()
        assert progress["splits_pruned"] == sum(1 for s in stats if s.has_min_max and s.max <= lit) > 0


@pytest.mark.parametrize("order", [("dict", "plain", "int8"), ("plain", "dict", "int8"), ("int8", "plain", "dict")])
def test_files_that_differ_only_in_dictionary_encoding_read_as_the_first_like_pyarrow(tmp_path, order):
    """Files written with and without a dictionary type (or another index type) read as one
    dataset with the first file's type, as pyarrow reads the same list of files."""
    rng = np.random.default_rng(5)
    tables = {}
    for i, kind in enumerate(order):
        vals = pa.array(WORDS[rng.integers(0, len(WORDS), 500)], mask=rng.random(500) < 0.1)
        k = {"plain": vals, "dict": vals.dictionary_encode(),
             "int8": vals.dictionary_encode().cast(pa.dictionary(pa.int8(), pa.string()))}[kind]
        tables[kind] = pa.table({"id": np.arange(i * 500, (i + 1) * 500), "k": k})
    paths = []
    for i, kind in enumerate(order):
        paths.append(str(tmp_path / f"{i}-{kind}.parquet"))
        pq.write_table(tables[kind], paths[-1], row_group_size=200)
    got = rb.read_parquet(paths).collect().sort_by("id")
    want = pq.read_table(paths).sort_by("id")
    assert got.schema == want.schema
    assert _plain(got["k"]).equals(_plain(want["k"]))
    for chunk in got["k"].chunks:
        chunk.validate(full=True)


@pytest.mark.parametrize("first,then", [("dict", "plain"), ("plain", "dict")])
def test_append_values_and_dictionaries_to_each_other_reads_like_pyarrow(tmp_path, first, then):
    """Appending plain strings to files of a dictionary column (or the reverse) keeps the
    directory readable as one dataset: it reads as pyarrow reads the same directory."""
    vals = pa.array(["x", None, "yy", "x"])
    data = {"dict": vals.dictionary_encode(), "plain": vals}
    out = tmp_path / "out"
    rb.from_arrow(pa.table({"id": [0, 1, 2, 3], "k": data[first]})).write_parquet(out)
    rb.from_arrow(pa.table({"id": [4, 5, 6, 7], "k": data[then]})).write_parquet(out, mode="append")
    got = rb.read_parquet(out).collect().sort_by("id")
    want = pq.read_table(out).sort_by("id")
    assert got.schema == want.schema
    assert _plain(got["k"]).equals(_plain(want["k"]))
