"""Keyed process function benchmark: Flink's fraud detector in riverbed (per-element and
vectorized forms) against PyFlink's KeyedProcessFunction on the same events.

Generates N card transactions once (numpy, seeded) into one Parquet file
(bench/data/procfn-N/tx.parquet: account_id, ts timestamp[ms] in time order, amount), with
about 2% small (< 1.00) and 3% large (> 500.00) amounts over 10,000 accounts, then runs
the fraud detector of tests/procfn_common.py (Flink's walkthrough with an event-time
one-minute timer):

* riverbed, per element: ``key_by("account_id").process(FraudDetector(), ...)``;
* riverbed, vectorized: ``key_by("account_id").process(fraud_vectorized, state=[...])``;
* PyFlink (a child process in the PyFlink virtualenv made by bench/pyflink_setup.sh): the
  same Parquet file through the filesystem connector with ``WATERMARK FOR ts AS ts``,
  ``to_data_stream``, ``key_by`` and the walkthrough's ``KeyedProcessFunction`` (event-time
  timer), streaming mode, results collected.

All at parallelism 2; wall time end to end (best of R runs; a run over --long seconds is
not repeated); events/s/core = N / seconds / 2. The alerts of the two riverbed forms must
be equal; PyFlink's are compared and the differences counted (it processes elements on
arrival, riverbed per key in event-time order: see the note in the section). Writes the "## Keyed process
functions" section of bench/RESULTS.md (other sections are kept).

    python bench/procfn_bench.py [--events 2000000] [--repeat 3] [--long 30] [--skip-flink]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
from typing import Any

# bench/ is the script's directory
from pyflink_driver import FLINK_PY, best_of, ensure_pyflink, run_worker
from results_md import machine, write_section

HERE = os.path.dirname(os.path.abspath(__file__))
PARALLELISM = 2
ACCOUNTS = 10_000
SECTION = "## Keyed process functions"


def generate(root: str, events: int) -> str:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = os.path.join(root, "tx.parquet")
    if os.path.exists(path):
        return path
    os.makedirs(root, exist_ok=True)
    rng = np.random.default_rng(0)
    # One transaction every 10 ms on average, in time order.
    ts = np.sort(rng.integers(0, events * 10, events)) + 1_767_225_600_000
    kind = rng.random(events)
    amount = np.where(kind < 0.02, np.round(rng.random(events), 2),
                      np.where(kind < 0.05, 500.01 + np.round(rng.random(events) * 1000, 2),
                               1.0 + np.round(rng.random(events) * 499, 2)))
    table = pa.table({"account_id": pa.array(rng.integers(0, ACCOUNTS, events), pa.int64()),
                      "ts": pa.array(ts, pa.int64()).cast(pa.timestamp("ms")),
                      "amount": pa.array(amount, pa.float64())})
    pq.write_table(table, path + ".tmp", row_group_size=100_000)
    os.replace(path + ".tmp", path)
    return path


def digest(pairs: list[tuple[int, int]]) -> dict[str, Any]:
    h = hashlib.sha256(json.dumps(sorted(pairs)).encode()).hexdigest()[:16]
    return {"alerts": len(pairs), "hash": h}


def run_riverbed(path: str, repeat: int, long: float) -> dict[str, Any]:
    sys.path.insert(0, os.path.join(HERE, "..", "tests"))
    import procfn_common as fc
    import riverbed as rb

    res = {}
    for form in ("element", "vectorized"):
        def job(form: str = form) -> Any:
            env = rb.Environment(parallelism=PARALLELISM)
            return fc.detector(env.read_parquet(path, event_time="ts"), form).collect(progress=False)

        secs, times, out = best_of(job, repeat, long)
        res[form] = {"seconds": secs, "times": times, "check": digest(fc.alerts(out)), "alerts": fc.alerts(out)}
        print(f"riverbed {form:12s} {secs:8.3f}s runs={[round(t, 2) for t in times]}", file=sys.stderr, flush=True)
    return res


# ----------------------------------------------------------------------------------------
# PyFlink (runs in the PyFlink virtualenv; imports nothing of riverbed)
# ----------------------------------------------------------------------------------------
def flink_worker(config_path: str) -> None:
    import glob

    from pyflink.common import Types
    from pyflink.datastream import KeyedProcessFunction, RuntimeContext, StreamExecutionEnvironment
    from pyflink.datastream.state import ValueStateDescriptor
    from pyflink.table import StreamTableEnvironment

    with open(config_path) as f:
        cfg = json.load(f)

    class FraudDetector(KeyedProcessFunction):
        """Flink's walkthrough (event-time timer, as the riverbed runs)."""

        def open(self, runtime_context: RuntimeContext):
            self.flag_state = runtime_context.get_state(ValueStateDescriptor("flag", Types.BOOLEAN()))
            self.timer_state = runtime_context.get_state(ValueStateDescriptor("timer-state", Types.LONG()))

        def process_element(self, value, ctx):
            if self.flag_state.value() is not None:
                if value.amount > 500.00:
                    yield value.account_id, ctx.timestamp()
                ctx.timer_service().delete_event_time_timer(self.timer_state.value())
                self.timer_state.clear()
                self.flag_state.clear()
            if value.amount < 1.00:
                self.flag_state.update(True)
                timer = ctx.timestamp() + 60_000
                ctx.timer_service().register_event_time_timer(timer)
                self.timer_state.update(timer)

        def on_timer(self, timestamp, ctx):
            # PyFlink iterates what on_timer returns: it must be a generator even with no output.
            self.timer_state.clear()
            self.flag_state.clear()
            yield from ()

    def run() -> list[tuple[int, int]]:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(cfg["parallelism"])
        jars = sorted(glob.glob(os.path.join(cfg["jars"], "*.jar")))
        env.add_jars(*("file://" + j for j in jars))
        t_env = StreamTableEnvironment.create(env)
        t_env.execute_sql(f"""CREATE TABLE tx (account_id BIGINT, ts TIMESTAMP(3), amount DOUBLE,
            WATERMARK FOR ts AS ts) WITH ('connector' = 'filesystem', 'path' = 'file://{cfg['path']}',
            'format' = 'parquet', 'scan.watermark.emit.strategy' = 'on-event')""")
        stream = t_env.to_data_stream(t_env.from_path("tx"))
        alerts = (stream.key_by(lambda r: r.account_id, key_type=Types.LONG())
                  .process(FraudDetector(), output_type=Types.TUPLE([Types.LONG(), Types.LONG()])))
        with alerts.execute_and_collect() as results:
            return [(int(a), int(t)) for a, t in results]

    import pyflink

    secs, times, out = best_of(run, cfg["repeat"], cfg["long"])
    print(f"pyflink  per element  {secs:8.3f}s runs={[round(t, 2) for t in times]}", file=sys.stderr, flush=True)
    with open(cfg["out"], "w") as f:
        json.dump({"version": pyflink.version.__version__, "seconds": secs, "times": times,
                   "check": digest(out), "alerts": sorted(out)}, f)


def run_flink(path: str, repeat: int, long: float, flink_python: str) -> dict[str, Any]:
    return run_worker(__file__, "procfn", {"path": path, "repeat": repeat, "long": long,
                                           "parallelism": PARALLELISM}, flink_python)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--events", type=int, default=2_000_000, help="transactions (default 2M)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--long", type=float, default=30.0, help="a run longer than this is not repeated")
    ap.add_argument("--skip-flink", action="store_true", help="run riverbed only")
    ap.add_argument("--flink-python", default=FLINK_PY, help="python of the PyFlink virtualenv")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--flink-worker", metavar="CONFIG", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.flink_worker:
        flink_worker(args.flink_worker)
        return

    import pyarrow as pa

    import riverbed as rb

    path = generate(os.path.join(HERE, "data", f"procfn-{args.events}"), args.events)
    rbres = run_riverbed(path, args.repeat, args.long)
    flink: dict[str, Any] | None = None
    flink_error = ""
    if not args.skip_flink:
        try:
            ensure_pyflink(args.flink_python)
            flink = run_flink(path, args.repeat, args.long, args.flink_python)
        except Exception as e:  # noqa: BLE001 - reported in the table
            flink_error = str(e)
            print(f"PyFlink: {e}", file=sys.stderr)
    n = args.events

    def rate(secs: float) -> str:
        return f"{n / secs / PARALLELISM:,.0f}"

    # The two riverbed forms must agree exactly. PyFlink runs process_element on arrival,
    # before the watermark that an element carries fires the timers it passes, so a large
    # transaction just after a timer's time may raise an alert there and not here: its
    # alerts are compared, and the differences counted, not required to be equal.
    same = rbres["element"]["check"] == rbres["vectorized"]["check"]
    flink_diff = ""
    if flink:
        mine = {tuple(a) for a in rbres["element"]["alerts"]}
        theirs = {tuple(a) for a in flink["alerts"]}
        flink_diff = f"{len(theirs - mine)} more, {len(mine - theirs)} fewer"
    lines = [
        SECTION,
        "",
        "Flink's fraud-detection walkthrough (a transaction under 1.00 followed within a minute by one over "
        "500.00 on the same account; an event-time timer clears the flag) over the same Parquet file "
        "(`python bench/procfn_bench.py`; PyFlink set up by `bash bench/pyflink_setup.sh`).",
        "",
        f"- Machine: {machine()}.",
        f"- Data: {n:,} transactions over {ACCOUNTS:,} accounts in time order, about 2% under 1.00 and 3% over "
        "500.00 (numpy, seed 0), one Parquet file.",
        f"- Versions: riverbed {rb.__version__} (engine {rb.engine_version()}), "
        + (f"PyFlink {flink['version']}, " if flink else "PyFlink not run, ")
        + f"Python {platform.python_version()}, pyarrow {pa.__version__}.",
        f"- Mode: parallelism {PARALLELISM}; riverbed reads the file in batch mode and collects the alerts; "
        "PyFlink streaming mode, filesystem connector (Parquet) with `WATERMARK FOR ts AS ts`, "
        "`to_data_stream`, `key_by`, `KeyedProcessFunction`, `execute_and_collect`. "
        f"Wall time end to end, best of {args.repeat}; events/s/core = transactions / seconds / {PARALLELISM}. "
        "The riverbed forms must give the same alerts. PyFlink (per-event watermarks, "
        "`scan.watermark.emit.strategy = on-event`) runs `process_element` on arrival, before the watermark "
        "that fires a passed timer, so a large transaction just after a timer's time can raise an alert "
        "there and not in riverbed (which processes each key in event-time order): its differences are counted.",
        "",
        "| engine | seconds | events/s/core | vs PyFlink | alerts | same alerts? |",
        "|---|---:|---:|---:|---:|---|",
    ]
    fsecs = flink["seconds"] if flink else None
    for name, res in (("riverbed per element", rbres["element"]), ("riverbed vectorized", rbres["vectorized"])):
        ratio = f"{fsecs / res['seconds']:.1f}x" if fsecs else "-"
        lines.append(f"| {name} | {res['seconds']:.2f} | {rate(res['seconds'])} | {ratio} | "
                     f"{res['check']['alerts']:,} | {'yes' if same else 'NO'} |")
    if flink and fsecs:
        lines.append(f"| PyFlink per element | {fsecs:.2f} | {rate(fsecs)} | 1.0x | {flink['check']['alerts']:,} | "
                     f"vs riverbed: {flink_diff} |")
    else:
        lines.append(f"| PyFlink | not run{': ' + flink_error if flink_error else ''} | | | | |")
    write_section(args.out, SECTION, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
