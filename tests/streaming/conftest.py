"""Fixtures giving each test its own event bus, on both engines.

Redis is shared with other people: every test gets a fresh key prefix, and all
keys under it are deleted afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.streaming.support import REDIS_URL, BusFactory


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
