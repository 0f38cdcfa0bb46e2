"""The consuming loop shared by every engine of the event bus.

The delivery guarantees (acknowledge after the handler, claim idle entries,
dead-letter after ``max_deliveries``) are written once here, over five small
primitives each engine implements; that is what makes ``MemoryBus`` and
``RedisStreamBus`` interchangeable under the streaming service.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from omnix.streaming.bus import (
    DEFAULT_GROUP,
    SCAN_DONE,
    BatchHandler,
    DeadLetter,
    Handler,
    StreamEntry,
    StreamInfo,
    check_consumer_name,
    check_stream_name,
    describe_error,
)
from omnix.streaming.bus_metrics import ProcessingMeter, ProcessingMetrics

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _LoopContext:
    """What one consuming loop passes to the handling of each batch."""

    group: str
    consumer: str
    meter: ProcessingMeter
    max_deliveries: int


def _single(handler: BatchHandler) -> Handler:
    """A per-entry handler that hands ``handler`` a batch of one."""

    async def handle(entry: StreamEntry) -> None:
        await handler([entry])

    return handle


class StreamBusBase(ABC):
    """The consuming loop shared by both engines, over five engine primitives."""

    # Errors of the engine that a retry can cure (connection lost, timeout).
    transient_errors: tuple[type[BaseException], ...] = ()

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
        if claim_idle_ms < 1:
            raise ValueError(f"claim_idle_ms must be >= 1, got {claim_idle_ms}")
        if max_deliveries < 1:
            raise ValueError(f"max_deliveries must be >= 1, got {max_deliveries}")
        if max_length is not None and max_length < 1:
            raise ValueError(f"max_length must be >= 1 or None, got {max_length}")
        self.group = check_consumer_name(group)
        self.claim_idle_ms = claim_idle_ms
        self.max_deliveries = max_deliveries
        self.max_length = max_length
        self.metrics_window_s = metrics_window_s
        self.clock = clock
        self._meters: dict[tuple[str, str, str], ProcessingMeter] = {}

    @abstractmethod
    async def create_stream(self, name: str, *, group: str | None = None) -> None:
        """Create the stream and its consumer group; no-op when both exist."""

    @abstractmethod
    async def publish_many(
        self, stream: str, events: Sequence[Mapping[str, Any]]
    ) -> list[str]:
        """Append events in order; return their entry ids in the same order."""

    @abstractmethod
    async def list_streams(self) -> list[str]:
        """Names of the streams created or published to, sorted."""

    @abstractmethod
    async def stream_info(self, stream: str, *, group: str | None = None) -> StreamInfo:
        """Length, pending, lag, consumers, dead letters and local metrics."""

    @abstractmethod
    async def read_dead_letters(
        self, stream: str, *, count: int = 100
    ) -> list[DeadLetter]:
        """The oldest ``count`` dead letters of the stream."""

    @abstractmethod
    async def forget_idle_consumers(
        self, stream: str, *, idle_ms: int, group: str | None = None
    ) -> list[str]:
        """Remove consumers idle >= ``idle_ms`` that hold no pending entry."""

    @abstractmethod
    async def delete_stream(self, name: str) -> None:
        """Delete the stream, its groups, dead letters and recorded errors."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections."""

    async def publish(self, stream: str, event: Mapping[str, Any]) -> str:
        """Append one event (it must carry an ``eventId``); return its entry id."""
        (entry_id,) = await self.publish_many(stream, [event])
        return entry_id

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

        Each round first claims pending entries idle for ``claim_idle_ms`` (the
        pending list is scanned again every ``claim_idle_ms / 2``), then reads up
        to ``batch_size`` new entries, waiting at most ``block_ms`` for them.
        Entries are handled one after another and acknowledged after their
        handler returns. ``stop`` is honoured between batches, so a graceful stop
        finishes what was read; cancelling the task instead abandons the batch to
        the claiming of other consumers. Connection errors are logged and retried
        with a growing pause rather than ending the loop. ``claim_idle_ms`` and
        ``max_deliveries`` default to the bus's settings.
        """

        async def handle_all(entries: list[StreamEntry], context: _LoopContext) -> None:
            for entry in entries:
                await self._handle(entry, context, handler)

        await self._consume_loop(
            stream,
            consumer_name,
            handle_all,
            stop=stop,
            batch_size=batch_size,
            block_ms=block_ms,
            group=group,
            claim_idle_ms=claim_idle_ms,
            max_deliveries=max_deliveries,
        )

    async def consume_batches(
        self,
        stream: str,
        consumer_name: str,
        handler: BatchHandler,
        *,
        stop: asyncio.Event,
        batch_size: int = 100,
        block_ms: int = 1000,
        group: str | None = None,
        claim_idle_ms: int | None = None,
        max_deliveries: int | None = None,
    ) -> None:
        """Like ``consume``, but ``handler`` takes each batch read at once.

        A handler that applies a whole batch in one database transaction does
        one commit and the bus one acknowledgement (one round trip to Redis)
        per batch instead of per entry. When the handler raises on a batch of
        several entries, each entry is handed over again on its own, so one
        poison event is isolated and only its own delivery fails; the others
        are acknowledged. Delivery guarantees are those of ``consume``.
        """

        async def handle_all(entries: list[StreamEntry], context: _LoopContext) -> None:
            await self._handle_batch(entries, context, handler)

        await self._consume_loop(
            stream,
            consumer_name,
            handle_all,
            stop=stop,
            batch_size=batch_size,
            block_ms=block_ms,
            group=group,
            claim_idle_ms=claim_idle_ms,
            max_deliveries=max_deliveries,
        )

    async def _consume_loop(
        self,
        stream: str,
        consumer_name: str,
        handle_all: Callable[[list[StreamEntry], _LoopContext], Awaitable[None]],
        *,
        stop: asyncio.Event,
        batch_size: int,
        block_ms: int,
        group: str | None,
        claim_idle_ms: int | None,
        max_deliveries: int | None,
    ) -> None:
        check_stream_name(stream)
        check_consumer_name(consumer_name)
        idle_ms = self.claim_idle_ms if claim_idle_ms is None else claim_idle_ms
        tries = self.max_deliveries if max_deliveries is None else max_deliveries
        if min(batch_size, block_ms, idle_ms, tries) < 1:
            raise ValueError(
                "batch_size, block_ms, claim_idle_ms and max_deliveries must be >= 1"
            )
        group = check_consumer_name(group or self.group)
        context = _LoopContext(
            group, consumer_name, self._meter(stream, group, consumer_name), tries
        )
        group_ready = False

        claim_every_s = max(idle_ms / 2000, 0.005)
        next_claim_at = 0.0
        cursor = SCAN_DONE
        pause_s = 0.05
        while not stop.is_set():
            try:
                if not group_ready:
                    await self.create_stream(stream, group=group)
                    group_ready = True
                if time.monotonic() >= next_claim_at:
                    cursor, claimed = await self._claim_idle(
                        stream, group, consumer_name, cursor, batch_size, idle_ms
                    )
                    if cursor == SCAN_DONE:
                        next_claim_at = time.monotonic() + claim_every_s
                    context.meter.record_claimed(len(claimed))
                    if claimed:
                        await handle_all(claimed, context)
                fresh = await self._read_new(
                    stream, group, consumer_name, batch_size, block_ms
                )
                if fresh:
                    await handle_all(fresh, context)
                pause_s = 0.05
            except self.transient_errors as exc:
                log.warning(
                    "stream.bus_unavailable",
                    stream=stream,
                    consumer=consumer_name,
                    error=describe_error(exc),
                    retry_in_s=pause_s,
                )
                # Wait out the pause, unless asked to stop meanwhile.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause_s)
                pause_s = min(pause_s * 2, 5.0)

    async def _bury_if_exhausted(
        self, entry: StreamEntry, context: _LoopContext
    ) -> bool:
        """Dead-letter an entry delivered more than ``max_deliveries`` times."""
        if entry.delivery_count <= context.max_deliveries:
            return False
        await self._dead_letter(entry, context.group, context.consumer)
        context.meter.record_dead_lettered()
        log.error(
            "stream.entry_dead_lettered",
            stream=entry.stream,
            entry_id=entry.entry_id,
            event_id=entry.event_id,
            deliveries=entry.delivery_count - 1,
        )
        return True

    async def _record_failure(
        self, entry: StreamEntry, context: _LoopContext, exc: Exception
    ) -> None:
        context.meter.record_failed()
        error = describe_error(exc)
        log.warning(
            "stream.handler_failed",
            stream=entry.stream,
            entry_id=entry.entry_id,
            event_id=entry.event_id,
            delivery=entry.delivery_count,
            error=error,
        )
        await self._note_failure(entry, context.group, error)

    async def _handle_batch(
        self, entries: list[StreamEntry], context: _LoopContext, handler: BatchHandler
    ) -> None:
        live = [e for e in entries if not await self._bury_if_exhausted(e, context)]
        if not live:
            return
        try:
            await handler(live)
        except Exception as exc:  # any handler bug must leave the entries pending
            if len(live) == 1:
                await self._record_failure(live[0], context, exc)
                return
            log.warning(
                "stream.batch_failed",
                stream=live[0].stream,
                entries=len(live),
                error=describe_error(exc),
            )
            for entry in live:
                await self._handle(entry, context, _single(handler), bury=False)
            return
        for entry in live:
            context.meter.record_handled(entry.published_at)
        await self._ack_many(live, context.group)

    async def _handle(
        self,
        entry: StreamEntry,
        context: _LoopContext,
        handler: Handler,
        *,
        bury: bool = True,
    ) -> None:
        if bury and await self._bury_if_exhausted(entry, context):
            return
        try:
            await handler(entry)
        except Exception as exc:  # any handler bug must leave the entry pending
            await self._record_failure(entry, context, exc)
            return
        context.meter.record_handled(entry.published_at)
        await self._ack(entry, context.group)

    def processing_metrics(
        self, stream: str, *, group: str | None = None
    ) -> dict[str, ProcessingMetrics]:
        """Metrics of this process's consumers of the stream, by consumer name."""
        group = group or self.group
        return {
            consumer: meter.snapshot()
            for (s, g, consumer), meter in self._meters.items()
            if s == stream and g == group
        }

    def _forget_meters(self, stream: str) -> None:
        for key in [k for k in self._meters if k[0] == stream]:
            del self._meters[key]

    def _meter(self, stream: str, group: str, consumer: str) -> ProcessingMeter:
        key = (stream, group, consumer)
        if key not in self._meters:
            self._meters[key] = ProcessingMeter(
                consumer, window_s=self.metrics_window_s, clock=self.clock
            )
        return self._meters[key]

    @abstractmethod
    async def _read_new(
        self, stream: str, group: str, consumer: str, count: int, block_ms: int
    ) -> list[StreamEntry]:
        """Deliver up to ``count`` never-delivered entries to ``consumer``."""

    @abstractmethod
    async def _claim_idle(
        self,
        stream: str,
        group: str,
        consumer: str,
        cursor: str,
        count: int,
        min_idle_ms: int,
    ) -> tuple[str, list[StreamEntry]]:
        """Claim up to ``count`` entries idle >= ``min_idle_ms`` from ``cursor``."""

    @abstractmethod
    async def _ack(self, entry: StreamEntry, group: str) -> None:
        """Acknowledge the entry and forget its recorded error."""

    async def _ack_many(self, entries: Sequence[StreamEntry], group: str) -> None:
        """Acknowledge several entries; engines may do it in one round trip."""
        for entry in entries:
            await self._ack(entry, group)

    @abstractmethod
    async def _note_failure(self, entry: StreamEntry, group: str, error: str) -> None:
        """Record the handler's error so a dead letter can carry it."""

    @abstractmethod
    async def _dead_letter(self, entry: StreamEntry, group: str, consumer: str) -> None:
        """Append the entry to ``<stream>:dead`` and acknowledge it, atomically."""
