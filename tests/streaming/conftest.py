"""Fixtures giving each test its own event bus, on both engines.

Redis is shared with other people: every test gets a fresh key prefix, and all
keys under it are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from omnix.streaming import MemoryBus, RedisStreamBus, StreamBusBase

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


@pytest.fixture(
    params=["memory", pytest.param("redis", marks=pytest.mark.redis)],
)
async def make_bus(request: pytest.FixtureRequest) -> AsyncIterator[BusFactory]:
    """A factory of buses of one engine that share this test's key prefix."""
    factory = BusFactory(request.param, f"omnix-test:{uuid.uuid4().hex[:12]}:")
    if factory.engine == "memory":
        yield factory
        return
    admin = aioredis.Redis.from_url(REDIS_URL)
    try:
        await admin.ping()
    except RedisConnectionError:
        await admin.aclose()
        pytest.skip(f"no Redis at {REDIS_URL}")
    try:
        yield factory
    finally:
        for bus in factory.buses:
            await bus.close()
        pattern = f"{factory.key_prefix}*"
        keys = [key async for key in admin.scan_iter(match=pattern, count=500)]
        if keys:
            await admin.delete(*keys)
        await admin.aclose()


@pytest.fixture
def stream() -> str:
    return f"orders-{uuid.uuid4().hex[:10]}"


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
