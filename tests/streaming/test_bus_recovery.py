"""Recovery: entries of stopped or killed consumers are claimed, none is lost."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest
import redis.asyncio as aioredis
import structlog.testing

from omnix.streaming import RedisStreamBus, StreamEntry
from tests.streaming.killable_consumer import Ledger
from tests.streaming.support import (
    REDIS_URL,
    BusFactory,
    consuming,
    has_handled,
    has_pending,
    purchase,
    wait_until,
)


async def test_entries_of_a_stopped_consumer_are_claimed_and_applied_once(
    make_bus: BusFactory, stream: str
) -> None:
    """A consumer dies between read and ack; another claims its entries.

    The dead consumer had applied the trap event but not acknowledged it, and
    had read four more that it never handled. The survivor receives all five
    again; an idempotent handler applies each event exactly once.
    """
    bus = make_bus(claim_idle_ms=100, max_deliveries=3)
    ids = [f"e{i}" for i in range(30)]
    await bus.publish_many(
        stream, [purchase(f"e{i}", amount_cents=i + 1) for i in range(30)]
    )
    seen: set[str] = set()
    revenue_cents = 0
    deliveries: Counter[str] = Counter()
    trapped = asyncio.Event()

    async def apply_once(entry: StreamEntry) -> None:
        nonlocal revenue_cents
        deliveries[entry.event_id] += 1
        if entry.event_id not in seen:
            seen.add(entry.event_id)
            revenue_cents += int(entry.event["amountCents"])

    async def doomed(entry: StreamEntry) -> None:
        await apply_once(entry)
        if entry.event_id == "e5":  # first of its batch of five
            trapped.set()
            await asyncio.Event().wait()  # hangs until the task is cancelled

    stop = asyncio.Event()
    victim = asyncio.create_task(
        bus.consume(stream, "till-1", doomed, stop=stop, batch_size=5, block_ms=20)
    )
    await asyncio.wait_for(trapped.wait(), 5)
    victim.cancel()  # like a crash: nothing after the handler's await runs
    with pytest.raises(asyncio.CancelledError):
        await victim
    info = await bus.stream_info(stream)
    assert {c.name: c.pending for c in info.consumers} == {"till-1": 5}

    async with consuming(bus, stream, "till-2", apply_once):
        await wait_until(lambda: len(seen) == 30, what="all 30 events")
        await wait_until(lambda: has_pending(bus, stream, 0), what="the acks")

    assert seen == set(ids)
    assert revenue_cents == sum(range(1, 31))
    assert deliveries["e5"] == 2  # at-least-once: applied, never acked, redelivered
    assert sum(deliveries.values()) == 31
    assert bus.processing_metrics(stream)["till-2"].claimed_total == 5


@pytest.mark.redis
@pytest.mark.parametrize("make_bus", ["redis"], indirect=True)
async def test_redis_consumer_killed_mid_handler_loses_no_event(
    make_bus: BusFactory, stream: str
) -> None:
    """SIGKILL a consumer process after it applied an event but before the ack.

    The process had read a batch of ten (e10..e19), applied e10..e12 and hung in
    e12's handler; e12..e19 stay pending under its name. A consumer here claims
    them once idle, and the exactly-once ledger ends with every amount counted
    once although e12 was delivered twice.
    """
    bus = make_bus(claim_idle_ms=200)
    amounts = {f"e{i}": 100 + i for i in range(40)}
    await bus.publish_many(
        stream, [purchase(e, amount_cents=a) for e, a in amounts.items()]
    )
    doomed = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("killable_consumer.py")),
        REDIS_URL,
        make_bus.key_prefix,
        stream,
        "till-doomed",
        "e12",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert doomed.stdout is not None
        line = await asyncio.wait_for(doomed.stdout.readline(), 15)
        assert line == b"TRAPPED\n"
    finally:
        doomed.kill()  # SIGKILL: no cleanup, no ack, no goodbye
        await doomed.wait()
    assert doomed.returncode == -signal.SIGKILL
    info = await bus.stream_info(stream)
    assert {c.name: c.pending for c in info.consumers} == {"till-doomed": 8}

    ledger = Ledger(
        aioredis.Redis.from_url(REDIS_URL, decode_responses=True), make_bus.key_prefix
    )
    try:

        async def survivor(entry: StreamEntry) -> None:
            await ledger.apply(entry)

        async with consuming(bus, stream, "till-survivor", survivor):
            await wait_until(lambda: has_pending(bus, stream, 0), what="the claims")
            await wait_until(
                lambda: has_handled(bus, stream, 28, "till-survivor"), what="28"
            )
        assert await ledger.seen() == set(amounts)
        assert await ledger.total_cents() == sum(amounts.values())
        deliveries = Counter(await ledger.deliveries())
        assert deliveries["e12"] == 2
        assert set(deliveries.values()) == {1, 2}
        assert sum(deliveries.values()) == 41
    finally:
        await ledger.client.aclose()
    info = await bus.stream_info(stream)
    assert info.processing["till-survivor"].claimed_total == 8
    assert {c.name: c.pending for c in info.consumers} == {
        "till-doomed": 0,
        "till-survivor": 0,
    }


async def test_idle_consumers_without_pending_entries_are_forgotten(
    make_bus: BusFactory, stream: str
) -> None:
    bus = make_bus(claim_idle_ms=60_000)
    await bus.publish_many(stream, [purchase("e0"), purchase("bad")])

    async def handler(entry: StreamEntry) -> None:
        if entry.event_id == "bad":
            raise RuntimeError("keeps failing")

    async with consuming(bus, stream, "till-1", handler):
        await wait_until(lambda: has_handled(bus, stream, 1), what="one handled")
    await bus.publish(stream, purchase("e2"))
    async with consuming(bus, stream, "till-2", handler):
        await wait_until(lambda: has_handled(bus, stream, 1, "till-2"), what="e2")
    await asyncio.sleep(0.03)

    # till-1 still owns the failing entry: forgetting it would lose the entry.
    assert await bus.forget_idle_consumers(stream, idle_ms=60_000) == []
    assert await bus.forget_idle_consumers(stream, idle_ms=20) == ["till-2"]
    info = await bus.stream_info(stream)
    assert [(c.name, c.pending) for c in info.consumers] == [("till-1", 1)]
    assert await bus.forget_idle_consumers("never-created", idle_ms=0) == []


async def test_consumer_outlives_an_unreachable_redis(stream: str) -> None:
    """Connection errors are retried with a growing pause, not raised."""
    # Port 9 (discard) has no Redis: every command fails to connect.
    bus = RedisStreamBus("redis://127.0.0.1:9/0", key_prefix="omnix-test:none:")

    async def handler(entry: StreamEntry) -> None:
        raise AssertionError("nothing can be delivered")

    stop = asyncio.Event()
    with structlog.testing.capture_logs() as logs:
        task = asyncio.create_task(
            bus.consume(stream, "till-1", handler, stop=stop, block_ms=20)
        )
        await asyncio.sleep(0.4)
        stop.set()
        await asyncio.wait_for(task, 6)
    await bus.close()
    pauses = [e["retry_in_s"] for e in logs if e["event"] == "stream.bus_unavailable"]
    assert len(pauses) >= 3
    assert pauses[:3] == [0.05, 0.1, 0.2]


async def test_pending_entries_trimmed_away_are_dropped_not_retried(
    make_bus: BusFactory, stream: str
) -> None:
    """A group far behind loses trimmed entries, pending ones included."""
    bus = make_bus(max_length=50)
    await bus.publish_many(stream, [purchase(f"old{i}") for i in range(10)])
    calls: Counter[str] = Counter()

    async def handler(entry: StreamEntry) -> None:
        calls[entry.event_id] += 1
        if entry.event_id.startswith("old"):
            raise RuntimeError("catalogue not loaded yet")

    async with consuming(bus, stream, "till-1", handler, claim_idle_ms=60_000):
        await wait_until(lambda: sum(calls.values()) == 10, what="10 failures")
    for start in range(0, 1000, 250):
        batch = [purchase(f"new{i}") for i in range(start, start + 250)]
        await bus.publish_many(stream, batch)
    info = await bus.stream_info(stream)
    assert info.pending == 10
    # Exact in memory; Redis trims whole internal nodes ("MAXLEN ~").
    assert info.length == 50 if make_bus.engine == "memory" else info.length < 500

    with structlog.testing.capture_logs() as logs:
        async with consuming(bus, stream, "till-2", handler, claim_idle_ms=1):
            await wait_until(lambda: has_pending(bus, stream, 0), what="the drop")
            await wait_until(
                lambda: calls["new999"] == 1, what="the newest entry handled"
            )
    assert {e: n for e, n in calls.items() if e.startswith("old")} == {
        f"old{i}": 1 for i in range(10)
    }
    trimmed = [e for e in logs if e["event"] == "stream.pending_entries_trimmed"]
    assert sum(len(e["ids"]) for e in trimmed) == 10
    assert (await bus.stream_info(stream)).dead_letter_length == 0
