"""Nexmark streaming benchmark: riverbed against PyFlink on the same events.

Generates the Nexmark events once with riverbed's generator (``rb.nexmark(max_events=N,
seed=0)``) into Parquet files (bench/data/nexmark-N/{bids,persons,auctions}, and q13's
side_input table), then runs Nexmark q0, q1, q2, q5, q7, q8 (written here) and q3, q4,
q9-q22 (bench/nexmark_queries.py) over those bounded files

* in riverbed (this process, ``rb.Environment(parallelism=2)``, event time ``date_time``
  with watermarks 4 s behind), each result collected into a pyarrow Table; every query
  runs both as a Python API pipeline (timed) and as its Flink SQL text through ``rb.sql``
  (timed in turns with the API pipeline of the same plan), and the two answers are
  compared, and
* in PyFlink (a child process in the PyFlink virtualenv made by bench/pyflink_setup.sh),
  streaming mode, parallelism 2, the standard Nexmark SQL with the filesystem connector
  (Parquet format) and ``WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND``,
  results into blackhole sinks (timed); then each query runs once more with its result
  brought into Python (``to_pandas()``; large results: a batch-mode ``COUNT(*)``; q3, q4,
  q9-q22 in batch mode, whose results are final tables) to check that both engines give
  the same answer.

q6 is not run: bench/nexmark_queries.py says why (also in the report), and how the texts of
q10-q14 are adapted.

Wall time per query is the best of R runs (a run longer than --long seconds is not
repeated), end to end (planning, job start, reading the files, results). Events per
second per core = input rows of the query / seconds / 2. Writes the "## Nexmark
streaming" section of bench/RESULTS.md, or, when only q3, q4 and q9-q22 run, the "## Nexmark
q3, q4, q9-q22" section (other sections are kept). `make bench` runs the first set at 20M
events and the second at 2M: at 20M, q16's eight COUNT(DISTINCT) sets and PyFlink's q9 and
q16 take more memory and time than a benchmark run should.

    python bench/nexmark_bench.py [--events 20000000] [--repeat 3] [--long 30] [--skip-flink]
                                  [--queries q3,q4,...]

A quick check of the riverbed side: ``--events 10000 --repeat 1 --skip-flink --out /tmp/x.md``.
The PyFlink side needs ``bash bench/pyflink_setup.sh`` (run automatically when its
virtualenv is missing): apache-flink in bench/.cache/pyflink-venv and the Parquet format
jars in bench/.cache/jars. PyFlink is never installed into the project's environment.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from typing import Any

# bench/ is the script's directory
import nexmark_queries as nq
from pyflink_driver import FLINK_PY, JARS, best_of, ensure_pyflink, flink_heap_gb, run_worker
from results_md import machine, peak_rss_mb, rss_mb, write_section

HERE = os.path.dirname(os.path.abspath(__file__))
PARALLELISM = 2
SECTION = "## Nexmark streaming"
MORE_SECTION = "## Nexmark q3, q4, q9-q22 against PyFlink"
BASE_QUERIES = ["q0", "q1", "q2", "q5", "q7", "q8"]
# q3, q4, q9-q22: bench/nexmark_queries.py (Python API and SQL text, also tested)
QUERIES = BASE_QUERIES + nq.QUERIES

# What each query computes, and on which input (events = rows of these inputs).
DESCRIPTION = {
    "q0": ("pass-through: auction, bidder, price, date_time, extra", ["bids"]),
    "q1": ("currency conversion: price * 0.908", ["bids"]),
    "q2": ("filter: auction % 123 == 0", ["bids"]),
    "q5": ("hot items: bids per auction in sliding 10 s windows every 2 s, the auction(s) with the most", ["bids"]),
    "q7": ("highest bid per tumbling 10 s window", ["bids"]),
    "q8": ("new users: persons joined with auctions on id = seller in the same tumbling 10 s window",
           ["persons", "auctions"]),
    **nq.DESCRIPTION,
}


# ----------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------
def generate(root: str, events: int) -> dict[str, int]:
    """Write the events once; returns the row count of each stream."""
    import pyarrow.parquet as pq

    import riverbed as rb

    side = os.path.join(root, "side_input")
    if not os.path.exists(side):  # q13's bounded side input
        os.makedirs(side, exist_ok=True)
        pq.write_table(nq.side_input_table(), os.path.join(side, "part-0.parquet"))
    marker = os.path.join(root, "_complete.json")
    if os.path.exists(marker):
        with open(marker) as f:
            return json.load(f)
    env = rb.Environment(parallelism=PARALLELISM)
    nx = env.nexmark(max_events=events, seed=0)
    counts = {}
    for kind in ("bids", "persons", "auctions"):
        path = os.path.join(root, kind)
        getattr(nx, kind)().write_parquet(path, mode="overwrite", progress=False)
        counts[kind] = sum(pq.ParquetFile(p).metadata.num_rows for p in glob.glob(os.path.join(path, "*.parquet")))
    with open(marker, "w") as f:
        json.dump(counts, f)
    return counts


# ----------------------------------------------------------------------------------------
# riverbed
# ----------------------------------------------------------------------------------------
def riverbed_queries(root: str) -> dict[str, Any]:
    import riverbed as rb
    from riverbed import col

    env = rb.Environment(parallelism=PARALLELISM)

    def src(kind: str) -> rb.Stream:
        return env.read_parquet(os.path.join(root, kind), event_time="date_time", max_out_of_orderness="4s")

    def q0() -> rb.Stream:
        return src("bids").select("auction", "bidder", "price", "date_time", "extra")

    def q1() -> rb.Stream:
        # DECIMAL, as the SQL types 0.908 (Flink: DECIMAL(23, 3))
        price = col("price") * rb.lit(Decimal("0.908"))
        return src("bids").select("auction", "bidder", price.alias("price"), "date_time", "extra")

    def q2() -> rb.Stream:
        return src("bids").filter(col("auction") % 123 == 0).select("auction", "price")

    def q5() -> rb.Stream:
        counts = src("bids").key_by("auction").window(rb.sliding("10s", every="2s")).agg(rb.count().alias("num"))
        return counts.top_n(1, "num", with_ties=True).select("auction", "num", "window_start", "window_end")

    def q7() -> rb.Stream:
        return (src("bids").window(rb.tumbling("10s")).top_n(1, "price")
                .select("auction", "price", "bidder", "date_time", "extra", "window_start"))

    def q8() -> rb.Stream:
        persons = src("persons").select("id", "name", "date_time")
        auctions = src("auctions").select("seller", "date_time")
        pairs = persons.join_window(auctions, left_on="id", right_on="seller", window=rb.tumbling("10s"))
        return (pairs.group_by("id", "name", "window_start", "window_end").agg(rb.count().alias("auctions"))
                .select("id", "name", "window_start"))

    def tables() -> dict[str, rb.Stream]:
        return {"bid": src("bids"), "auction": src("auctions"), "person": src("persons"),
                "side_input": env.read_parquet(os.path.join(root, "side_input"))}

    api = nq.api_queries()
    out = {"q0": q0, "q1": q1, "q2": q2, "q5": q5, "q7": q7, "q8": q8}
    out.update({q: (lambda q=q: api[q](tables())) for q in nq.QUERIES})
    return out


def riverbed_sql(root: str) -> dict[str, Any]:
    """The Flink SQL text of every query run by rb.sql over the same files."""
    import riverbed as rb

    env = rb.Environment(parallelism=PARALLELISM)

    def table(name: str) -> rb.Stream:
        if name == "side_input":
            return env.read_parquet(os.path.join(root, "side_input"))
        return env.read_parquet(os.path.join(root, name + "s"), event_time="date_time", max_out_of_orderness="4s")

    uses = {"q8": ["person", "auction"]}  # the others read the bids only
    out = {q: (lambda q=q: env.sql(FLINK_SQL[q][1], **{t: table(t) for t in uses.get(q, ["bid"])}))
           for q in BASE_QUERIES}
    out.update({q: (lambda q=q: env.sql(nq.SQL[q][1], **{t: table(t) for t in nq.TABLES[q]}))
                for q in nq.QUERIES if q not in nq.SQL_NOT_EXPRESSED})
    return out


def riverbed_as_sql(root: str) -> dict[str, Any]:
    """Python API pipelines of q5 and q7 written as their SQL text computes them (a join of
    each window's counts or bids with the window's maximum) where the API versions above
    use a window top-N instead: the SQL text's time is compared with these (the same plan)."""
    import datetime

    import riverbed as rb
    from riverbed import col

    env = rb.Environment(parallelism=PARALLELISM)

    def bids() -> rb.Stream:
        return env.read_parquet(os.path.join(root, "bids"), event_time="date_time", max_out_of_orderness="4s")

    def q5() -> rb.Stream:
        src = bids()

        def counts() -> rb.Stream:  # each subquery counts on its own, as the SQL text does
            return src.key_by("auction").window(rb.sliding("10s", every="2s")).agg(rb.count().alias("num"))
        maxes = counts().group_by("window_start", "window_end").agg(col("num").max().alias("maxn"))
        return counts().join(maxes, on=["window_start", "window_end"], where=col("num") >= col("maxn")).select(
            "auction", "num", "window_start")

    def q7() -> rb.Stream:
        src = bids()
        maxes = src.window(rb.tumbling("10s")).agg(col("price").max().alias("maxprice")).select(
            "maxprice", col("window_end").alias("end"))
        ten = datetime.timedelta(seconds=10)
        return src.join(maxes, left_on="price", right_on="maxprice").filter(
            col("date_time").is_between(col("end") - ten, col("end"))).select(
            "auction", "price", "bidder", "date_time", "extra")

    return {"q5": q5, "q7": q7}


def riverbed_extra(root: str) -> dict[str, Any]:
    """Variants that show where riverbed's time goes (reported as notes, not compared)."""
    import riverbed as rb
    from riverbed import col

    env = rb.Environment(parallelism=PARALLELISM)
    bids = env.read_parquet(os.path.join(root, "bids"), event_time="date_time", max_out_of_orderness="4s")
    return {
        "q7, max price only (window agg, no bid row)":
            lambda: bids.window(rb.tumbling("10s")).agg(col("price").max().alias("max_price")),
        "q5, counts only (no top-1)":
            lambda: bids.key_by("auction").window(rb.sliding("10s", every="2s")).agg(rb.count().alias("num")),
    }


def lib_stamp() -> float:
    import riverbed

    lib = os.path.join(os.path.dirname(riverbed.__file__), "libriverbed.so")
    return os.path.getmtime(lib) if os.path.exists(lib) else 0.0


def run_riverbed(root: str, queries: list[str], repeat: int, long: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    sql, as_sql = riverbed_sql(root), riverbed_as_sql(root)
    for name, make in [(q, riverbed_queries(root)[q]) for q in queries] + list(riverbed_extra(root).items()):
        if name == "q8" and not rb_has_window_join():
            out[name] = {"error": "not yet (no Stream.join_window)"}
            continue
        try:
            secs, times, table = best_of(lambda m=make: m().collect(progress=False), repeat, long)
            memory = riverbed_memory(root, name)
        except Exception as e:  # noqa: BLE001 - reported in the table
            out[name] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}
            print(f"riverbed {name}: {out[name]['error']}", file=sys.stderr, flush=True)
            continue
        small = table.num_rows <= 1_000_000
        out[name] = {"seconds": secs, "times": times, "rows": table.num_rows, "memory": memory,
                     "check": summarize(name, table.to_pylist() if small else None, table.num_rows)}
        print(f"riverbed {name:44s} {secs:8.3f}s  runs={[round(t, 2) for t in times]}  rows={table.num_rows:,}",
              file=sys.stderr, flush=True)
        del table
        if name in sql:
            run_sql(out[name], name, sql[name], as_sql.get(name, make), repeat)
    secs, times, _ = best_of(lambda: rb_floor().collect(progress=False), 3, long)
    out["floor"] = {"seconds": secs, "times": times}
    return out


def riverbed_memory(root: str, name: str) -> dict[str, Any]:
    """One more run of a riverbed query, alone in a fresh process (--rb-memory): its resident
    memory after importing riverbed and at its peak (MB)."""
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--rb-memory", root, name],
                       capture_output=True, text=True, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def rb_memory_child(root: str, name: str) -> None:
    import riverbed  # noqa: F401 - the import's memory is counted before the query

    make = {**riverbed_queries(root), **riverbed_extra(root)}[name]
    before = rss_mb()
    rows = make().collect(progress=False).num_rows
    print(json.dumps({"rss_before": before, "peak": peak_rss_mb(), "rows": rows}))


def run_sql(entry: dict[str, Any], name: str, make: Any, api: Any, repeat: int) -> None:
    """The SQL text of a query against its Python API pipeline (for q5 and q7 the one written
    as the SQL's join), timed in turns right after the API's own runs, each going first every
    other turn, so that both see the same state of the machine; short queries take more
    turns (up to 10, about 3 s of each),
    since a few milliseconds of other work weigh on them most. Also whether the SQL gives the
    API's answer."""
    turns = max(repeat, min(10, math.ceil(3.0 / max(entry["seconds"], 1e-3))))
    api_times: list[float] = []
    sql_times: list[float] = []
    table = None
    try:
        for turn in range(turns):
            for which in ((0, 1) if turn % 2 == 0 else (1, 0)):  # each goes first every other turn
                t = time.perf_counter()
                if which == 0:
                    api().collect(progress=False)
                    api_times.append(time.perf_counter() - t)
                else:
                    table = make().collect(progress=False)
                    sql_times.append(time.perf_counter() - t)
    except Exception as e:  # noqa: BLE001 - reported in the table
        entry["sql_error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
        print(f"riverbed {name} SQL: {entry['sql_error']}", file=sys.stderr, flush=True)
        return
    assert table is not None
    small = table.num_rows <= 1_000_000
    entry["sql_seconds"], entry["sql_api_seconds"] = min(sql_times), min(api_times)
    entry["sql_median_ratio"] = statistics.median(sql_times) / statistics.median(api_times)
    entry["sql_check"] = summarize(name, table.to_pylist() if small else None, table.num_rows)
    print(f"riverbed {name + ' (SQL text)':44s} {min(sql_times):8.3f}s  API in turns {min(api_times):.3f}s  "
          f"({turns} turns, medians' ratio {entry['sql_median_ratio']:.2f})  rows={table.num_rows:,}  "
          f"same as the API: {entry['sql_check'] == entry['check']}",
          file=sys.stderr, flush=True)


def rb_floor() -> Any:
    import riverbed as rb

    return rb.Environment(parallelism=PARALLELISM).from_pydict({"x": [1]})


def summarize(name: str, rows: list[dict[str, Any]] | None, count: int) -> dict[str, Any]:
    """What is compared across engines: the row count, and for small results their content."""
    s: dict[str, Any] = {"rows": count}
    if rows is None:
        return s
    if name in nq.SQL:
        s["content"] = hash_pairs(nq.canonical_rows(name, rows))
        return s

    def ms(v: Any) -> int:  # datetime or epoch ms -> epoch ms (naive = UTC)
        if isinstance(v, (int, float)):
            return int(v)
        import calendar

        return calendar.timegm(v.timetuple()) * 1000 + v.microsecond // 1000

    if name == "q2":
        s["sum_price"] = sum(r["price"] for r in rows)
    elif name == "q5":
        # Window start -> the largest count, and the auctions that have it.
        best: dict[int, list[Any]] = {}
        for r in rows:
            w = ms(r["window_start"])
            if w not in best or r["num"] > best[w][0]:
                best[w] = [r["num"], [r["auction"]]]
            elif r["num"] == best[w][0]:
                best[w][1].append(r["auction"])
        s["max_per_window"] = {str(w): [v[0], sorted(v[1])] for w, v in sorted(best.items())}
    elif name == "q7":
        best7: dict[int, list[Any]] = {}
        for r in rows:
            # Flink's q7 output has no window columns: the bid's own 10 s window.
            w = ms(r["window_start"]) if "window_start" in r else ms(r["date_time"]) // 10_000 * 10_000
            best7.setdefault(w, [r["price"], []])[1].append([r["auction"], r["bidder"]])
        s["max_per_window"] = {str(w): [v[0], sorted(v[1])] for w, v in sorted(best7.items())}
    elif name == "q8":
        s["pairs_hash"] = hash_pairs((r["id"], ms(r["window_start"])) for r in rows)
    return s


def hash_pairs(pairs: Any) -> str:
    import hashlib

    h = hashlib.sha256()
    for p in sorted(pairs):
        h.update(repr(p).encode())
    return h.hexdigest()[:16]


# ----------------------------------------------------------------------------------------
# PyFlink (runs in the PyFlink virtualenv: python nexmark_bench.py --flink-worker CONFIG)
# ----------------------------------------------------------------------------------------
FLINK_TABLES = {
    "bid": ("bids", """auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING,
        date_time TIMESTAMP(3), extra STRING"""),
    "person": ("persons", """id BIGINT, name STRING, email_address STRING, credit_card STRING, city STRING,
        state STRING, date_time TIMESTAMP(3), extra STRING"""),
    "auction": ("auctions", """id BIGINT, item_name STRING, description STRING, initial_bid BIGINT,
        reserve BIGINT, date_time TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT,
        extra STRING"""),
    "side_input": ("side_input", nq.SIDE_INPUT_COLUMNS),
}

# The standard Nexmark SQL (as in the Flink Nexmark benchmark), columns named as in our files.
FLINK_SQL = {
    "q0": ("auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP(3), extra STRING",
           "SELECT auction, bidder, price, date_time, extra FROM bid"),
    "q1": ("auction BIGINT, bidder BIGINT, price DECIMAL(23, 3), date_time TIMESTAMP(3), extra STRING",
           "SELECT auction, bidder, 0.908 * price AS price, date_time, extra FROM bid"),
    "q2": ("auction BIGINT, price BIGINT",
           "SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0"),
    "q5": ("auction BIGINT, num BIGINT, window_start TIMESTAMP(3)", """
        SELECT AuctionBids.auction, AuctionBids.num, AuctionBids.starttime AS window_start
        FROM (
          SELECT auction, COUNT(*) AS num, window_start AS starttime, window_end AS endtime
          FROM TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
          GROUP BY auction, window_start, window_end
        ) AS AuctionBids
        JOIN (
          SELECT MAX(CountBids.num) AS maxn, CountBids.starttime, CountBids.endtime
          FROM (
            SELECT COUNT(*) AS num, window_start AS starttime, window_end AS endtime
            FROM TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
            GROUP BY auction, window_start, window_end
          ) AS CountBids
          GROUP BY CountBids.starttime, CountBids.endtime
        ) AS MaxBids
        ON AuctionBids.starttime = MaxBids.starttime AND AuctionBids.endtime = MaxBids.endtime
           AND AuctionBids.num >= MaxBids.maxn"""),
    "q7": ("auction BIGINT, price BIGINT, bidder BIGINT, date_time TIMESTAMP(3), extra STRING", """
        SELECT B.auction, B.price, B.bidder, B.date_time, B.extra
        FROM bid B
        JOIN (
          SELECT MAX(price) AS maxprice, window_end AS date_time
          FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '10' SECOND))
          GROUP BY window_start, window_end
        ) B1
        ON B.price = B1.maxprice
        WHERE B.date_time BETWEEN B1.date_time - INTERVAL '10' SECOND AND B1.date_time"""),
    "q8": ("id BIGINT, name STRING, window_start TIMESTAMP(3)", """
        SELECT P.id, P.name, P.starttime AS window_start
        FROM (
          SELECT id, name, window_start AS starttime, window_end AS endtime
          FROM TABLE(TUMBLE(TABLE person, DESCRIPTOR(date_time), INTERVAL '10' SECOND))
          GROUP BY id, name, window_start, window_end
        ) P
        JOIN (
          SELECT seller, window_start AS starttime, window_end AS endtime
          FROM TABLE(TUMBLE(TABLE auction, DESCRIPTOR(date_time), INTERVAL '10' SECOND))
          GROUP BY seller, window_start, window_end
        ) A
        ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime"""),
    **nq.SQL,
}


# Table options of the Flink Nexmark benchmark's configuration (its state backend and
# checkpoints are left out: heap state, no checkpoints, over a run of seconds).
FLINK_OPTIONS = {
    "table.exec.mini-batch.enabled": "true",
    "table.exec.mini-batch.allow-latency": "2s",
    "table.exec.mini-batch.size": "50000",
    "table.optimizer.distinct-agg.split.enabled": "true",
}
# Queries whose whole input is their output: too big to bring into Python from PyFlink.
PASS_THROUGH = ("q0", "q1")


def flink_worker(config_path: str) -> None:
    with open(config_path) as f:
        cfg = json.load(f)
    from pyflink.table import EnvironmentSettings, TableEnvironment

    jars = sorted(glob.glob(os.path.join(cfg["jars"], "*.jar")))

    def make_env(streaming: bool) -> Any:
        settings = EnvironmentSettings.in_streaming_mode() if streaming else EnvironmentSettings.in_batch_mode()
        t_env = TableEnvironment.create(settings)
        conf = t_env.get_config()
        conf.set("pipeline.jars", ";".join("file://" + j for j in jars))
        conf.set("parallelism.default", str(cfg["parallelism"]))
        conf.set("pipeline.object-reuse", "true")
        for key, value in FLINK_OPTIONS.items():
            conf.set(key, value)
        for name, (folder, columns) in FLINK_TABLES.items():
            watermark = (", WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND"
                         if streaming and name != "side_input" else "")
            t_env.execute_sql(f"""CREATE TABLE {name} ({columns}{watermark}) WITH (
                'connector' = 'filesystem', 'path' = 'file://{os.path.join(cfg['data'], folder)}',
                'format' = 'parquet')""")
        return t_env

    t_env = make_env(True)
    import pyflink

    result: dict[str, Any] = {"version": pyflink.version.__version__, "queries": {}}
    # Timed: each query into a blackhole sink, as the Flink Nexmark benchmark does.
    for q in cfg["queries"]:
        columns, sql = FLINK_SQL[q]
        t_env.execute_sql(f"CREATE TABLE sink_{q} ({columns}) WITH ('connector' = 'blackhole')")
        jvm = java_child()
        before = rss_mb(jvm) if jvm else None
        secs, times, _ = best_of(lambda q=q, sql=sql: t_env.execute_sql(f"INSERT INTO sink_{q} {sql}").wait(),
                                 cfg["repeat"], cfg["long"])
        result["queries"][q] = {"seconds": secs, "times": times,
                                "memory": {"rss_before": before, "peak": peak_rss_mb(jvm) if jvm else None}}
        print(f"pyflink  {q:44s} {secs:8.3f}s  runs={[round(t, 2) for t in times]}", file=sys.stderr, flush=True)

    if cfg.get("floor", True):
        secs, times, _ = best_of(lambda: t_env.sql_query("SELECT 1 AS x").to_pandas(), 3, cfg["long"])
        result["floor"] = {"seconds": secs, "times": times}
        print(f"pyflink  {'one-row job':44s} {secs:8.3f}s  runs={[round(t, 2) for t in times]}", file=sys.stderr,
              flush=True)

    # Then once more, to compare the answers: the smaller results into Python (Table.to_pandas(),
    # Arrow batches; also timed, for reference). q0/q1 are too big for that; a pass-through keeps
    # every row, so their rows are counted in batch mode.
    batch_env = None
    for q in cfg["queries"]:
        sql = FLINK_SQL[q][1]
        entry = result["queries"][q]
        try:
            if q in PASS_THROUGH or q in nq.SQL and q not in nq.CONTENT_CHECKED:
                if batch_env is None:
                    batch_env = make_env(False)
                count = batch_env.sql_query(f"SELECT COUNT(*) AS n FROM ({sql})").to_pandas()["n"][0]
                entry["check"] = summarize(q, None, int(count))
                continue
            # q3, q4, q15, q16: the final table (batch mode: their streaming results update)
            if q in nq.SQL and batch_env is None:
                batch_env = make_env(False)
            t = time.perf_counter()
            df = (batch_env if q in nq.SQL else t_env).sql_query(sql).to_pandas()
            entry["pandas_seconds"] = time.perf_counter() - t
            rows = df.to_dict("records")
            for r in rows if q not in nq.SQL else []:
                for k in ("window_start", "date_time"):
                    if k in r:
                        r[k] = int(r[k].value // 1_000_000)  # pandas Timestamp -> epoch ms
            entry["check"] = summarize(q, rows, len(rows))
            print(f"pyflink  {q + ' into pandas':44s} {entry['pandas_seconds']:8.3f}s", file=sys.stderr, flush=True)
        except Exception as e:  # noqa: BLE001 - reported in the table
            entry["check_error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
    result["children_cpu"] = children_cpu()
    with open(cfg["out"], "w") as f:
        json.dump(result, f)


def java_child() -> int | None:
    """The pid of this process's JVM child (PyFlink's gateway and mini-cluster), if any."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                comm, rest = f.read().split(" (", 1)[1].rsplit(")", 1)
        except (OSError, IndexError, ValueError):
            continue
        if comm == "java" and int(rest.split()[1]) == os.getpid():
            return int(pid)
    return None


def memory_cell(entry: dict[str, Any] | None) -> str:
    """A query's peak resident memory in MB, with the process's resident memory when its runs began."""
    m = (entry or {}).get("memory") or {}
    if m.get("peak") is None:
        return "—"
    return f"{m['peak']:,.0f} ({m['rss_before']:,.0f})"


def children_cpu() -> float:
    """CPU seconds of this process's live children (PyFlink's JVM, which is not waited for)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():  # ppid
            total += sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
    return total


def run_flink(root: str, queries: list[str], repeat: int, long: float, flink_python: str) -> dict[str, Any]:
    """Each query in a PyFlink worker of its own (a fresh JVM), so that the JVM's peak memory is the
    query's; the one-row job in the first."""
    result: dict[str, Any] = {"queries": {}, "children_cpu": 0.0}
    for i, q in enumerate(queries):
        r = run_worker(__file__, "flink", {"data": root, "queries": [q], "repeat": repeat, "long": long,
                                           "parallelism": PARALLELISM, "floor": i == 0}, flink_python)
        result["version"] = r["version"]
        result["queries"].update(r["queries"])
        result["children_cpu"] += r.get("children_cpu", 0.0)
        if "floor" in r:
            result["floor"] = r["floor"]
    return result


# ----------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------
def java_version() -> str:
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
        m = re.search(r'version "([^"]+)"', out)
        return f"Java {m.group(1)}" if m else "Java (unknown version)"
    except OSError:
        return "Java (not found)"


def compare(q: str, rb_check: dict[str, Any], fl: dict[str, Any]) -> str:
    """A short verdict of whether the two engines' answers agree."""
    if "check_error" in fl:
        return f"PyFlink output not read back ({fl['check_error']})"
    fc = fl.get("check")
    if fc is None:
        return "not checked"
    if q == "q5":
        rw, fw = rb_check["max_per_window"], fc["max_per_window"]
        if rw.keys() != fw.keys():
            return f"mismatch: windows differ ({len(rw)} vs {len(fw)})"
        bad = [w for w in rw if rw[w][0] != fw[w][0] or not set(rw[w][1]) <= set(fw[w][1])]
        if bad:
            return f"mismatch in {len(bad)} of {len(rw)} windows"
        extra = fc["rows"] - rb_check["rows"]
        return f"match: same top count in all {len(rw)} windows" + (f" ({extra} rows differ)" if extra else "")
    if rb_check["rows"] != fc["rows"]:
        return f"**mismatch**: {rb_check['rows']:,} vs {fc['rows']:,} rows"
    if q == "q7":
        same = rb_check["max_per_window"] == fc["max_per_window"]
        return "match (rows, and the highest bid of every window)" if same else "**mismatch** in the highest bids"
    for k in ("sum_price", "pairs_hash", "content"):
        if k in rb_check and k in fc and rb_check.get(k) != fc.get(k):
            return f"**mismatch** ({k})"
    same = any(k in rb_check and k in fc for k in ("pairs_hash", "sum_price", "content"))
    return "match" + (" (rows and content)" if same else " (rows)")


def api_vs_sql(r: dict[str, Any]) -> str:
    """Whether riverbed's SQL text gave its Python API's answer."""
    if "sql_error" in r:
        return f"SQL failed: {r['sql_error']}"
    if "sql_check" not in r:
        return "—"
    if r["sql_check"] != r["check"]:
        return "**mismatch**"
    return "same rows and content" if "content" in r["check"] else "same row count"


def cpu_snapshot() -> tuple[float, float, float]:
    """(wall clock, CPU seconds used by the whole machine, by this process and its finished children)."""
    machine_busy = float("nan")
    try:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal ...: everything but idle and iowait.
        machine_busy = (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        pass
    t = os.times()
    return time.perf_counter(), machine_busy, t.user + t.system + t.children_user + t.children_system


def others_share(a: tuple[float, float, float], b: tuple[float, float, float]) -> str:
    """How much of the machine's CPU other processes used between two snapshots."""
    wall = b[0] - a[0]
    others = (b[1] - a[1]) - (b[2] - a[2])
    if wall <= 0 or others != others:  # nan
        return "unknown"
    return f"{max(others, 0.0):.1f} CPU-s in {wall:.0f} s ({max(others, 0.0) / wall / (os.cpu_count() or 1):.0%})"


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--events", type=int, default=20_000_000, help="Nexmark events to generate (default 20M)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per query and engine; the best one counts")
    ap.add_argument("--long", type=float, default=30.0,
                    help="a run longer than this many seconds is not repeated (default 30)")
    ap.add_argument("--queries", default=",".join(QUERIES))
    ap.add_argument("--skip-flink", action="store_true", help="run riverbed only")
    ap.add_argument("--flink-python", default=FLINK_PY, help="python of the PyFlink virtualenv")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--flink-worker", metavar="CONFIG", help=argparse.SUPPRESS)
    ap.add_argument("--rb-memory", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.flink_worker:
        flink_worker(args.flink_worker)
        return
    if args.rb_memory:
        rb_memory_child(*args.rb_memory)
        return

    import pyarrow as pa

    import riverbed as rb

    queries = [q.strip() for q in args.queries.split(",") if q.strip()]
    unknown = set(queries) - set(QUERIES)
    if unknown:
        ap.error(f"unknown queries {sorted(unknown)}; choose from {QUERIES}")
    started = time.perf_counter()
    root = os.path.join(HERE, "data", f"nexmark-{args.events}")
    t = time.perf_counter()
    counts = generate(root, args.events)
    print(f"events ready in {time.perf_counter() - t:.1f}s: {counts}", file=sys.stderr, flush=True)

    # riverbed; if the engine library is rebuilt meanwhile, run again on the new one.
    loads: dict[str, str] = {}
    git = ["git", "rev-parse", "--short", "HEAD"]
    for _ in range(3):
        commit = subprocess.run(git, capture_output=True, text=True, cwd=HERE).stdout.strip()
        stamp = lib_stamp()
        before = cpu_snapshot()
        rbres = run_riverbed(root, queries, args.repeat, args.long)
        loads["riverbed"] = others_share(before, cpu_snapshot())
        if lib_stamp() == stamp:
            break
        print("the engine library changed during the run: running riverbed again", file=sys.stderr)

    flink: dict[str, Any] | None = None
    flink_error = ""
    if not args.skip_flink:
        try:
            ensure_pyflink(args.flink_python)
            before = cpu_snapshot()
            flink = run_flink(root, queries, args.repeat, args.long, args.flink_python)
            after = cpu_snapshot()
            loads["PyFlink"] = others_share(before, (after[0], after[1], after[2] + flink.get("children_cpu", 0.0)))
        except Exception as e:  # noqa: BLE001 - reported in the table
            flink_error = str(e)
            print(f"PyFlink: {e}", file=sys.stderr)

    fver = flink["version"] if flink else "not run"
    total_events = counts["bids"] + counts["persons"] + counts["auctions"]
    size_mb = sum(os.path.getsize(p) for p in glob.glob(os.path.join(root, "*", "*.parquet"))) / 1e6
    section = MORE_SECTION if set(queries) <= set(nq.QUERIES) else SECTION
    lines = [
        section + (f" (`python bench/nexmark_bench.py --events {args.events} --queries q3,...`)"
                   if section == MORE_SECTION else ""),
        "",
        f"Nexmark {', '.join(queries)} over the same bounded event files in riverbed and PyFlink "
        "(`python bench/nexmark_bench.py`; PyFlink set up by `bash bench/pyflink_setup.sh`). "
        "Every query runs in riverbed twice: the Python API version (timed, best of the runs) and "
        "the same Flink SQL text PyFlink runs, through `rb.sql`, timed in turns with the API pipeline "
        "of the same plan (best of at least 3 turns each, up to 10 for short queries; "
        "`bench/nexmark_queries.py` has both for q3, q4 and q9-q22).",
        "",
        f"- Machine: {machine()}.",
        f"- Data: {total_events:,} Nexmark events from riverbed's generator (`rb.nexmark(max_events="
        f"{args.events:_}, seed=0)`): {counts['bids']:,} bids, {counts['persons']:,} persons, "
        f"{counts['auctions']:,} auctions ({args.events / 100_000:,.0f} s of event time at 100,000 events/s), "
        f"written once with `write_parquet` ({size_mb:,.0f} MB, 2 files per stream, each in event-time order). "
        "Both engines read these same files.",
        f"- Versions: riverbed {rb.__version__} (checkout at commit {commit} when its queries ran, engine "
        f"{rb.engine_version()}), "
        + (f"PyFlink (apache-flink) {fver} with {jar_names()}, " if flink else "PyFlink not run, ")
        + f"{java_version()}, Python {platform.python_version()}, pyarrow {pa.__version__}.",
        f"- Mode: parallelism {PARALLELISM} in both, event time `date_time` with watermarks 4 s behind. "
        "riverbed: `rb.Environment(parallelism=2).read_parquet(dir, event_time=\"date_time\", "
        "max_out_of_orderness=\"4s\")`, bounded run, every result collected into a pyarrow Table "
        f"(`collect()`; for q0/q1 that is {counts['bids']:,} rows materialized inside the measured time). "
        "PyFlink: **streaming mode** (`EnvironmentSettings.in_streaming_mode()`) over the bounded files, "
        "filesystem connector with the Parquet format, `WATERMARK FOR date_time AS date_time - INTERVAL '4' "
        "SECOND`, the Flink Nexmark benchmark's SQL and table options (mini-batch 2 s / 50,000), "
        "`pipeline.object-reuse`, heap state, no checkpoints, local mini-cluster in one JVM "
        f"(`-Xmx{flink_heap_gb()}g`). Every timed PyFlink query writes into a `blackhole` sink (rows "
        "discarded, as in the Flink Nexmark benchmark); each query except q0/q1 is then run once more with its "
        "result brought into Python (`Table.to_pandas()`) to compare the answers, and that time is shown too.",
        f"- Time: wall time of the whole query (planning, job start, reading the files, delivering or "
        f"discarding the results), best of {args.repeat} runs (a run over {args.long:.0f} s is not repeated), "
        "warm file cache, one engine at a time. "
        f"events/s/core = input rows of the query / wall seconds / {PARALLELISM}.",
        "",
        "| query | what | input rows | riverbed (s) | PyFlink (s) | riverbed events/s/core | "
        "PyFlink events/s/core | riverbed / PyFlink | PyFlink, result into pandas (s, 1 run) | same answer? | "
        "riverbed SQL text (s) | SQL / API time (bests; medians of the turns) | riverbed SQL = API? | "
        "riverbed peak RSS, MB (at start) | PyFlink JVM peak RSS, MB (at start) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|",
    ]
    for q in queries:
        what, inputs = DESCRIPTION[q]
        n = sum(counts[i] for i in inputs)
        r = rbres[q]
        fq = flink["queries"].get(q) if flink else None
        rsec = "not yet" if "error" in r and "not yet" in r["error"] else (
            "failed" if "error" in r else f"{r['seconds']:.2f}")
        fsec = f"{fq['seconds']:.2f}" if fq else "not run"
        rps = n / r["seconds"] / PARALLELISM if "seconds" in r else None
        fps = n / fq["seconds"] / PARALLELISM if fq else None
        ratio = f"**{rps / fps:.1f}x**" if rps and fps else "—"
        if "error" in r:
            verdict = f"riverbed: {r['error']}"
        elif fq is None:
            verdict = "PyFlink not run"
        else:
            verdict = compare(q, r["check"], fq)
        pandas = f"{fq['pandas_seconds']:.2f}" if fq and "pandas_seconds" in fq else "—"
        sql_sec = f"{r['sql_seconds']:.2f}" if "sql_seconds" in r else (
            "not expressed" if q in nq.SQL_NOT_EXPRESSED else "—")
        api_secs = r.get("sql_api_seconds")
        sql_ratio = f"{r['sql_seconds'] / api_secs:.2f}" if "sql_seconds" in r and api_secs else "—"
        if "sql_median_ratio" in r:
            sql_ratio += f"; medians {r['sql_median_ratio']:.2f}"
        if q in ("q5", "q7") and api_secs:
            sql_ratio += f" (to the API written as the SQL's join, {api_secs:.2f} s)"
        lines.append(f"| {q} | {what} | {n:,} | {rsec} | {fsec} | {f'{rps:,.0f}' if rps else '—'} | "
                     f"{f'{fps:,.0f}' if fps else '—'} | {ratio} | {pandas} | {verdict} | {sql_sec} | "
                     f"{sql_ratio} | {api_vs_sql(r)} | {memory_cell(r)} | {memory_cell(fq)} |")
    lines += [
        "",
        "How each side writes the queries:",
        "",
        "- riverbed: q0 `select(auction, bidder, price, date_time, extra)`; q1 the same with "
        "`(col(\"price\") * rb.lit(Decimal(\"0.908\"))).alias(\"price\")` (DECIMAL, as the SQL types it); "
        "q2 `filter(col(\"auction\") % 123 == 0).select(auction, price)`; q5 "
        "`key_by(\"auction\").window(rb.sliding(\"10s\", every=\"2s\")).agg(rb.count().alias(\"num\"))"
        ".top_n(1, \"num\", with_ties=True)` (every auction tied at the top, as `num >= maxn`); "
        "q7 `window(rb.tumbling(\"10s\")).top_n(1, \"price\")` (the whole highest bid of each "
        "window; a non-keyed window runs at parallelism 1); q8 `persons.join_window(auctions, left_on=\"id\", "
        "right_on=\"seller\", window=rb.tumbling(\"10s\"))` then `group_by(id, name, window_start, window_end)` "
        "for one row per person and window, as the SQL's GROUP BYs give.",
        "- PyFlink: the Flink Nexmark benchmark's SQL (column `dateTime` named `date_time` as in the files). "
        "q5 joins the per-auction counts of each HOP window with the window's maximum (`num >= maxn`, so ties "
        "give several rows); q7 joins all bids with each TUMBLE window's maximum price (`price = maxprice AND "
        "date_time BETWEEN window_end - 10 s AND window_end`); q8 joins persons and sellers, each grouped per "
        "TUMBLE window, on id and window.",
        "- q3, q4, q9-q22: `bench/nexmark_queries.py`, both sides' text (run unchanged by PyFlink and by "
        "riverbed's `rb.sql`) and riverbed's Python API pipelines: relational joins (`join`) and filters for "
        "q3, q4, q9, q13 and q20; `group_by` with `rb.when(...).then(...).count()`/`.n_unique()` for the FILTER "
        "aggregates of q15-q17; `unique(keep=\"first\"/\"last\", order_by=...)` for q9 and q18; "
        "`rank(\"ordinal\").over(\"auction\")` for q19; `window(rb.session(\"10s\"))` for q11; `str.extract` "
        "(a regular expression) for REGEXP_EXTRACT (q21) and `str.split_index` for SPLIT_INDEX (q22).",
        "",
        "Other riverbed timings on the same data (for where the time goes; not compared):",
        "",
    ]
    for name in riverbed_extra(root):
        r = rbres[name]
        if "error" in r:
            lines.append(f"- {name}: {r['error']}")
            continue
        lines.append(f"- {name}: {r['seconds']:.2f} s ({counts['bids'] / r['seconds'] / PARALLELISM:,.0f} "
                     f"events/s/core), {r['rows']:,} rows.")
    lines += ["", "Notes, and what did not work:", ""]
    notes = []
    if flink_error:
        notes.append(f"PyFlink did not run: {flink_error}")
    if not rb_has_window_join():
        notes.append("q8: this riverbed has no `Stream.join_window` yet.")
    busy = [f"{k}'s runs {v}" for k, v in loads.items()]
    notes += [
        f"CPU used by other processes on the machine meanwhile (share of all cores): {'; '.join(busy)}. "
        "The more, the less reliable the times (this machine is shared with other work).",
        "Memory: the peak resident set size (Linux `VmHWM`) of a fresh process running the query, in brackets "
        "its resident memory when the query began. riverbed: one more run of the query alone in a new Python "
        "process (interpreter, pyarrow, the engine, and the result table collected into Python), from just "
        "after `import riverbed`. PyFlink: its JVM (gateway and mini-cluster; the Python driver only submits "
        "SQL), a new one for each query, over the query's timed runs, from just after the table environment "
        "was created. Not the same work on the result: riverbed holds its whole result in Python, PyFlink's "
        "timed runs discard theirs.",
        "Sinks: riverbed's times include delivering every result row to Python as Arrow (`collect()`), "
        f"{counts['bids']:,} rows for q0/q1; PyFlink's timed runs discard their rows (blackhole), so the ratios "
        "favour PyFlink there. Bringing results into Python through PyFlink costs more (the pandas column): "
        "`TableResult.collect()` fetches row by row through the Java gateway (over 3 minutes for 75,160 rows "
        "in a trial, and no end in sight on a retracting result), so `Table.to_pandas()` (Arrow batches) is "
        "used; q0/q1's outputs (every bid) are instead counted with an untimed batch-mode `COUNT(*)`.",
        "Answers are compared as row counts, plus for q2 the sum of prices, for q5 the top count (and its "
        "auction) of every window, for q7 the highest bid of every window, for q8 the set of (person, window).",
        "q5 and q7: riverbed's Python API versions rank each window's rows (`top_n(1, with_ties=True)` keeps "
        "the same rows as joining the counts with the maximum; q7's `top_n(1)` keeps one bid per window, ties "
        "broken by the row's columns, where the SQL keeps every tied bid). riverbed's `rb.sql` runs their "
        "standard text as written (a join with each window's maximum), so its time is compared with API "
        "pipelines written as that join (`riverbed_as_sql` in this script), the same plan.",
        "PyFlink's Parquet format is not in the apache-flink wheel (CSV and JSON are): it needs the "
        "`flink-sql-parquet` jar of the same Flink version plus Hadoop classes (`hadoop-client-api` and "
        "`hadoop-client-runtime`; without them: `ClassNotFoundException: org.apache.hadoop.conf.Configuration`), "
        "all fetched from Maven Central by `bench/pyflink_setup.sh` into `bench/.cache/jars` (git-ignored).",
        "PyFlink's q7 (the Nexmark SQL's regular join of every bid with its window's maximum, whose state is "
        "never cleaned) ran out of memory (`OutOfMemoryError: Java heap space`) with the JVM's default heap "
        "(a quarter of RAM) at 20M events, hence the larger heap.",
        "apache-flink pins older numpy/pandas/pyarrow (pyarrow 16), so it is installed into its own virtualenv "
        "(`bench/.cache/pyflink-venv`), never into the project's.",
        "Each time includes the engine's per-job cost: " + floor_note(rbres, flink) + " This weighs most on "
        "the short queries (q2, q8), whose ratios partly measure these fixed costs.",
        f"Data size: {args.events:,} events. PyFlink's q7 (a join of every bid with its window's maximum) "
        f"takes {q7_time(flink)} here, which bounds the size that fits a run of about 15 minutes; several "
        "riverbed queries then finish in under 2 s, so their times are less precise.",
        "riverbed's q7 uses the non-keyed window `top_n` (one task for the whole stream) to return the "
        f"highest bid itself; {topn_note(rbres)}",
    ]
    notes += [f"{q}: not run: {why}." for q, why in nq.NOT_EXPRESSED.items()]
    notes += [f"{q}: riverbed's SQL does not run the text ({why}); the Python API version is timed and compared."
              for q, why in nq.SQL_NOT_EXPRESSED.items() if q in queries]
    notes += [f"{q}: the text is adapted: {why}." for q, why in nq.ADAPTED.items() if q in queries]
    notes.append("q3, q4, q9-q22 answers: riverbed's Python API and SQL results (bounded runs: final "
                 "tables) are compared row by row (times in ms, numbers as integers, for q9/q18/q19 only the columns "
                 "that do not depend on how ties are broken) when at most 1,000,000 rows, else by row count; PyFlink's "
                 "are read in batch mode (final tables; their streaming results update) and compared row by row "
                 f"for {', '.join(nq.CONTENT_CHECKED)}, by row count for the others. Flink's AVG of a BIGINT drops "
                 "the fraction, so averages are compared as integers.")
    lines += [f"- {n}" for n in notes]
    lines += ["", f"Whole benchmark run: {time.perf_counter() - started:.0f} s (data generation included when "
              "the files were not there yet)."]
    write_section(args.out, section, "\n".join(lines) + "\n")
    print("\n".join(lines), file=sys.stderr)
    print(f"wrote {args.out}", file=sys.stderr)


def floor_note(rbres: dict[str, Any], flink: dict[str, Any] | None) -> str:
    parts = []
    if "floor" in rbres:
        parts.append(f"a trivial one-row job takes {rbres['floor']['seconds'] * 1000:.1f} ms in riverbed")
    if flink and "floor" in flink:
        parts.append(f"{flink['floor']['seconds']:.2f} s in PyFlink (planning, job submission and task deployment "
                     "in the local mini-cluster)")
    return (" and ".join(parts) + ".") if parts else ""


def topn_note(rbres: dict[str, Any]) -> str:
    a, b = rbres.get("q7", {}), rbres.get("q7, max price only (window agg, no bid row)", {})
    if "seconds" in a and "seconds" in b:
        return (f"the window `max` alone (no bid row) takes {b['seconds']:.2f} s against {a['seconds']:.2f} s "
                "for the top 1.")
    return "compare the window `max` alone in the other riverbed timings above."


def q7_time(flink: dict[str, Any] | None) -> str:
    if flink and "q7" in flink["queries"]:
        return f"{flink['queries']['q7']['seconds']:.0f} s"
    return "minutes"


def jar_names() -> str:
    names = sorted(os.path.basename(j)[:-4] for j in glob.glob(os.path.join(JARS, "*.jar")))
    return ", ".join(names) if names else "no extra jars"


def rb_has_window_join() -> bool:
    import riverbed as rb

    return hasattr(rb.Stream, "join_window")


if __name__ == "__main__":
    main()
