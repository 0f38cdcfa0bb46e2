"""Delivery semantics of the event bus, identical on the memory and Redis engines."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest

from omnix.streaming import (
    StreamEntry,
    StreamNotFoundError,
    default_consumer_name,
)
from omnix.streaming.bus import check_consumer_name
from tests.streaming.support import (
    BusFactory,
    consuming,
    has_dead_letters,
    has_handled,
    has_pending,
    purchase,
    wait_until,
)

FAST = {"claim_idle_ms": 50, "max_deliveries": 3}


async def test_entries_reach_the_handler_in_publish_order(
    make_bus: BusFactory, stream: str
) -> None:
    bus = make_bus(**FAST)
    first = await bus.publish_many(stream, [purchase(f"e{i}") for i in range(20)])
    last = await bus.publish(stream, purchase("e20"))
    seen: list[StreamEntry] = []

    async def handler(entry: StreamEntry) -> None:
        seen.append(entry)

    async with consuming(bus, stream, "till-1", handler, batch_size=7):
        await wait_until(lambda: len(seen) == 21, what="21 entries")

    assert [e.event_id for e in seen] == [f"e{i}" for i in range(21)]
    assert [e.entry_id for e in seen] == [*first, last]
    assert all(e.delivery_count == 1 for e in seen)
    assert seen[3].event == purchase("e3")
    assert abs(seen[0].published_at - time.time()) < 5
    info = await bus.stream_info(stream)
    assert (info.length, info.pending, info.lag) == (21, 0, 0)


async def test_publish_rejects_events_the_consumers_could_not_use(
    make_bus: BusFactory, stream: str
) -> None:
    bus = make_bus()
    with pytest.raises(ValueError, match="eventId"):
        await bus.publish(stream, {"customerId": "household-1"})
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        await bus.publish(stream, {"eventId": "e1", "basket": {1, 2}})
    with pytest.raises(ValueError, match="stream name"):
        await bus.publish("orders with spaces", purchase("e1"))
    # One bad event in a batch publishes none of it.
    with pytest.raises(ValueError, match="eventId"):
        await bus.publish_many(stream, [purchase("e1"), {"eventId": ""}])
    with pytest.raises(StreamNotFoundError):
        await bus.stream_info(stream)
    assert await bus.publish_many(stream, []) == []


async def test_entry_stays_pending_until_its_handler_returns(
    make_bus: BusFactory, stream: str
) -> None:
    bus = make_bus()
    await bus.publish(stream, purchase("e1"))
    pending_inside: list[int] = []

    async def handler(entry: StreamEntry) -> None:
        pending_inside.append((await bus.stream_info(stream)).pending)

    async with consuming(bus, stream, "till-1", handler):
        await wait_until(lambda: pending_inside == [1], what="the handler")
        await wait_until(
            lambda: has_pending(bus, stream, 0), what="the acknowledgement"
        )


async def test_failing_handler_is_retried_then_dead_lettered(
    make_bus: BusFactory, stream: str
) -> None:
    bus = make_bus(**FAST)
    await bus.publish_many(stream, [purchase("ok-1"), purchase("poison")])
    await bus.publish(stream, purchase("ok-2"))
    deliveries: list[tuple[str, int]] = []

    async def handler(entry: StreamEntry) -> None:
        deliveries.append((entry.event_id, entry.delivery_count))
        if entry.event_id == "poison":
            raise RuntimeError("unknown product in basket")

    async with consuming(bus, stream, "till-1", handler):
        await wait_until(
            lambda: has_dead_letters(bus, stream, 1), timeout_s=5, what="a dead letter"
        )

    assert [d for d in deliveries if d[0] == "poison"] == [
        ("poison", 1),
        ("poison", 2),
        ("poison", 3),
    ]
    assert Counter(e for e, _ in deliveries) == {"ok-1": 1, "ok-2": 1, "poison": 3}
    (dead,) = await bus.read_dead_letters(stream)
    assert dead.event == purchase("poison")
    assert dead.error == "RuntimeError: unknown product in basket"
    assert (dead.deliveries, dead.consumer, dead.group) == (3, "till-1", bus.group)
    info = await bus.stream_info(stream)
    assert (info.pending, info.dead_letter_length, info.length) == (0, 1, 3)
    metrics = info.processing["till-1"]
    assert (metrics.handled_total, metrics.failed_total) == (2, 3)
    assert (metrics.claimed_total, metrics.dead_lettered_total) == (3, 1)
    # Dead-letter streams are not streams of their own in the listing.
    assert await bus.list_streams() == [stream]


async def test_handler_that_recovers_on_retry_is_acknowledged(
    make_bus: BusFactory, stream: str
) -> None:
    bus = make_bus(**FAST)
    await bus.publish(stream, purchase("flaky"))
    deliveries: list[int] = []

    async def handler(entry: StreamEntry) -> None:
        deliveries.append(entry.delivery_count)
        if entry.delivery_count == 1:
            raise ConnectionError("store database briefly unreachable")

    async with consuming(bus, stream, "till-1", handler):
        await wait_until(lambda: deliveries == [1, 2], what="the retry")
        await wait_until(lambda: has_pending(bus, stream, 0), what="the ack")

    assert await bus.read_dead_letters(stream) == []
    assert (await bus.stream_info(stream)).dead_letter_length == 0


async def test_two_consumers_of_a_group_share_the_work(
    make_bus: BusFactory, stream: str
) -> None:
    # No claiming here: on a busy machine an entry can sit pending past a short
    # claim_idle_ms, and a claim hands it to the other consumer a second time,
    # which is at-least-once working as designed, not the sharing under test.
    bus = make_bus(claim_idle_ms=60_000, max_deliveries=3)
    ids = [f"e{i}" for i in range(200)]
    await bus.publish_many(stream, [purchase(i) for i in ids])
    handled: dict[str, list[str]] = {"till-1": [], "till-2": []}

    def handler_for(consumer: str) -> Callable[[StreamEntry], Awaitable[None]]:
        async def handler(entry: StreamEntry) -> None:
            await asyncio.sleep(0.001)  # a handler does I/O and yields
            handled[consumer].append(entry.event_id)

        return handler

    async with (
        consuming(bus, stream, "till-1", handler_for("till-1")),
        consuming(bus, stream, "till-2", handler_for("till-2")),
    ):
        await wait_until(
            lambda: sum(map(len, handled.values())) >= 200, what="200 entries"
        )
        await wait_until(lambda: has_pending(bus, stream, 0), what="the acks")

    both = handled["till-1"] + handled["till-2"]
    assert sorted(both) == sorted(ids)  # each entry handled exactly once
    assert len(handled["till-1"]) >= 20
    assert len(handled["till-2"]) >= 20
    info = await bus.stream_info(stream)
    assert {c.name: c.pending for c in info.consumers} == {"till-1": 0, "till-2": 0}
    assert set(info.processing) == {"till-1", "till-2"}


async def test_stream_info_reports_length_pending_lag_andhas_dead_letters(
    make_bus: BusFactory, stream: str
) -> None:
    bus = make_bus(claim_idle_ms=60_000, max_deliveries=1)
    ids = await bus.publish_many(stream, [purchase(f"e{i}") for i in range(10)])
    info = await bus.stream_info(stream)
    # Published but no group yet: everything is still owed to the group.
    assert (info.length, info.pending, info.lag, info.consumers) == (10, 0, 10, ())
    assert (info.first_entry_id, info.last_entry_id) == (ids[0], ids[-1])

    async def handler(entry: StreamEntry) -> None:
        if entry.event_id in {"e3", "e7"}:
            raise ValueError("price missing")

    async with consuming(bus, stream, "till-1", handler):
        await wait_until(lambda: has_handled(bus, stream, 8), what="8 handled")
    await bus.publish_many(stream, [purchase(f"late{i}") for i in range(5)])

    info = await bus.stream_info(stream)
    assert (info.length, info.pending, info.lag) == (15, 2, 5)
    assert [(c.name, c.pending) for c in info.consumers] == [("till-1", 2)]
    assert info.consumers[0].idle_ms >= 0
    assert info.dead_letter_length == 0
    assert info.processing["till-1"].failed_total == 2

    # A consumer with a short claim time (on another bus, where the engine is
    # shared) claims the failures at once and, past max_deliveries=1, buries
    # them instead of calling the handler again.
    rescuer = bus if make_bus.engine == "memory" else make_bus()
    async with consuming(
        rescuer, stream, "till-2", handler, claim_idle_ms=1, max_deliveries=1
    ):
        await wait_until(lambda: has_dead_letters(rescuer, stream, 2), what="burial")
        await wait_until(lambda: has_handled(rescuer, stream, 5, "till-2"), what="5")
    info = await rescuer.stream_info(stream)
    assert (info.length, info.pending, info.lag) == (15, 0, 0)
    assert info.dead_letter_length == 2
    letters = await rescuer.read_dead_letters(stream)
    assert sorted(d.event["eventId"] for d in letters) == ["e3", "e7"]
    assert {d.error for d in letters} == {"ValueError: price missing"}
    assert {(d.deliveries, d.consumer) for d in letters} == {(1, "till-2")}
    if make_bus.engine == "redis":
        # Metrics are per process (here: per bus): only its own consumer.
        assert set(info.processing) == {"till-2"}


async def test_latency_percentiles_run_from_publish_to_handler_done(
    make_bus: BusFactory, stream: str
) -> None:
    """With a driven clock every latency is known: 1, 2, ..., 100 ms."""
    now = [1_800_000_000.0]
    bus = make_bus(clock=lambda: now[0], metrics_window_s=60.0)
    published = now[0]
    await bus.publish_many(stream, [purchase(f"e{i}") for i in range(100)])

    async def handler(entry: StreamEntry) -> None:
        now[0] = published + (int(entry.event_id[1:]) + 1) / 1000

    async with consuming(bus, stream, "till-1", handler):
        await wait_until(lambda: has_handled(bus, stream, 100), what="100 handled")

    metrics = (await bus.stream_info(stream)).processing["till-1"]
    assert metrics.latency_p50_ms == pytest.approx(50, abs=1e-3)
    assert metrics.latency_p95_ms == pytest.approx(95, abs=1e-3)
    assert metrics.latency_p99_ms == pytest.approx(99, abs=1e-3)
    # 100 events over the consumer's 0.1 s life (younger than the window).
    assert metrics.throughput_per_s == pytest.approx(1000, rel=1e-6)
    assert metrics.window_events == 100

    now[0] += 61  # the window slides past every sample
    metrics = bus.processing_metrics(stream)["till-1"]
    assert metrics.window_events == 0
    assert metrics.throughput_per_s is None
    assert metrics.latency_p99_ms is None
    assert metrics.handled_total == 100


async def test_streams_are_listed_created_idempotently_and_deleted(
    make_bus: BusFactory, stream: str
) -> None:
    bus = make_bus()
    other = f"{stream}-segments"
    await bus.create_stream(stream)
    await bus.create_stream(stream)
    await bus.create_stream(other)
    await bus.create_stream(other, group="websocket-fanout")
    assert await bus.list_streams() == sorted([stream, other])
    info = await bus.stream_info(stream)
    assert (info.length, info.lag, info.first_entry_id) == (0, 0, None)

    await bus.publish(other, purchase("e1"))
    assert (await bus.stream_info(other, group="websocket-fanout")).lag == 1
    assert (await bus.stream_info(other)).lag == 1  # each group receives it

    await bus.delete_stream(other)
    assert await bus.list_streams() == [stream]
    with pytest.raises(StreamNotFoundError):
        await bus.stream_info(other)


def test_default_consumer_name_is_unique_per_process_and_valid() -> None:
    name = default_consumer_name("insights")
    assert name.endswith(f"-{os.getpid()}-insights")
    assert check_consumer_name(name) == name
