"""Stateful streaming operators free every byte of Arrow memory they held once a job ends."""

import gc
import time

import pytest

import riverbed as rb
from riverbed import col


def pipelines():
    env = rb.Environment(parallelism=2, batch_size=1000)
    bids = env.nexmark(max_events=30_000).bids()

    def auctions():
        return env.nexmark(max_events=30_000).auctions()

    return {
        "sliding": bids.key_by("auction").window(rb.sliding("1s", every="200ms")).agg(rb.count(), col("price").max()),
        "session": bids.key_by("bidder").window(rb.session("50ms")).agg(rb.count(), col("channel").first()),
        "topn": bids.key_by("auction").window(rb.tumbling("100ms")).top_n(2, "price"),
        "dedup": bids.deduplicate("bidder", within="10ms"),
        "window_join": bids.join_window(auctions(), left_on="auction", right_on="id", window=rb.tumbling("100ms")),
        "interval_join": bids.join_interval(auctions(), left_on="auction", right_on="id", lower="-10ms", upper="10ms"),
        "asof_join": bids.join_asof(auctions(), by_left="auction", by_right="id"),
    }


@pytest.mark.parametrize("name", list(pipelines()))
def test_no_arrow_memory_left_after_job(name):
    rb.from_pydict({"x": [1]}).collect()  # load the engine
    gc.collect()  # results and jobs of earlier tests may still hold engine memory
    base = settled()
    out = pipelines()[name].collect(progress=False)
    assert out.num_rows > 0
    del out
    gc.collect()
    # Buffers are freed when their last holder (pyarrow or an engine thread finishing its
    # teardown) lets go: allow a moment, then require every byte back.
    deadline = time.monotonic() + 5
    while rb._allocated_bytes() != base and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rb._allocated_bytes() == base


def settled() -> int:
    """The engine's allocated bytes once they stop changing (teardown of earlier jobs)."""
    last = -1
    for _ in range(100):
        now = rb._allocated_bytes()
        if now == last:
            return now
        last = now
        time.sleep(0.05)
    return last
