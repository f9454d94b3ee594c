"""Flink's fraud-detection walkthrough in riverbed, in both forms, a generated transaction
stream with planted patterns, and a plain-Python reference of Flink's logic. Shared by
tests/test_process_functions.py (and its kill -9 child) and bench/procfn_bench.py.

The detector (Flink's ``FraudDetector``): a transaction under 1.00 followed by one over
500.00 on the same account raises an alert, unless a minute passed in between: the small
transaction sets a flag and a timer one minute later clears it. Here the timer is an
event-time timer (``ctx.timestamp() + 60_000``), so the alerts are deterministic.
"""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import riverbed as rb

SMALL_AMOUNT = 1.00
LARGE_AMOUNT = 500.00
ONE_MINUTE = 60 * 1000  # ms

ALERT_SCHEMA = {"account_id": rb.Int64, "ts": rb.Int64}
EPOCH = dt.datetime(2026, 1, 1)
EPOCH_MS = int(EPOCH.replace(tzinfo=dt.timezone.utc).timestamp() * 1000)


class FraudDetector(rb.KeyedProcessFunction):
    """Flink's walkthrough, as written there (event-time timer)."""

    def open(self, runtime_context):
        self.flag_state = runtime_context.get_state(rb.ValueStateDescriptor("flag", rb.Boolean))
        self.timer_state = runtime_context.get_state(rb.ValueStateDescriptor("timer-state", rb.Int64))

    def process_element(self, transaction, ctx):
        last_transaction_was_small = self.flag_state.value()
        if last_transaction_was_small is not None:
            if transaction.amount > LARGE_AMOUNT:
                yield {"account_id": ctx.get_current_key(), "ts": ctx.timestamp()}  # the alert
            self.clean_up(ctx)
        if transaction.amount < SMALL_AMOUNT:
            self.flag_state.update(True)
            timer = ctx.timestamp() + ONE_MINUTE
            ctx.timer_service().register_event_time_timer(timer)
            self.timer_state.update(timer)

    def on_timer(self, timestamp, ctx):
        self.timer_state.clear()
        self.flag_state.clear()

    def clean_up(self, ctx):
        timer = self.timer_state.value()
        ctx.timer_service().delete_event_time_timer(timer)
        self.timer_state.clear()
        self.flag_state.clear()


FRAUD_STATE = [rb.ValueStateDescriptor("flag", rb.Boolean), rb.ValueStateDescriptor("timer-state", rb.Int64)]


def fraud_vectorized(b: rb.KeyedBatch) -> rb.ProcessResult:
    """The same detector over a whole call: after any transaction the flag is set exactly
    when that transaction was small, so the flag an element sees comes from the element
    before it (or from the state, for a key's first element), unless its timer fired
    first (timer < timestamp)."""
    nk = b.num_keys
    key = b.element_key.to_numpy(zero_copy_only=False)
    ts = b.timestamps.to_numpy(zero_copy_only=False)
    amount = b.elements.column("amount").to_numpy(zero_copy_only=False)
    flag0 = pc.fill_null(b.state.column("flag"), False).to_numpy(zero_copy_only=False)
    timer0 = pc.fill_null(b.state.column("timer-state"), 0).to_numpy(zero_copy_only=False)
    n = len(key)
    first = np.ones(n, bool)
    first[1:] = key[1:] != key[:-1]
    small = amount < SMALL_AMOUNT
    # The timer pending before each element (0: none).
    prev_timer = np.zeros(n, np.int64)
    if n:
        prev_timer[1:] = np.where(small[:-1], ts[:-1] + ONE_MINUTE, 0)
        prev_timer[first] = np.where(flag0[key[first]], timer0[key[first]], 0)
    flagged = (prev_timer != 0) & (prev_timer >= ts)
    alert = flagged & (amount > LARGE_AMOUNT)
    keys = b.keys.column(0)
    output = pa.record_batch({"account_id": keys.take(pa.array(key[alert])) if n else pa.array([], pa.int64()),
                              "ts": pa.array(ts[alert], pa.int64())})
    # New state: a key with elements ends flagged if its last one was small.
    last = np.ones(n, bool)
    last[:-1] = key[1:] != key[:-1]
    has = np.zeros(nk, bool)
    has[key] = True
    new_flag = flag0.copy()
    new_timer = timer0.copy()
    new_flag[key[last]] = small[last]
    new_timer[key[last]] = np.where(small[last], ts[last] + ONE_MINUTE, 0)
    # Keys whose timer fired here (a due timer, with no element before it): cleared.
    tk = b.timers.column("key").to_numpy(zero_copy_only=False)
    for k, t in zip(tk, b.timers.column("timestamp").to_numpy(zero_copy_only=False)):
        if not has[k] and new_flag[k] and new_timer[k] == t:
            new_flag[k], new_timer[k] = False, 0
    state = pa.record_batch({"flag": pa.array(np.where(new_flag, True, None).tolist(), pa.bool_()),
                             "timer-state": pa.array(np.where(new_flag, new_timer, None).tolist(), pa.int64())})
    # Timers: a key with elements deletes its old timer and registers its new one.
    old = has & flag0
    newt = has & new_flag
    tkeys = np.concatenate([np.nonzero(old)[0], np.nonzero(newt)[0]]).astype(np.int32)
    tts = np.concatenate([timer0[old], new_timer[newt]]).astype(np.int64)
    reg = np.concatenate([np.zeros(old.sum(), bool), np.ones(newt.sum(), bool)])
    timers = {"key": tkeys, "timestamp": tts, "domain": np.zeros(len(tkeys), np.int8), "register": reg}
    return rb.ProcessResult(output=output, state=state, timers=timers)


def generate(seed: int = 1, accounts: int = 200, background: int = 4000) -> tuple[pa.Table, list[str]]:
    """Transactions (account_id, ts: timestamp[ms], amount, tx_id) in time order, with
    patterns planted: small then large within a minute (alert), exactly a minute later
    (alert: the timer fires after the element at its time), a minute and a millisecond
    later (none), small, medium, large (none: the medium one clears the flag), and two
    smalls then a large (alert)."""
    rng = random.Random(seed)
    rows: list[tuple[int, int, float]] = []
    span = 3_600_000  # an hour of event time
    for _ in range(background):
        rows.append((rng.randrange(accounts), rng.randrange(span), round(rng.uniform(1.0, 500.0), 2)))
    planted = []
    for _ in range(accounts // 2):
        a, t = rng.randrange(accounts), rng.randrange(span)
        kind = rng.choice(["alert", "edge", "over", "cleared", "double", "timeout"])
        planted.append(kind)
        if kind == "alert":
            rows += [(a, t, 0.5), (a, t + rng.randrange(1, 59_000), 750.0)]
        elif kind == "edge":
            rows += [(a, t, 0.01), (a, t + ONE_MINUTE, 500.01)]
        elif kind == "over":
            rows += [(a, t, 0.99), (a, t + ONE_MINUTE + 1, 999.0)]
        elif kind == "cleared":
            rows += [(a, t, 0.3), (a, t + 1000, 42.0), (a, t + 2000, 800.0)]
        elif kind == "double":
            rows += [(a, t, 0.3), (a, t + 1000, 0.4), (a, t + 30_000, 800.0)]
        else:
            rows += [(a, t, 0.2), (a, t + 120_000, 900.0)]
    rows.sort(key=lambda r: r[1])  # stable: equal times keep their order of creation
    table = pa.table({
        "account_id": pa.array([r[0] for r in rows], pa.int64()),
        "ts": pa.array([EPOCH_MS + r[1] for r in rows], pa.int64()).cast(pa.timestamp("ms")),
        "amount": pa.array([r[2] for r in rows], pa.float64()),
        "tx_id": pa.array(range(len(rows)), pa.int64()),
    })
    return table, planted


def reference(table: pa.Table, late: set[int] | None = None) -> list[tuple[int, int]]:
    """Flink's logic in plain Python, per account in event-time order (then input order):
    a pending timer at T fires before an element at a time after T; elements whose tx_id is
    in ``late`` are dropped. Returns the sorted alerts (account_id, ts ms)."""
    by: dict[int, list[tuple[int, int, float]]] = {}
    for r in table.to_pylist():
        if late and r["tx_id"] in late:
            continue
        ms = int(r["ts"].replace(tzinfo=dt.timezone.utc).timestamp() * 1000) if isinstance(r["ts"], dt.datetime) \
            else int(r["ts"])
        by.setdefault(r["account_id"], []).append((ms, r["tx_id"], r["amount"]))
    alerts = []
    for acct, txs in by.items():
        txs.sort()
        flag, timer = False, None
        for ms, _, amount in txs:
            if timer is not None and timer < ms:  # on_timer
                flag, timer = False, None
            if flag:
                if amount > LARGE_AMOUNT:
                    alerts.append((acct, ms))
                flag, timer = False, None
            if amount < SMALL_AMOUNT:
                flag, timer = True, ms + ONE_MINUTE
    return sorted(alerts)


def alerts(t: pa.Table) -> list[tuple[int, int]]:
    return sorted(zip(t["account_id"].to_pylist(), t["ts"].to_pylist()))


def detector(stream: rb.Stream, form: str) -> rb.Stream:
    keyed = stream.key_by("account_id")
    if form == "element":
        return keyed.process(FraudDetector(), output_schema=ALERT_SCHEMA)
    return keyed.process(fraud_vectorized, output_schema=ALERT_SCHEMA, state=FRAUD_STATE)


class History(rb.KeyedProcessFunction):
    """List and map state: the account's amounts since its last large one (list state) and
    its count of transactions per amount band (map state), output at every transaction."""

    def open(self, runtime_context):
        self.recent = runtime_context.get_list_state(rb.ListStateDescriptor("recent", rb.Float64))
        self.bands = runtime_context.get_map_state(rb.MapStateDescriptor("bands", rb.Utf8, rb.Int64))

    def process_element(self, tx, ctx):
        band = _band(tx.amount)
        self.bands.put(band, (self.bands.get(band) or 0) + 1)
        if band == "large":
            self.recent.clear()
        else:
            self.recent.add(tx.amount)
        recent = self.recent.get()
        yield (ctx.get_current_key(), tx.tx_id, len(recent), round(sum(recent), 2),
               ",".join(f"{k}={v}" for k, v in sorted(self.bands.items())))


HISTORY_SCHEMA = {"account_id": rb.Int64, "tx_id": rb.Int64, "recent": rb.Int64, "sum": rb.Float64,
                  "bands": rb.Utf8}


def _band(amount: float) -> str:
    return "small" if amount < SMALL_AMOUNT else "large" if amount > LARGE_AMOUNT else "mid"


def history_reference(table: pa.Table) -> list[tuple]:
    rows = sorted(table.to_pylist(), key=lambda r: (r["account_id"], r["ts"], r["tx_id"]))
    recent: dict[int, list[float]] = {}
    bands: dict[int, dict[str, int]] = {}
    out = []
    for r in rows:
        a = r["account_id"]
        band = _band(r["amount"])
        b = bands.setdefault(a, {})
        b[band] = b.get(band, 0) + 1
        rl = recent.setdefault(a, [])
        if band == "large":
            rl.clear()
        else:
            rl.append(r["amount"])
        out.append((a, r["tx_id"], len(rl), round(sum(rl), 2), ",".join(f"{k}={v}" for k, v in sorted(b.items()))))
    return sorted(out)


def history_rows(t: pa.Table) -> list[tuple]:
    return sorted(zip(*(t[c].to_pylist() for c in HISTORY_SCHEMA)))
