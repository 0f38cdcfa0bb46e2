"""The streaming service on Redis: live push across processes, a worker killed
between its commit and its acknowledgement, Redis down during ingestion."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from omnix.context import AppContext
from omnix.customers.models import PurchaseLine
from omnix.streaming import StreamEntry
from omnix.streaming.models import CustomerStreamState, StreamEvent, StreamProgress
from omnix.streaming.processor import InsightProcessor
from omnix.streaming.relay import publish, run_relay
from omnix.streaming.runtime import StreamingRuntime
from tests.factories import staff_headers
from tests.streaming.households import (
    START,
    accept,
    add_products,
    consuming,
    purchase_event,
    regular_household,
    runtime_of,
    settings_for_tests,
)
from tests.streaming.support import REDIS_URL, wait_until

pytestmark = pytest.mark.redis

AT = START + timedelta(days=30 * 7, hours=-10)  # 2018-01-01 00:00, the clock
WORKER = Path(__file__).with_name("killable_worker.py")
ROOT = Path(__file__).resolve().parents[2]


class Proxy:
    """A TCP relay to Redis that the test can cut and restore."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers.update((writer, up_writer))

        async def pipe(
            source: asyncio.StreamReader, sink: asyncio.StreamWriter
        ) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    key_prefix = f"omnix-test:{uuid.uuid4().hex[:12]}:"
    admin = aioredis.Redis.from_url(REDIS_URL)
    try:
        await admin.ping()
    except RedisConnectionError:
        await admin.aclose()
        pytest.skip(f"no Redis at {REDIS_URL}")
    yield key_prefix
    keys = [key async for key in admin.scan_iter(match=f"{key_prefix}*", count=500)]
    if keys:
        await admin.delete(*keys)
    await admin.aclose()


@pytest.fixture
async def shop(context: AppContext) -> AppContext:
    await add_products(context)
    await regular_household(context, "H1")
    await regular_household(context, "H2")
    return context


def _redis_runtime(context: AppContext, url: str, prefix: str) -> StreamingRuntime:
    context.settings.redis_url = url
    return runtime_of(context, key_prefix=prefix)


async def _count(
    context: AppContext, *conditions: Any, model: Any = StreamEvent
) -> int:
    async with context.db.session() as session:
        query = select(func.count()).select_from(model)
        return int(await session.scalar(query.where(*conditions)) or 0)


async def test_notices_reach_every_serve_process(
    client: httpx.AsyncClient, shop: AppContext, prefix: str
) -> None:
    """A consumer's notice, published on Redis, reaches the hub of another
    process (here: a second runtime listening on the same prefix)."""
    runtime = _redis_runtime(shop, REDIS_URL, prefix)
    assert runtime.engine == "redis"
    other = StreamingRuntime(shop, settings_for_tests(key_prefix=prefix))
    listeners = []
    for serve in (runtime, other):  # two serve processes
        assert serve.channel is not None
        listening = asyncio.Event()
        listeners.append(
            asyncio.create_task(serve.channel.listen(serve.hub, listening))
        )
        await asyncio.wait_for(listening.wait(), 5)
    seen = other.hub.subscribe(lambda insight: True)
    headers = await staff_headers(client, shop)
    event = purchase_event("H1", "TV", at=AT, price=499.0, orderId="big")
    try:
        async with consuming(shop):
            response = await client.post(
                "/v1/streaming/events/purchase", json=event, headers=headers
            )
            insight = await asyncio.wait_for(seen.queue.get(), 5)
    finally:
        for listener in listeners:
            listener.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
        await other.close()
        await runtime.close()
    assert response.json()["processed"] is True
    assert response.json()["relayed"] is True
    assert insight["customerId"] == "H1"
    assert insight in response.json()["insights"]


@pytest.mark.parametrize("when", ["after", "before"])
async def test_a_worker_killed_between_read_and_ack_loses_and_doubles_nothing(
    shop: AppContext, prefix: str, database_url: str, when: str
) -> None:
    """SIGKILL after the batch's commit (effects stored, not acknowledged) or
    before it: another worker claims the entries; every event is applied
    exactly once."""
    runtime = _redis_runtime(shop, REDIS_URL, prefix)
    events = [
        purchase_event(
            "H1" if i % 2 else "H2",
            "COFFEE",
            at=AT - timedelta(hours=10 - i),
            eventId=f"till-{i}",
            orderId=f"basket-{i}",
        )
        for i in range(10)
    ]
    entries = await accept(shop, runtime, events)
    assert await publish(shop, runtime, [entry.event for entry in entries])
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(WORKER),
        database_url,
        REDIS_URL,
        prefix,
        "till-5",
        when,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert line == b"TRAPPED\n"
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
    applied_before_rescue = await _count(shop, StreamEvent.processed_at.is_not(None))
    assert applied_before_rescue == (8 if when == "after" else 4)

    rescuer = InsightProcessor(shop, runtime)
    stop = asyncio.Event()
    deliveries: list[str] = []

    async def handle(batch: list[StreamEntry]) -> None:
        deliveries.extend(entry.event_id for entry in batch)
        await rescuer.handle(batch)

    task = asyncio.create_task(
        runtime.bus.consume_batches(
            runtime.settings.stream,
            "rescuer",
            handle,
            stop=stop,
            block_ms=50,
            claim_idle_ms=100,
        )
    )
    try:
        await wait_until(_all_applied(shop), timeout_s=10, what="every event applied")
        info = await runtime.bus.stream_info(runtime.settings.stream)
        await wait_until(
            _nothing_pending(runtime), timeout_s=10, what="acknowledgements"
        )
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        await runtime.close()
    assert info.dead_letter_length == 0
    async with shop.db.session() as session:
        progress = await session.get(StreamProgress, "customer-events")
        states = {
            s.customer_id: s.order_count
            for s in await session.scalars(select(CustomerStreamState))
        }
    assert progress is not None
    assert progress.processed_events == 10
    # The killed worker's claimed batch comes back: after its commit it is a
    # redelivery the ledger ignores; before it, simply the first application.
    assert progress.redelivered_events == (4 if when == "after" else 0)
    # The rescuer received the killed worker's batch and the two unread.
    assert set(deliveries) == {f"till-{i}" for i in range(4, 10)}
    assert states == {"H1": 35, "H2": 35}
    assert await _count(shop, model=PurchaseLine) == 2 * 90 + 10


def _all_applied(context: AppContext) -> Any:
    async def check() -> bool:
        return await _count(context, StreamEvent.processed_at.is_(None)) == 0

    return check


def _nothing_pending(runtime: StreamingRuntime) -> Any:
    async def check() -> bool:
        info = await runtime.bus.stream_info(runtime.settings.stream)
        return info.pending == 0 and info.lag == 0

    return check


async def test_redis_down_during_ingestion_loses_nothing(
    client: httpx.AsyncClient, shop: AppContext, prefix: str
) -> None:
    """Events accepted while Redis is unreachable wait in the outbox and are
    relayed and applied, once each, when it returns."""
    target = make_url(REDIS_URL)
    proxy = Proxy(target.host or "127.0.0.1", target.port or 6379)
    await proxy.start()
    url = f"redis://127.0.0.1:{proxy.port}/{target.database or 0}"
    runtime = _redis_runtime(shop, url, prefix)
    runtime.settings.publish_timeout_s = 1.0
    headers = await staff_headers(client, shop)
    batch = "/v1/streaming/events/batch"

    def events(start: int, count: int) -> list[dict[str, Any]]:
        return [
            purchase_event(
                "H1",
                "MILK",
                at=AT - timedelta(minutes=60 - i),
                eventId=f"e-{i}",
                orderId=f"o-{i}",
            )
            for i in range(start, start + count)
        ]

    relay = asyncio.create_task(run_relay(shop, runtime))
    try:
        async with consuming(shop):
            up = await client.post(batch, json=events(0, 5), headers=headers)
            assert up.json()["relayed"] is True
            await proxy.stop()
            down = await client.post(batch, json=events(5, 10), headers=headers)
            assert down.status_code == 200
            assert down.json()["publishedCount"] == 10
            assert down.json()["relayed"] is False
            assert "unreachable" in down.json()["message"]
            assert await _count(shop, StreamEvent.published_at.is_(None)) == 10
            await asyncio.sleep(1.0)  # Redis stays down a while
            await proxy.start()
            await wait_until(_all_applied(shop), timeout_s=20, what="all applied")
    finally:
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)
        await runtime.close()
        await proxy.stop()
    assert await _count(shop) == 15
    assert await _count(shop, StreamEvent.published_at.is_(None)) == 0
    async with shop.db.session() as session:
        progress = await session.get(StreamProgress, "customer-events")
        state = await session.get(CustomerStreamState, "H1")
    assert progress is not None
    assert progress.processed_events == 15
    assert state is not None
    assert state.order_count == 30 + 15
    assert await _count(shop, model=PurchaseLine) == 2 * 90 + 15
