"""The event bus under real-time streaming: one interface, two engines.

Purchase, segment-update and consumption-prediction events are appended to named
streams and read by consumer groups. ``RedisStreamBus`` (production, shared by
any number of ``omnix serve`` and ``omnix worker`` processes) and ``MemoryBus``
(embedded default, one process) implement the same interface, and the consuming
loop that gives the delivery guarantees lives once, in ``StreamBusBase.consume``
(``bus_base.py``):

* at-least-once: an entry is acknowledged only after its handler returned; a
  handler that raises, a stopped task or a killed process leaves it pending;
* pending entries idle for longer than ``claim_idle_ms`` are claimed by any live
  consumer of the group (its own failures included) and handed over again;
* an entry claimed more than ``max_deliveries`` times goes to the dead-letter
  stream ``<stream>:dead`` with its last error, and is acknowledged.

The bus never deduplicates: every event carries an ``eventId`` and handlers must
be idempotent on it, since a redelivered entry may already have had its effect.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from omnix.streaming.bus_metrics import ProcessingMetrics

DEFAULT_GROUP = "omnix"
DEAD_LETTER_SUFFIX = ":dead"
# Redis answers "0-0" as the XAUTOCLAIM cursor once the whole pending list was
# scanned; the memory engine uses the same sentinel.
SCAN_DONE = "0-0"

_STREAM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
_CONSUMER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@\-]{0,127}")


class StreamNotFoundError(LookupError):
    """The stream was never created nor published to."""


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """One event as a handler receives it."""

    stream: str
    entry_id: str
    event: dict[str, Any]
    published_at: float  # publisher's wall clock, seconds since the epoch
    delivery_count: int  # 1 on first delivery, +1 on every claim

    @property
    def event_id(self) -> str:
        return str(self.event["eventId"])


Handler = Callable[[StreamEntry], Awaitable[None]]
# Takes every entry of one read at once (``StreamBusBase.consume_batches``).
BatchHandler = Callable[[list[StreamEntry]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ConsumerInfo:
    """A consumer of the group as the bus sees it (any process)."""

    name: str
    pending: int
    idle_ms: int


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """State of a stream for one consumer group.

    ``length`` to ``dead_letter_length`` are shared by every process; ``lag`` is
    None when Redis cannot compute it (entries deleted in the unread range).
    ``processing`` holds the metrics of the consumers running in *this*
    process only, keyed by consumer name.
    """

    stream: str
    group: str
    length: int
    pending: int
    lag: int | None
    consumers: tuple[ConsumerInfo, ...]
    first_entry_id: str | None
    last_entry_id: str | None
    dead_letter_length: int
    processing: Mapping[str, ProcessingMetrics]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An entry given up after ``max_deliveries`` failed deliveries."""

    dead_letter_id: str
    stream: str
    entry_id: str
    group: str
    event: dict[str, Any]
    error: str
    deliveries: int  # times it was handed to a handler before being given up
    consumer: str  # the consumer that gave it up
    dead_at: float


class EventBus(Protocol):
    """What the streaming service needs from an event bus.

    ``group`` defaults to the bus's configured group everywhere; a second group
    on the same stream receives every entry again (fan-out).
    """

    async def create_stream(self, name: str, *, group: str | None = None) -> None:
        """Create the stream and its consumer group; no-op when both exist."""
        ...

    async def list_streams(self) -> list[str]:
        """Names of the streams created or published to, sorted."""
        ...

    async def publish(self, stream: str, event: Mapping[str, Any]) -> str:
        """Append one event (it must carry an ``eventId``); return its entry id."""
        ...

    async def publish_many(
        self, stream: str, events: Sequence[Mapping[str, Any]]
    ) -> list[str]:
        """Append events in order; return their entry ids in the same order."""
        ...

    async def consume(
        self,
        stream: str,
        consumer_name: str,
        handler: Handler,
        *,
        stop: asyncio.Event,
        batch_size: int = 100,
        block_ms: int = 1000,
        group: str | None = None,
        claim_idle_ms: int | None = None,
        max_deliveries: int | None = None,
    ) -> None:
        """Run ``handler`` on the group's entries until ``stop`` is set.

        Acknowledges an entry after ``handler`` returns; see ``StreamBusBase``.
        """
        ...

    async def stream_info(self, stream: str, *, group: str | None = None) -> StreamInfo:
        """Length, pending, lag, consumers, dead letters and local metrics."""
        ...

    def processing_metrics(
        self, stream: str, *, group: str | None = None
    ) -> dict[str, ProcessingMetrics]:
        """Metrics of this process's consumers of the stream, by consumer name."""
        ...

    async def read_dead_letters(
        self, stream: str, *, count: int = 100
    ) -> list[DeadLetter]:
        """The oldest ``count`` dead letters of the stream."""
        ...

    async def forget_idle_consumers(
        self, stream: str, *, idle_ms: int, group: str | None = None
    ) -> list[str]:
        """Remove consumers idle >= ``idle_ms`` that hold no pending entry."""
        ...

    async def delete_stream(self, name: str) -> None:
        """Delete the stream, its groups, dead letters and recorded errors."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def default_consumer_name(suffix: str = "") -> str:
    """``<host>-<pid>[-suffix]``: unique per live process, as consumers must be.

    Two live consumers sharing a name would share one pending list, and one
    could acknowledge what the other is still handling.
    """
    host = re.sub(r"[^A-Za-z0-9_.\-]", "-", socket.gethostname()) or "host"
    name = f"{host}-{os.getpid()}" + (f"-{suffix}" if suffix else "")
    return check_consumer_name(name[-128:].lstrip("-_.:@") or "consumer")


def check_stream_name(name: str) -> str:
    """Return ``name`` or raise ValueError: 1-128 of ``A-Za-z0-9_.-``."""
    if not isinstance(name, str) or not _STREAM_NAME.fullmatch(name):
        raise ValueError(
            f"stream name {name!r} must be 1-128 characters of letters, digits, "
            "'_', '.', '-', starting with a letter or digit"
        )
    return name


def check_consumer_name(name: str) -> str:
    """Return ``name`` or raise ValueError (``host-pid``-like names are fine)."""
    if not isinstance(name, str) or not _CONSUMER_NAME.fullmatch(name):
        raise ValueError(
            f"consumer name {name!r} must be 1-128 characters of letters, digits, "
            "'_', '.', ':', '@', '-', starting with a letter or digit"
        )
    return name


def encode_event(event: Mapping[str, Any]) -> bytes:
    """Serialise an event to JSON, checking it carries a usable ``eventId``."""
    if not isinstance(event, Mapping):
        raise ValueError(f"event must be a mapping, got {type(event).__name__}")
    event_id = event.get("eventId")
    if not isinstance(event_id, str) or not event_id:
        raise ValueError("event must carry a non-empty string 'eventId'")
    try:
        return orjson.dumps(event)
    except TypeError as exc:
        raise ValueError(f"event {event_id!r} is not JSON-serialisable: {exc}") from exc


def decode_event(payload: bytes | str) -> dict[str, Any]:
    """Parse what ``encode_event`` wrote; ValueError if it is not an event."""
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"entry payload is not JSON: {exc}") from exc
    if not isinstance(event, dict) or "eventId" not in event:
        raise ValueError("entry payload is not an event object with an eventId")
    return event


def describe_error(exc: BaseException) -> str:
    """One line naming the exception class and its message."""
    return f"{type(exc).__name__}: {exc}"[:2000]
