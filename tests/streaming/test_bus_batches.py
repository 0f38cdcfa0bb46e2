"""``consume_batches``: whole reads to one handler, poison isolated per entry."""

from __future__ import annotations

import asyncio
from collections import Counter

from omnix.streaming import BatchHandler, StreamBusBase, StreamEntry
from tests.streaming.support import (
    BusFactory,
    has_dead_letters,
    has_pending,
    purchase,
    wait_until,
)


async def _run_batches(
    bus: StreamBusBase, stream: str, handler: BatchHandler, batch_size: int
) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(
        bus.consume_batches(
            stream, "till-1", handler, stop=stop, block_ms=20, batch_size=batch_size
        )
    )
    return stop, task


async def test_a_batch_reaches_the_handler_whole_and_is_acknowledged(
    make_bus: BusFactory, stream: str
) -> None:
    bus = make_bus()
    await bus.publish_many(stream, [purchase(f"e{i}") for i in range(25)])
    sizes: list[int] = []
    seen: list[str] = []

    async def handler(entries: list[StreamEntry]) -> None:
        sizes.append(len(entries))
        seen.extend(entry.event_id for entry in entries)

    stop, task = await _run_batches(bus, stream, handler, batch_size=10)
    await wait_until(lambda: len(seen) == 25, what="25 events")
    await wait_until(lambda: has_pending(bus, stream, 0), what="the acks")
    stop.set()
    await asyncio.wait_for(task, 5)

    assert sizes == [10, 10, 5]
    assert seen == [f"e{i}" for i in range(25)]
    metrics = bus.processing_metrics(stream)["till-1"]
    assert metrics.handled_total == 25
    assert metrics.failed_total == 0


async def test_a_poison_event_fails_alone_and_ends_in_the_dead_letters(
    make_bus: BusFactory, stream: str
) -> None:
    """The batch fails, each entry is retried singly: four are acknowledged
    at once, the poison one is retried after the idle time and buried."""
    bus = make_bus(claim_idle_ms=50, max_deliveries=2)
    await bus.publish_many(stream, [purchase(f"e{i}") for i in range(5)])
    applied: Counter[str] = Counter()

    async def handler(entries: list[StreamEntry]) -> None:
        if any(entry.event_id == "e2" for entry in entries):
            raise RuntimeError("cannot parse e2")
        for entry in entries:
            applied[entry.event_id] += 1

    stop, task = await _run_batches(bus, stream, handler, batch_size=10)
    await wait_until(lambda: has_dead_letters(bus, stream, 1), what="a dead letter")
    await wait_until(lambda: has_pending(bus, stream, 0), what="the acks")
    stop.set()
    await asyncio.wait_for(task, 5)

    assert applied == Counter({"e0": 1, "e1": 1, "e3": 1, "e4": 1})
    (dead,) = await bus.read_dead_letters(stream)
    assert dead.event["eventId"] == "e2"
    assert dead.error == "RuntimeError: cannot parse e2"
    assert dead.deliveries == 2
    metrics = bus.processing_metrics(stream)["till-1"]
    assert metrics.handled_total == 4
    # The failed batch, e2 alone in it, then e2 again after its claim.
    assert metrics.failed_total == 2
