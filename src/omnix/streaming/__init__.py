"""Real-time streaming: the event bus and, on top of it, the streaming service.

``create_event_bus`` picks the engine the deployment asks for: Redis Streams
when a Redis URL is configured (``OMNIX_REDIS_URL``), otherwise the in-process
``MemoryBus``. Both implement ``EventBus`` with the same delivery guarantees.
"""

from __future__ import annotations

from omnix.streaming.bus import (
    DEAD_LETTER_SUFFIX,
    DEFAULT_GROUP,
    BatchHandler,
    ConsumerInfo,
    DeadLetter,
    EventBus,
    Handler,
    StreamEntry,
    StreamInfo,
    StreamNotFoundError,
    default_consumer_name,
)
from omnix.streaming.bus_base import StreamBusBase
from omnix.streaming.bus_metrics import ProcessingMetrics
from omnix.streaming.memory_bus import MemoryBus
from omnix.streaming.redis_bus import RedisStreamBus

__all__ = [
    "DEAD_LETTER_SUFFIX",
    "DEFAULT_GROUP",
    "BatchHandler",
    "ConsumerInfo",
    "DeadLetter",
    "EventBus",
    "Handler",
    "MemoryBus",
    "ProcessingMetrics",
    "RedisStreamBus",
    "StreamBusBase",
    "StreamEntry",
    "StreamInfo",
    "StreamNotFoundError",
    "create_event_bus",
    "default_consumer_name",
]


def create_event_bus(
    redis_url: str | None,
    *,
    key_prefix: str = "omnix:",
    group: str = DEFAULT_GROUP,
    claim_idle_ms: int = 60_000,
    max_deliveries: int = 5,
    max_length: int | None = 100_000,
) -> EventBus:
    """A ``RedisStreamBus`` when ``redis_url`` is set, else a ``MemoryBus``."""
    if redis_url:
        return RedisStreamBus(
            redis_url,
            key_prefix=key_prefix,
            group=group,
            claim_idle_ms=claim_idle_ms,
            max_deliveries=max_deliveries,
            max_length=max_length,
        )
    return MemoryBus(
        group=group,
        claim_idle_ms=claim_idle_ms,
        max_deliveries=max_deliveries,
        max_length=max_length,
    )
