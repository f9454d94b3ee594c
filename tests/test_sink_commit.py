"""write_parquet's commit protocol as readers of the directory see it: files appear only
when committed (never partial, never twice), with pyarrow.dataset and DuckDB as the
readers; the rolling options; unbounded streams with and without checkpoints."""

from __future__ import annotations

import os
import threading
import time

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import riverbed as rb
from riverbed import col


def hidden_files(d) -> list[str]:
    if not os.path.isdir(d):
        return []
    return sorted(n for n in os.listdir(d) if n.startswith((".", "_")))


def visible_ids(d) -> list[int]:
    """The ids a pyarrow.dataset reader sees in d (it skips names that start with . or _)."""
    if not os.path.isdir(d):
        return []
    dataset = ds.dataset(str(d), format="parquet")
    if not dataset.files:
        return []
    return sorted(dataset.to_table()["id"].to_pylist())


def duckdb_ids(d) -> list[int]:
    """The ids DuckDB sees through the usual glob (which matches hidden *.parquet names too,
    but not the sink's .parquet.inprogress files)."""
    if not any(n.endswith(".parquet") for n in (os.listdir(d) if os.path.isdir(d) else [])):
        return []
    rows = duckdb.sql(f"select id from read_parquet('{d}/*.parquet') order by id").fetchall()
    return [r[0] for r in rows]


def test_readers_see_nothing_until_the_commit(tmp_path):
    """While a bounded job runs, its files exist only under hidden in-progress names, which
    neither pyarrow.dataset nor DuckDB reads; after the job, both read every row once."""
    out = tmp_path / "out"
    n, chunk = 12_000, 1_000
    table = pa.Table.from_batches([pa.record_batch({"id": list(range(i, i + chunk))}) for i in range(0, n, chunk)])
    seen: list[tuple[list[int], list[int], list[str]]] = []

    def look(batch: pa.RecordBatch) -> pa.RecordBatch:
        # Runs inside the job, between the sink's writes (same chain at parallelism 1).
        seen.append((visible_ids(out), duckdb_ids(out), hidden_files(out)))
        return batch

    env = rb.Environment(parallelism=1, batch_size=chunk)
    summary = env.from_arrow(table).map_batches(look).write_parquet(out, max_rows_per_file=2_500)
    assert len(seen) == n // chunk
    for i, (arrow_ids, duck_ids, hidden) in enumerate(seen):
        assert arrow_ids == [] and duck_ids == [], f"batch {i}: rows visible before the commit"
        assert all(h.endswith(".parquet.inprogress") for h in hidden), hidden
    assert any(h for _, _, h in seen[2:]), "the sink wrote no in-progress file while the job ran"
    want = list(range(n))
    assert visible_ids(out) == want
    assert duckdb_ids(out) == want
    assert sorted(pl.read_parquet(f"{out}/*.parquet")["id"].to_list()) == want
    assert hidden_files(out) == []
    # max_rows_per_file: 12000 rows in files of at most 2500, as the summary says.
    files = sorted(os.listdir(out))
    rows = [pq.ParquetFile(out / f).metadata.num_rows for f in files]
    assert sum(rows) == n and max(rows) <= 2_500 and len(files) == 5
    assert sorted(summary["rows"].to_pylist()) == sorted(rows)
    assert sorted(os.path.basename(p) for p in summary["path"].to_pylist()) == files


@pytest.mark.parametrize("parallelism", [1, 3])
def test_overwrite_replaces_in_one_commit(tmp_path, parallelism):
    """An overwrite commits the new files and removes the old ones together: afterwards only
    the new rows are visible, to both readers."""
    out = tmp_path / "out"
    env = rb.Environment(parallelism=parallelism, batch_size=500)
    env.from_pydict({"id": list(range(-50, 0))}).write_parquet(out, max_rows_per_file=20)
    env.from_pydict({"id": list(range(3_000))}).write_parquet(out, mode="overwrite", max_bytes_per_file=4_096)
    assert visible_ids(out) == list(range(3_000))
    assert duckdb_ids(out) == list(range(3_000))
    assert hidden_files(out) == []


def test_rolling_options_are_checked(tmp_path):
    s = rb.from_pydict({"id": [1, 2, 3]})
    for bad in (0, -1, 1.5, True, "10"):
        with pytest.raises(ValueError, match="max_rows_per_file must be a positive int"):
            s.write_parquet(tmp_path / "a", max_rows_per_file=bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="max_bytes_per_file must be a positive int"):
            s.write_parquet(tmp_path / "a", max_bytes_per_file=bad)  # type: ignore[arg-type]
    with pytest.raises(rb.PlanError, match="rollover_interval"):
        s.write_parquet(tmp_path / "a", rollover_interval="soon")
    with pytest.raises(rb.PlanError, match="rollover_interval must be positive"):
        s.write_parquet(tmp_path / "a", rollover_interval="0s")
    assert not os.path.exists(tmp_path / "a")
    plan = s.write_parquet(tmp_path / "b", max_rows_per_file=2, max_bytes_per_file=1 << 20,
                           rollover_interval="15m", lazy=True).explain()
    assert "max_rows_per_file=2" in plan and "max_bytes_per_file=1048576" in plan and "rollover_interval=15m0s" in plan


def unbounded_ids(env: rb.Environment) -> rb.Stream:
    return env.datagen({"id": rb.Int64}, fields={"id": {"kind": "sequence", "min": 0}})


def test_unbounded_without_checkpoints_commits_at_stop(tmp_path):
    """Without checkpoints an unbounded job's files stay hidden while it runs and are
    committed when it is stopped: then every row it read is visible once."""
    out = tmp_path / "out"
    env = rb.Environment(parallelism=1, batch_size=1_000)
    seen: list[tuple[list[int], list[str]]] = []
    holder: dict[str, rb.Job] = {}
    started = threading.Event()

    def look(batch: pa.RecordBatch) -> pa.RecordBatch:
        started.wait()
        if len(seen) < 20:
            seen.append((visible_ids(out), hidden_files(out)))
        if len(seen) == 20:
            holder["job"].stop()  # from inside the job: does not wait
        return batch

    with pytest.raises(rb.PlanError, match="lazy=True"):
        unbounded_ids(env).write_parquet(out)
    with pytest.raises(rb.PlanError, match="overwrite.*bounded"):
        unbounded_ids(env).write_parquet(out, mode="overwrite", lazy=True)
    job = unbounded_ids(env).map_batches(look).write_parquet(out, max_rows_per_file=3_000, lazy=True).start()
    holder["job"] = job
    started.set()
    assert job.wait(timeout=120), "the job did not stop"
    assert all(ids == [] for ids, _ in seen), "rows visible before the job ended"
    assert any(h for _, h in seen[5:]), "no in-progress file while the job ran"
    ids = visible_ids(out)
    assert len(ids) >= 20_000 and ids == list(range(len(ids)))
    assert duckdb_ids(out) == ids
    assert hidden_files(out) == []


def test_unbounded_cancel_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    env = rb.Environment(parallelism=2, batch_size=1_000)
    job = unbounded_ids(env).write_parquet(out, max_rows_per_file=1_000, lazy=True).start()
    deadline = time.monotonic() + 60
    while not hidden_files(out) and time.monotonic() < deadline:
        time.sleep(0.01)
    job.cancel()
    assert visible_ids(out) == [] and hidden_files(out) == []


def test_checkpointed_stream_commits_at_checkpoints(tmp_path):
    """With checkpoints, files become visible as checkpoints complete, while the job runs:
    at every look both readers see whole files only, each row at most once and every row
    up to some point (a prefix of the sequence: parallelism 1); after stop, all of them."""
    out, ckpt = tmp_path / "out", tmp_path / "ckpt"
    env = rb.Environment(parallelism=1, batch_size=500, checkpoint_dir=ckpt, checkpoint_interval="200ms")
    src = env.datagen({"id": rb.Int64}, rows_per_second=20_000, fields={"id": {"kind": "sequence", "min": 0}})
    job = src.filter(col("id") >= 0).write_parquet(out, max_rows_per_file=2_000, lazy=True).start()
    looks = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ids = visible_ids(out)
        assert ids == list(range(len(ids))), "a reader saw a gap or a duplicate"
        assert duckdb_ids(out) == ids
        if ids:
            looks += 1
            if looks >= 3:
                break
        time.sleep(0.05)
    assert looks >= 3, "no checkpoint committed files while the job ran"
    job.stop()
    job.wait(timeout=120)
    ids = visible_ids(out)
    assert ids == list(range(len(ids)))
    assert duckdb_ids(out) == ids


def test_next_job_completes_an_interrupted_commit(tmp_path):
    """A crash in the middle of a commit leaves its record, one file renamed and one not
    (made here by hand, as the crash would leave them). The next job writing into the
    directory rolls the commit forward before it starts: both files visible, the file the
    commit replaced gone, the record gone, then its own rows added."""
    out = tmp_path / "out"
    out.mkdir()
    pq.write_table(pa.table({"id": [-1]}), out / "part-old-00000-00000.parquet")  # replaced by the commit
    pq.write_table(pa.table({"id": [0, 1]}), out / "part-aaaa-00000-00000.parquet")  # renamed before the crash
    pq.write_table(pa.table({"id": [2, 3]}), out / ".part-aaaa-00001-00000.parquet.inprogress")  # not yet
    (out / "_riverbed-commit-0123456789abcdef.json").write_text(
        '{"version":1,"renames":['
        '{"in_progress":".part-aaaa-00000-00000.parquet.inprogress","final":"part-aaaa-00000-00000.parquet"},'
        '{"in_progress":".part-aaaa-00001-00000.parquet.inprogress","final":"part-aaaa-00001-00000.parquet"}],'
        '"remove":["part-old-00000-00000.parquet"]}')
    assert visible_ids(out) == [-1, 0, 1]  # what a reader sees until the next job
    rb.from_pydict({"id": [4, 5]}).write_parquet(out, mode="append")
    assert visible_ids(out) == [0, 1, 2, 3, 4, 5]
    assert duckdb_ids(out) == [0, 1, 2, 3, 4, 5]
    assert hidden_files(out) == []


def test_damaged_commit_record_is_an_error(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "_riverbed-commit-0123456789abcdef.json").write_text("{not json")
    with pytest.raises(rb.DataError, match="_riverbed-commit-0123456789abcdef.json"):
        rb.from_pydict({"id": [1]}).write_parquet(out, mode="append")


@pytest.mark.parametrize("mode", ["error", "overwrite"])
def test_restored_job_continues_its_output_whatever_the_mode(tmp_path, mode):
    """A restored job's directory holds the committed files of the run it restores: they are
    its own output, which mode="error" must not refuse and mode="overwrite" must not
    remove. Restored from the final checkpoint, the job reads nothing again and adds no row."""
    out, ckpt = tmp_path / "out", tmp_path / "ckpt"
    env = rb.Environment(parallelism=2, checkpoint_dir=ckpt)
    src = env.datagen({"id": rb.Int64}, number_of_rows=5_000, fields={"id": {"kind": "sequence", "min": 0}})
    src.write_parquet(out, mode=mode, progress=False)
    assert visible_ids(out) == list(range(5_000))
    src.write_parquet(out, mode=mode, progress=False, restore="latest")
    assert visible_ids(out) == list(range(5_000))
    assert duckdb_ids(out) == list(range(5_000))


def test_the_output_directory_is_what_reading_it_reads(tmp_path):
    """read_parquet(dir) reads every Parquet file below dir, in subdirectories too (a
    dataset partitioned by pyarrow): mode="error" refuses a directory holding any of them,
    mode="overwrite" replaces them all in its commit, so that reading the directory gives the
    rows written and nothing else. Oracles: pyarrow and DuckDB reading the directory. A
    commit record naming a file outside its directory is refused."""
    out = tmp_path / "out"
    pq.write_to_dataset(pa.table({"id": [5, 6], "p": ["a", "b"]}), out, partition_cols=["p"])
    with pytest.raises(rb.StorageError, match="already holds 2 Parquet file"):
        rb.from_pydict({"id": [1]}).write_parquet(out)
    rb.from_pydict({"id": [1, 2, 3]}).write_parquet(out, mode="overwrite")
    assert rb.read_parquet(out).collect()["id"].to_pylist() == [1, 2, 3]
    assert duckdb_ids(out) == [1, 2, 3]
    assert sorted(pq.read_table(out)["id"].to_pylist()) == [1, 2, 3]
    bad = tmp_path / "bad"
    bad.mkdir()
    (tmp_path / "victim.parquet").write_bytes(b"x")
    (bad / "_riverbed-commit-0123456789abcdef.json").write_text('{"version":1,"remove":["../victim.parquet"]}')
    with pytest.raises(rb.DataError, match="outside its directory"):
        rb.from_pydict({"id": [1]}).write_parquet(bad, mode="append")
    assert (tmp_path / "victim.parquet").exists()


@pytest.mark.parametrize("method", ["write_parquet", "write_csv", "write_ndjson"])
def test_an_output_path_that_is_a_file_is_named(tmp_path, method):
    f = tmp_path / "afile.parquet"
    f.write_text("x")
    with pytest.raises(rb.InvalidArgumentError, match="is a file; the output path names a directory"):
        getattr(rb.from_pydict({"a": [1]}), method)(f)
    assert f.read_text() == "x"
