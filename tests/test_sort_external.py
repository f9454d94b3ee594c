"""Sort of more rows than memory: with state_backend="pebble", a sort whose rows exceed
state_memory_limit sorts them in runs written to disk and merges the runs. The result is
DuckDB's ORDER BY with the input position as the last key (the sort is stable), over keys
with nulls, NaN, strings, timestamps and decimals; the runs are removed, and the sort's
metrics show what it spilled."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import subprocess
import sys

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import riverbed as rb

CAP = 1 << 20  # state_memory_limit
N = 60_000  # about 8 MB of rows: several runs


def table(n: int = N) -> pa.Table:
    t0 = dt.datetime(2026, 1, 1)
    ids = list(range(n))
    k = [None if i % 11 == 0 else (i * 7919) % 13 - 6 for i in ids]
    f = [None if i % 17 == 0 else float("nan") if i % 19 == 0 else ((i * 31) % 9) / 2 for i in ids]
    s = [None if i % 23 == 0 else f"s{(i * 13) % 29:02d}" for i in ids]
    ts = [None if i % 29 == 0 else t0 + dt.timedelta(seconds=(i * 17) % 41) for i in ids]
    d = [None if i % 31 == 0 else decimal.Decimal((i * 37) % 53 - 20) / 4 for i in ids]
    base = pa.array([f"p{i:08d}" for i in ids])
    t = pa.table({
        "id": pa.array(ids, pa.int64()),
        "k": pa.array(k, pa.int64()),
        "f": pa.array(f, pa.float64()),
        "s": pa.array(s, pa.string()),
        "ts": pa.array(ts, pa.timestamp("us")),
        "d": pa.array(d, pa.decimal128(10, 2)),
        "payload": pc.binary_join_element_wise(base, pa.scalar("x" * 100), ""),
    })
    return pa.Table.from_batches(t.to_batches(max_chunksize=1000))  # the sort gets many batches


def duck_ids(t: pa.Table, order: str) -> list[int]:
    con = duckdb.connect()
    con.register("t", t)
    return [r[0] for r in con.sql(f"select id from t order by {order}, id").fetchall()]


def same_rows(a: pa.Table, b: pa.Table) -> bool:
    def nan_safe(t: pa.Table) -> pa.Table:  # NaN equals NaN
        return t.set_column(t.schema.get_field_index("f"), "f", pc.cast(t.column("f"), pa.string()))
    return nan_safe(a).equals(nan_safe(b))


def sort_metrics(job: rb.Job) -> dict:
    [m] = [m for m in job.metrics(as_dict=True) if m["operator"].startswith("sort")]
    return m


def leftovers(work) -> list[str]:
    return [p.name for p in work.iterdir()] if work.exists() else []


CASES = [
    # (keys, descending, nulls_last, DuckDB's ORDER BY)
    (["k"], False, False, "k asc nulls first"),
    (["k", "f"], [True, False], [True, False], "k desc nulls last, f asc nulls first"),
    (["f"], True, False, "f desc nulls first"),
    (["s", "ts"], [False, True], True, "s asc nulls last, ts desc nulls last"),
    (["d", "k"], [True, False], [False, True], "d desc nulls first, k asc nulls last"),
]


@pytest.mark.parametrize("keys,desc,nulls_last,order", CASES)
def test_sort_beyond_the_cap_spills_and_matches_duckdb(tmp_path, keys, desc, nulls_last, order) -> None:
    t = table()
    assert t.nbytes >= 6 * CAP
    env = rb.Environment(parallelism=2, state_backend="pebble", state_memory_limit=CAP,
                         checkpoint_dir=tmp_path / "ck")  # runs go to ck/.work
    job = env.from_arrow(t).sort(*keys, descending=desc, nulls_last=nulls_last).start()
    got = pa.Table.from_batches(list(job.results()), schema=job.schema)
    assert got.column("id").to_pylist() == duck_ids(t, order)
    assert same_rows(got.sort_by("id"), t)  # every row, unchanged
    m = sort_metrics(job)
    assert m["batches_in"] >= 50, m
    assert m["spilled_bytes"] >= 0.5 * t.nbytes, m  # nearly every row went through a run on disk
    assert m["spill_read_bytes"] == m["spilled_bytes"], m  # and was read back
    assert m["spill_resident_bytes"] == 0, m  # all released at the end
    assert leftovers(tmp_path / "ck" / ".work") == [], "the sorted runs were not removed"


def test_sort_in_memory_does_not_spill() -> None:
    t = table(5000)
    env = rb.Environment(parallelism=2)  # no spilling backend: the sort keeps its rows in memory
    job = env.from_arrow(t).sort("f", descending=True).start()
    got = pa.Table.from_batches(list(job.results()), schema=job.schema)
    assert got.column("id").to_pylist() == duck_ids(t, "f desc nulls first")
    assert sort_metrics(job)["spilled_bytes"] == 0


def test_sort_empty_input_with_a_cap(tmp_path) -> None:
    t = table(10).slice(0, 0)
    env = rb.Environment(state_backend="pebble", state_memory_limit=CAP, checkpoint_dir=tmp_path / "ck")
    got = env.from_arrow(t).sort("k").collect()
    assert got.num_rows == 0 and got.schema == t.schema


@pytest.mark.parametrize("keys,desc,nulls_last,order", CASES[:3])
@pytest.mark.parametrize("cap", [None, CAP])
def test_parallel_sort_matches_duckdb(keys, desc, nulls_last, order, cap) -> None:
    # A job that takes no checkpoint or savepoint (collect(), no checkpoint_dir) sorts on
    # every core: each subtask of the input sorts its rows (spilling runs beyond the cap)
    # and one merges the runs. Still the stable sort of the input.
    t = table()
    opts = {"state_backend": "pebble", "state_memory_limit": cap} if cap else {}
    env = rb.Environment(parallelism=4, **opts)
    s = env.from_arrow(t).filter(rb.col("id") % 7 != 3).sort(*keys, descending=desc, nulls_last=nulls_last)
    plan = s.explain()
    assert "sort (local)" in plan and "reorder" not in plan, plan
    got = s.collect()
    kept = t.filter(pa.array([i % 7 != 3 for i in range(t.num_rows)]))
    assert got.column("id").to_pylist() == duck_ids(kept, order)
    assert got.schema == t.schema


def test_sort_of_a_job_that_may_checkpoint_runs_on_one_subtask() -> None:
    # start() may be asked for a savepoint: the sort keeps its rows on one subtask, as
    # its checkpointed state.
    t = table(3000)
    job = rb.Environment(parallelism=4).from_arrow(t).sort("s", descending=True).start()
    got = pa.Table.from_batches(list(job.results()), schema=job.schema)
    assert got.column("id").to_pylist() == duck_ids(t, "s desc nulls first")
    ops = [m["operator"] for m in job.metrics(as_dict=True)]
    assert "sort" in ops and "sort (local)" not in ops, ops


def test_parallel_external_sort_removes_its_runs(tmp_path) -> None:
    # Without checkpoint_dir the runs go to the system's temporary directory: a child
    # process with TMPDIR set sorts beyond the cap, and leaves nothing behind there.
    here = os.path.dirname(os.path.abspath(__file__))
    script = (
        f"import sys; sys.path.insert(0, {here!r})\n"
        "import riverbed as rb, test_sort_external as t\n"
        "env = rb.Environment(parallelism=4, state_backend='pebble', state_memory_limit=t.CAP)\n"
        "got = env.from_arrow(t.table()).sort('s', 'k').collect()\n"
        "assert got.column('id').to_pylist() == t.duck_ids(t.table(), 's asc nulls first, k asc nulls first')\n"
        "print('sorted', got.num_rows)\n")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp))
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and f"sorted {N}" in res.stdout, res.stderr
    assert [p.name for p in tmp.iterdir() if p.name.startswith("riverbed-spill-")] == [], "runs left behind"
