"""The embedded event bus: Redis Streams semantics inside one process.

Entry ids, consumer groups, the per-group pending list with delivery counts and
idle times, claiming, trimming and dead letters behave as ``RedisStreamBus``
does, so the streaming service runs unchanged on either. Events are JSON
round-tripped on publish, as Redis would, so a handler never shares a dict with
the publisher. The state lives in this process's memory: it is lost on exit
and invisible to other processes, which is why production uses Redis.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog

from omnix.streaming.bus import (
    DEFAULT_GROUP,
    SCAN_DONE,
    ConsumerInfo,
    DeadLetter,
    StreamEntry,
    StreamInfo,
    StreamNotFoundError,
    check_consumer_name,
    check_stream_name,
    decode_event,
    encode_event,
)
from omnix.streaming.bus_base import StreamBusBase

log = structlog.get_logger(__name__)

_NO_ERROR = "no error recorded: the consumer stopped or died inside the handler"

EntryKey = tuple[int, int]  # (milliseconds, sequence), ordered like Redis ids


def _parse_id(entry_id: str) -> EntryKey:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _format_id(key: EntryKey) -> str:
    return f"{key[0]}-{key[1]}"


def _next_key(last: EntryKey, now: float) -> EntryKey:
    """The id after ``last``: the clock's millisecond, or a higher sequence."""
    ms = int(now * 1000)
    return (ms, 0) if ms > last[0] else (last[0], last[1] + 1)


@dataclass(slots=True)
class _Pending:
    consumer: str
    delivered_at: float  # monotonic
    delivery_count: int


@dataclass(slots=True)
class _Group:
    last_delivered: EntryKey = (0, 0)
    # Insertion order is id order: entries enter on first delivery, in id order,
    # and a claim updates its row in place.
    pending: dict[EntryKey, _Pending] = field(default_factory=dict)
    consumers: dict[str, float] = field(default_factory=dict)  # name -> seen at
    errors: dict[EntryKey, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Stream:
    keys: list[EntryKey] = field(default_factory=list)
    payloads: dict[EntryKey, tuple[bytes, float]] = field(default_factory=dict)
    groups: dict[str, _Group] = field(default_factory=dict)
    dead: list[DeadLetter] = field(default_factory=list)
    last_key: EntryKey = (0, 0)
    last_dead_key: EntryKey = (0, 0)
    arrived: asyncio.Condition | None = None


class MemoryBus(StreamBusBase):
    """In-process event bus; see ``StreamBusBase`` for the guarantees."""

    def __init__(
        self,
        *,
        group: str = DEFAULT_GROUP,
        claim_idle_ms: int = 60_000,
        max_deliveries: int = 5,
        max_length: int | None = 100_000,
        metrics_window_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            group=group,
            claim_idle_ms=claim_idle_ms,
            max_deliveries=max_deliveries,
            max_length=max_length,
            metrics_window_s=metrics_window_s,
            clock=clock,
        )
        self._streams: dict[str, _Stream] = {}

    def _stream(self, name: str) -> _Stream:
        check_stream_name(name)
        if name not in self._streams:
            self._streams[name] = _Stream()
        return self._streams[name]

    def _existing(self, name: str) -> _Stream:
        check_stream_name(name)
        if name not in self._streams:
            raise StreamNotFoundError(f"stream {name!r} does not exist")
        return self._streams[name]

    async def create_stream(self, name: str, *, group: str | None = None) -> None:
        """Create the stream and its consumer group; no-op when both exist."""
        group = check_consumer_name(group or self.group)
        self._stream(name).groups.setdefault(group, _Group())

    async def list_streams(self) -> list[str]:
        """Names of the streams created or published to, sorted."""
        return sorted(self._streams)

    async def publish_many(
        self, stream: str, events: Sequence[Mapping[str, Any]]
    ) -> list[str]:
        """Append events in order; return their entry ids in the same order."""
        check_stream_name(stream)
        payloads = [encode_event(event) for event in events]  # all checked first
        if not payloads:
            return []
        state = self._stream(stream)
        published_at = self.clock()
        ids = []
        for payload in payloads:
            key = _next_key(state.last_key, published_at)
            state.keys.append(key)
            state.payloads[key] = (payload, published_at)
            state.last_key = key
            ids.append(_format_id(key))
        if self.max_length is not None:
            for key in state.keys[: -self.max_length]:
                del state.payloads[key]
            del state.keys[: -self.max_length]
        if state.arrived is not None:
            async with state.arrived:
                state.arrived.notify_all()
        return ids

    async def stream_info(self, stream: str, *, group: str | None = None) -> StreamInfo:
        """Length, pending, lag, consumers, dead letters and local metrics."""
        group = group or self.group
        state = self._existing(stream)
        ours = state.groups.get(group)
        now = time.monotonic()
        consumers: tuple[ConsumerInfo, ...] = ()
        lag = len(state.keys)
        if ours is not None:
            owed = {name: 0 for name in ours.consumers}
            for row in ours.pending.values():
                owed[row.consumer] = owed.get(row.consumer, 0) + 1
            consumers = tuple(
                ConsumerInfo(
                    name=name, pending=owed[name], idle_ms=int((now - seen) * 1000)
                )
                for name, seen in sorted(ours.consumers.items())
            )
            lag = len(state.keys) - bisect.bisect_right(state.keys, ours.last_delivered)
        return StreamInfo(
            stream=stream,
            group=group,
            length=len(state.keys),
            pending=len(ours.pending) if ours else 0,
            lag=lag,
            consumers=consumers,
            first_entry_id=_format_id(state.keys[0]) if state.keys else None,
            last_entry_id=_format_id(state.keys[-1]) if state.keys else None,
            dead_letter_length=len(state.dead),
            processing=self.processing_metrics(stream, group=group),
        )

    async def read_dead_letters(
        self, stream: str, *, count: int = 100
    ) -> list[DeadLetter]:
        """The oldest ``count`` dead letters of the stream."""
        state = self._streams.get(check_stream_name(stream))
        return list(state.dead[:count]) if state else []

    async def forget_idle_consumers(
        self, stream: str, *, idle_ms: int, group: str | None = None
    ) -> list[str]:
        """Remove consumers idle >= ``idle_ms`` that hold no pending entry."""
        state = self._streams.get(check_stream_name(stream))
        ours = state.groups.get(group or self.group) if state else None
        if ours is None:
            return []
        now = time.monotonic()
        owners = {row.consumer for row in ours.pending.values()}
        forgotten = [
            name
            for name, seen in ours.consumers.items()
            if name not in owners and (now - seen) * 1000 >= idle_ms
        ]
        for name in forgotten:
            del ours.consumers[name]
        return forgotten

    async def delete_stream(self, name: str) -> None:
        """Delete the stream, its groups, dead letters and recorded errors."""
        self._streams.pop(check_stream_name(name), None)
        self._forget_meters(name)

    async def close(self) -> None:
        """Nothing to release; present for interface parity."""

    def _entry(self, stream: str, key: EntryKey, delivery_count: int) -> StreamEntry:
        payload, published_at = self._streams[stream].payloads[key]
        return StreamEntry(
            stream=stream,
            entry_id=_format_id(key),
            event=decode_event(payload),
            published_at=published_at,
            delivery_count=delivery_count,
        )

    async def _read_new(
        self, stream: str, group: str, consumer: str, count: int, block_ms: int
    ) -> list[StreamEntry]:
        # Yield once even when entries are ready, so that one busy consumer
        # cannot starve the others of the same event loop.
        await asyncio.sleep(0)
        state = self._stream(stream)
        ours = state.groups.setdefault(group, _Group())
        ours.consumers[consumer] = time.monotonic()
        start = bisect.bisect_right(state.keys, ours.last_delivered)
        if start == len(state.keys):
            if state.arrived is None:
                state.arrived = asyncio.Condition()
            async with state.arrived:
                try:
                    await asyncio.wait_for(
                        state.arrived.wait_for(
                            lambda: state.last_key > ours.last_delivered
                        ),
                        block_ms / 1000,
                    )
                except TimeoutError:
                    return []
            start = bisect.bisect_right(state.keys, ours.last_delivered)
        now = time.monotonic()
        ours.consumers[consumer] = now
        fresh = state.keys[start : start + count]
        for key in fresh:
            ours.pending[key] = _Pending(consumer, now, 1)
        if fresh:
            ours.last_delivered = fresh[-1]
        return [self._entry(stream, key, 1) for key in fresh]

    async def _claim_idle(
        self,
        stream: str,
        group: str,
        consumer: str,
        cursor: str,
        count: int,
        min_idle_ms: int,
    ) -> tuple[str, list[StreamEntry]]:
        await asyncio.sleep(0)
        state = self._stream(stream)
        ours = state.groups.setdefault(group, _Group())
        now = time.monotonic()
        ours.consumers[consumer] = now
        start = _parse_id(cursor)
        claimed: list[EntryKey] = []
        lost: list[str] = []
        next_cursor = SCAN_DONE
        for key in [k for k in ours.pending if k >= start]:
            if len(claimed) == count:
                next_cursor = _format_id(key)
                break
            row = ours.pending[key]
            if (now - row.delivered_at) * 1000 < min_idle_ms:
                continue
            if key not in state.payloads:
                # Trimmed before anyone handled it: dropped, as Redis 7 does.
                del ours.pending[key]
                ours.errors.pop(key, None)
                lost.append(_format_id(key))
                continue
            row.consumer, row.delivered_at = consumer, now
            row.delivery_count += 1
            claimed.append(key)
        if lost:
            log.warning("stream.pending_entries_trimmed", stream=stream, ids=lost)
        return next_cursor, [
            self._entry(stream, key, ours.pending[key].delivery_count)
            for key in claimed
        ]

    def _group_of(self, entry: StreamEntry, group: str) -> _Group:
        # A stream deleted under a running consumer gets an empty group back,
        # so its acknowledgements land nowhere instead of failing.
        return self._stream(entry.stream).groups.setdefault(group, _Group())

    async def _ack(self, entry: StreamEntry, group: str) -> None:
        ours = self._group_of(entry, group)
        key = _parse_id(entry.entry_id)
        ours.pending.pop(key, None)
        ours.errors.pop(key, None)

    async def _note_failure(self, entry: StreamEntry, group: str, error: str) -> None:
        key = _parse_id(entry.entry_id)
        self._group_of(entry, group).errors[key] = error

    async def _dead_letter(self, entry: StreamEntry, group: str, consumer: str) -> None:
        state = self._stream(entry.stream)
        key = _parse_id(entry.entry_id)
        error = self._group_of(entry, group).errors.get(key, _NO_ERROR)
        dead_key = _next_key(state.last_dead_key, self.clock())
        state.last_dead_key = dead_key
        state.dead.append(
            DeadLetter(
                dead_letter_id=_format_id(dead_key),
                stream=entry.stream,
                entry_id=entry.entry_id,
                group=group,
                event=orjson.loads(orjson.dumps(entry.event)),
                error=error,
                deliveries=entry.delivery_count - 1,
                consumer=consumer,
                dead_at=self.clock(),
            )
        )
        if self.max_length is not None:
            del state.dead[: -self.max_length]
        await self._ack(entry, group)
