"""Live delivery of insights to WebSocket clients and waiting requests.

A consumer that commits a batch sends one *notice*: the ids of the events it
applied and the insights it stored, as JSON. Embedded, the notice goes
straight to this process's :class:`InsightHub`. With Redis, it is published
on the channel ``<prefix>insights`` and every ``omnix serve`` process
listening there hands it to its own hub, so a client connected to any
process sees every insight. Pub/sub is at most once: a notice published
while a process is disconnected is not replayed to it; the insights stay
readable with GET /v1/streaming/insights/{customerId}.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import orjson
import redis.asyncio as aioredis
import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = structlog.get_logger()

Notice = dict[str, Any]  # {"eventIds": [...], "insights": [RealtimeInsight JSON]}
QUEUE_SIZE = 1_000


class Subscription:
    """One client's queue of insights, filtered by ``accepts``."""

    def __init__(self, accepts: Callable[[dict[str, Any]], bool], maxsize: int):
        self.accepts = accepts
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize)
        # Insights dropped because the client read too slowly.
        self.dropped = 0

    def offer(self, insight: dict[str, Any]) -> None:
        if not self.accepts(insight):
            return
        try:
            self.queue.put_nowait(insight)
        except asyncio.QueueFull:
            self.dropped += 1


class InsightHub:
    """This process's subscribers and the requests waiting for their event."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}

    def subscribe(
        self, accepts: Callable[[dict[str, Any]], bool], maxsize: int = QUEUE_SIZE
    ) -> Subscription:
        subscription = Subscription(accepts, maxsize)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    def expect(self, event_id: str) -> asyncio.Future[None]:
        """A future resolved when a notice names ``event_id``."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(event_id, []).append(future)
        return future

    def forget(self, event_id: str, future: asyncio.Future[None]) -> None:
        waiting = self._waiters.get(event_id, [])
        if future in waiting:
            waiting.remove(future)
        if not waiting:
            self._waiters.pop(event_id, None)

    def deliver(self, notice: Notice) -> None:
        for insight in notice.get("insights", []):
            for subscription in list(self._subscriptions):
                subscription.offer(insight)
        if self._waiters:
            for event_id in notice.get("eventIds", []):
                for future in self._waiters.pop(event_id, []):
                    if not future.done():
                        future.set_result(None)


class RedisChannel:
    """Notices over Redis pub/sub, between consumers and serve processes."""

    def __init__(self, redis_url: str, key_prefix: str) -> None:
        self.name = f"{key_prefix}insights"
        self._redis = aioredis.Redis.from_url(
            redis_url, socket_connect_timeout=2, socket_timeout=5
        )

    async def publish(self, notice: Notice) -> None:
        await self._redis.publish(self.name, orjson.dumps(notice))

    async def listen(self, hub: InsightHub, ready: asyncio.Event | None = None) -> None:
        """Hand every notice to ``hub``; reconnect with a growing pause."""
        pause_s = 0.1
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.name)
                if ready is not None:
                    ready.set()
                pause_s = 0.1
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message["type"] == "message":
                        hub.deliver(orjson.loads(message["data"]))
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                log.warning(
                    "streaming.channel_unavailable",
                    error=type(exc).__name__,
                    retry_in_s=pause_s,
                )
                await asyncio.sleep(pause_s)
                pause_s = min(pause_s * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def close(self) -> None:
        await self._redis.aclose()
