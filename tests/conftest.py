"""Shared fixtures for the riverbed end-to-end tests.

Every test that takes the ``scan`` fixture runs once per (source mode, parallelism):

* ``mode`` is ``"memory"`` (the table is handed to the engine with ``from_arrow``) or
  ``"parquet"`` (the table is written as several Parquet files with several row groups each
  and read back with ``read_parquet``);
* ``parallelism`` is 1, 2 or 4, with a small batch size so that every job sees many
  batches and splits.
"""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys
import tempfile
from typing import Any, Callable

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import riverbed as rb

# The project runs pytest with --import-mode=importlib, which does not put this directory on
# sys.path; the test modules import the helpers below with `from conftest import ...`.
if os.path.dirname(os.path.abspath(__file__)) not in sys.path:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# Small batches: a few thousand rows already give several batches per split and per file.
BATCH_SIZE = 1000

_dir_counter = itertools.count()


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BROKER_SH = os.path.join(ROOT, "kafka", "testbroker", "broker.sh")


@pytest.fixture(scope="session")
def kafka_brokers():
    """The bootstrap address of a Kafka broker: RIVERBED_KAFKA_BROKERS (set by `make test`,
    which starts one for the whole run), else one started on loopback for this session."""
    env = os.environ.get("RIVERBED_KAFKA_BROKERS")
    if env:
        yield env
        return
    run = tempfile.mkdtemp(prefix="riverbed-kafka-")
    senv = dict(os.environ, RIVERBED_KAFKA_RUN=run)
    out = subprocess.run([BROKER_SH, "start"], env=senv, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        pytest.fail(f"could not start the test Kafka broker:\n{out.stderr[-3000:]}")
    try:
        yield out.stdout.strip()
    finally:
        subprocess.run([BROKER_SH, "stop"], env=senv, capture_output=True, timeout=300)


@pytest.fixture(params=[1, 2, 4], ids=lambda p: f"p{p}")
def parallelism(request) -> int:
    return request.param


@pytest.fixture
def env(parallelism) -> rb.Environment:
    return rb.Environment(parallelism=parallelism, batch_size=BATCH_SIZE)


@pytest.fixture(params=["memory", "parquet"])
def mode(request) -> str:
    return request.param


def write_parquet_files(table: pa.Table, directory, n_files: int = 3, row_group_size: int = 700) -> list[str]:
    """Write ``table`` as ``n_files`` Parquet files (contiguous slices, in order) with row
    groups of ``row_group_size`` rows into ``directory``; return the paths.

    File names sort in table order, so reading the directory yields the rows in order.
    An empty table still gets one (empty) file so that the schema is known.
    """
    os.makedirs(directory, exist_ok=True)
    n = table.num_rows
    n_files = max(1, min(n_files, n)) if n else 1
    per_file = math.ceil(n / n_files) if n else 0
    paths = []
    for i in range(n_files):
        part = table.slice(i * per_file, per_file) if n else table
        path = os.path.join(directory, f"part-{i:05d}.parquet")
        pq.write_table(part, path, row_group_size=row_group_size)
        paths.append(path)
    return paths


def make_source(env: rb.Environment, mode: str, tmp_path, table: pa.Table, *, n_files: int = 3,
                row_group_size: int = 700) -> rb.Stream:
    """A stream over ``table`` from the given source mode."""
    if mode == "memory":
        return env.from_arrow(table)
    if mode == "parquet":
        d = os.path.join(str(tmp_path), f"src{next(_dir_counter)}")
        write_parquet_files(table, d, n_files=n_files, row_group_size=row_group_size)
        return env.read_parquet(d)
    raise ValueError(mode)


@pytest.fixture
def scan(env, mode, tmp_path) -> Callable[..., rb.Stream]:
    """``scan(table, **kw)`` returns a riverbed stream reading ``table`` in the current mode."""

    def _scan(table: pa.Table, **kw: Any) -> rb.Stream:
        return make_source(env, mode, tmp_path, table, **kw)

    return _scan


# -- comparison helpers ---------------------------------------------------------------------

def values_equal(a: Any, b: Any, rel: float = 0.0) -> bool:
    """Equality of two Python values where NaN equals NaN, -0.0 equals 0.0 and floats may be
    compared with a relative tolerance."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, bool) or isinstance(b, bool):
            return False
        a, b = float(a), float(b)
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        if rel:
            return math.isclose(a, b, rel_tol=rel, abs_tol=0.0) or a == b
        return a == b
    return type(a) is type(b) and a == b


def assert_column(actual: pa.ChunkedArray | pa.Array, expected: list, rel: float = 0.0, what: str = "") -> None:
    """Assert that ``actual`` holds exactly ``expected`` (in order)."""
    got = actual.to_pylist()
    assert len(got) == len(expected), f"{what}: {len(got)} rows, expected {len(expected)}"
    bad = [(i, g, e) for i, (g, e) in enumerate(zip(got, expected)) if not values_equal(g, e, rel)]
    assert not bad, f"{what}: {len(bad)} mismatching rows, first ones (row, got, expected): {bad[:5]}"


def assert_table(actual: pa.Table, expected: pa.Table | dict, types: dict | None = None, rel: float = 0.0) -> None:
    """Assert column names, types (when ``expected`` is a table, or from ``types``) and values in
    order."""
    if isinstance(expected, pa.Table):
        assert actual.column_names == expected.column_names
        for name in expected.column_names:
            assert actual.schema.field(name).type == expected.schema.field(name).type, name
        exp_cols = {n: expected.column(n).to_pylist() for n in expected.column_names}
    else:
        assert actual.column_names == list(expected), (actual.column_names, list(expected))
        exp_cols = expected
    for name, t in (types or {}).items():
        assert actual.schema.field(name).type == t, (name, actual.schema.field(name).type, t)
    for name, vals in exp_cols.items():
        assert_column(actual.column(name), vals, rel=rel, what=name)
