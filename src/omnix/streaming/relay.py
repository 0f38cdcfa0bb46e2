"""From the outbox to the bus: after each request, and in the background.

The accepting request stores its events as published, in the transaction
that accepts them, and publishes them right after its commit (one write
transaction per request, not two). When the bus is unreachable (Redis down)
or slower than ``publish_timeout_s``, the request marks them unpublished
again (``published_at`` null) and still succeeds: they were acknowledged
when stored. A process that dies between that commit and the bus leaves
events marked published that the bus never took; they are published again
as lost events (below), after ``republish_after_s`` rather than
``relay_grace_s``.
The relay loop of every ``omnix serve`` and ``omnix worker`` process then
publishes what is older than ``relay_grace_s``, oldest first, until the bus
answers again. Two relays may publish the same event twice; consumers are
idempotent, so that costs a redundant delivery, nothing more.

Events can also be lost after publication: the embedded bus forgets
everything on exit, and Redis may lose or trim entries. At start the
embedded engine republishes every unprocessed event; with Redis, an event
published more than ``republish_after_s`` ago and still unprocessed while
the stream has nothing pending nor unread is republished, at most
:data:`MAX_PUBLISH_ATTEMPTS` times (a poison event is then left to the dead
letters and the metrics).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.sql.elements import ColumnElement

from omnix.context import AppContext
from omnix.streaming.bus import StreamNotFoundError, describe_error
from omnix.streaming.models import StreamEvent

if TYPE_CHECKING:
    from omnix.streaming.runtime import StreamingRuntime

log = structlog.get_logger()

RELAY_BATCH = 1_000
MAX_PUBLISH_ATTEMPTS = 3


async def publish(
    context: AppContext,
    runtime: StreamingRuntime,
    payloads: Sequence[dict[str, Any]],
    *,
    marked: bool = False,
) -> bool:
    """Publish events and mark them published; False if the bus failed.

    ``marked``: the events were stored as published when accepted (see the
    module docstring); on success nothing is written, on failure they are
    marked unpublished for the relay.
    """
    if not payloads:
        return True
    settings = runtime.settings
    failures: tuple[type[BaseException], ...] = (
        *runtime.bus.transient_errors,
        TimeoutError,
        OSError,
    )
    try:
        # The timeout bounds a request's wait on an unresponsive Redis; the
        # embedded bus answers at once (and a timer could only misfire on it
        # when the event loop is starved).
        timeout = settings.publish_timeout_s if runtime.channel else None
        await asyncio.wait_for(
            runtime.bus.publish_many(settings.stream, payloads), timeout
        )
    except failures as exc:
        log.warning(
            "streaming.publish_deferred",
            events=len(payloads),
            error=describe_error(exc),
        )
        if marked:
            await unpublish(context, [payload["eventId"] for payload in payloads])
        return False
    if marked:
        return True
    ids = [payload["eventId"] for payload in payloads]
    async with context.db.transaction() as session:
        for start in range(0, len(ids), RELAY_BATCH):
            await session.execute(
                update(StreamEvent)
                .where(StreamEvent.event_id.in_(ids[start : start + RELAY_BATCH]))
                .values(
                    published_at=context.clock.wall(),
                    publish_attempts=StreamEvent.publish_attempts + 1,
                )
            )
    return True


async def unpublish(context: AppContext, ids: Sequence[str]) -> None:
    """Mark events stored as published as not published (the bus refused
    them), for the relay; events already applied are left alone."""
    async with context.db.transaction() as session:
        for start in range(0, len(ids), RELAY_BATCH):
            await session.execute(
                update(StreamEvent)
                .where(
                    StreamEvent.event_id.in_(ids[start : start + RELAY_BATCH]),
                    StreamEvent.processed_at.is_(None),
                )
                .values(
                    published_at=None,
                    publish_attempts=StreamEvent.publish_attempts - 1,
                )
            )


async def _relay(
    context: AppContext, runtime: StreamingRuntime, condition: ColumnElement[bool]
) -> int:
    async with context.db.session() as session:
        payloads = list(
            await session.scalars(
                select(StreamEvent.payload)
                .where(condition)
                .order_by(StreamEvent.accepted_at)
                .limit(RELAY_BATCH)
            )
        )
    if payloads and await publish(context, runtime, payloads):
        log.info("streaming.relayed", events=len(payloads))
        return len(payloads)
    return 0


async def relay_unpublished(context: AppContext, runtime: StreamingRuntime) -> int:
    """Publish up to :data:`RELAY_BATCH` events the bus never took."""
    grace = timedelta(seconds=runtime.settings.relay_grace_s)
    return await _relay(
        context,
        runtime,
        StreamEvent.published_at.is_(None)
        & (StreamEvent.accepted_at <= context.clock.wall() - grace),
    )


async def republish_unprocessed(context: AppContext, runtime: StreamingRuntime) -> int:
    """Publish every unprocessed event again (the embedded bus, at start)."""
    total = 0
    since: datetime | None = None
    while True:
        condition: ColumnElement[bool] = StreamEvent.processed_at.is_(None)
        if since is not None:
            condition = condition & (StreamEvent.accepted_at > since)
        async with context.db.session() as session:
            rows = (
                await session.execute(
                    select(StreamEvent.payload, StreamEvent.accepted_at)
                    .where(condition)
                    .order_by(StreamEvent.accepted_at)
                    .limit(RELAY_BATCH)
                )
            ).all()
        if not rows or not await publish(context, runtime, [r[0] for r in rows]):
            return total
        total += len(rows)
        since = rows[-1][1]
        if len(rows) < RELAY_BATCH:
            return total


async def republish_lost(context: AppContext, runtime: StreamingRuntime) -> int:
    """Publish again what the bus lost (see the module docstring)."""
    try:
        info = await runtime.bus.stream_info(
            runtime.settings.stream, group=runtime.settings.group
        )
    except StreamNotFoundError:
        info = None
    if info is not None and (info.pending > 0 or (info.lag or 0) > 0):
        return 0  # the stream still holds work: nothing is known to be lost
    cutoff = context.clock.wall() - timedelta(
        seconds=runtime.settings.republish_after_s
    )
    return await _relay(
        context,
        runtime,
        StreamEvent.processed_at.is_(None)
        & (StreamEvent.published_at <= cutoff)
        & (StreamEvent.publish_attempts < MAX_PUBLISH_ATTEMPTS),
    )


async def run_relay(context: AppContext, runtime: StreamingRuntime) -> None:
    """The background relay of one process; runs until cancelled."""
    settings = runtime.settings
    next_lost_check = 0.0
    while True:
        try:
            # Drain the backlog while full batches come out.
            while await relay_unpublished(context, runtime) == RELAY_BATCH:
                pass
            if time.monotonic() >= next_lost_check:
                next_lost_check = time.monotonic() + settings.republish_after_s / 2
                await republish_lost(context, runtime)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next round retries
            log.warning("streaming.relay_failed", error=describe_error(exc))
        await asyncio.sleep(settings.relay_interval_s)
