"""Helpers shared by the streaming tests: bus factories, polling, events."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from omnix.streaming import Handler, MemoryBus, RedisStreamBus, StreamBusBase

REDIS_URL = os.environ.get("OMNIX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class BusFactory:
    """Makes buses of one engine under one key prefix, and closes them all."""

    def __init__(self, engine: str, key_prefix: str) -> None:
        self.engine = engine
        self.key_prefix = key_prefix
        self.buses: list[StreamBusBase] = []

    def __call__(self, **options: Any) -> StreamBusBase:
        bus: StreamBusBase
        if self.engine == "redis":
            bus = RedisStreamBus(REDIS_URL, key_prefix=self.key_prefix, **options)
        else:
            bus = MemoryBus(**options)
        self.buses.append(bus)
        return bus


async def wait_until(
    condition: Callable[[], Awaitable[bool]] | Callable[[], bool],
    *,
    timeout_s: float = 5.0,
    what: str = "condition",
) -> None:
    """Poll ``condition`` every 10 ms; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        outcome = condition()
        if isinstance(outcome, Awaitable):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.01)


def purchase(event_id: str, *, amount_cents: int = 100) -> dict[str, Any]:
    """A purchase event in the guide's shape, with the id the bus requires."""
    return {
        "eventId": event_id,
        "eventType": "purchase",
        "customerId": "household-0042",
        "productId": "product-1001",
        "productCategory": "DAIRY",
        "productName": "Whole milk 1 gal",
        "quantity": 1,
        "price": amount_cents / 100,
        "totalAmount": amount_cents / 100,
        "amountCents": amount_cents,
        "timestamp": "2017-12-30T10:15:00+00:00",
    }


@asynccontextmanager
async def consuming(
    bus: StreamBusBase,
    stream: str,
    consumer: str,
    handler: Handler,
    *,
    batch_size: int = 10,
    claim_idle_ms: int | None = None,
    max_deliveries: int | None = None,
) -> AsyncIterator[asyncio.Task[None]]:
    """Run a consumer for the duration of the block, then stop it gracefully."""
    stop = asyncio.Event()
    task = asyncio.create_task(
        bus.consume(
            stream,
            consumer,
            handler,
            stop=stop,
            batch_size=batch_size,
            block_ms=20,
            claim_idle_ms=claim_idle_ms,
            max_deliveries=max_deliveries,
        )
    )
    try:
        yield task
    finally:
        stop.set()
        if not task.done():
            await asyncio.wait_for(task, 5)
        elif not task.cancelled() and task.exception():
            raise task.exception()  # type: ignore[misc]


async def has_pending(bus: StreamBusBase, stream: str, expected: int) -> bool:
    """The group's pending count equals ``expected``."""
    return (await bus.stream_info(stream)).pending == expected


async def has_dead_letters(bus: StreamBusBase, stream: str, expected: int) -> bool:
    """The stream's dead-letter length equals ``expected``."""
    return (await bus.stream_info(stream)).dead_letter_length == expected


async def has_handled(
    bus: StreamBusBase, stream: str, expected: int, consumer: str = "till-1"
) -> bool:
    """This process's ``consumer`` has handled exactly ``expected`` entries."""
    metrics = bus.processing_metrics(stream).get(consumer)
    return metrics is not None and metrics.handled_total == expected
