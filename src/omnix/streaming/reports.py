"""The read side of streaming: insights, stream status, metrics, overview."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.streaming import schemas
from omnix.streaming.bus import StreamNotFoundError
from omnix.streaming.config import CONSUMER_LIVE_FOR
from omnix.streaming.insights import insight_json
from omnix.streaming.models import (
    ConsumerSnapshot,
    StreamEvent,
    StreamInsight,
    StreamProgress,
)
from omnix.streaming.runtime import StreamingRuntime

# Consumers that reported within this long count as live.


def _insights(rows: Any) -> list[schemas.RealtimeInsight]:
    return [schemas.RealtimeInsight.model_validate(insight_json(r)) for r in rows]


async def customer_insights(
    session: AsyncSession,
    customer_id: str,
    *,
    hours: int,
    limit: int,
    now: datetime,
) -> schemas.CustomerInsights:
    """Insights whose event time is within ``hours`` before now, newest first."""
    since = now - timedelta(hours=hours)
    rows = await session.scalars(
        select(StreamInsight)
        .where(
            StreamInsight.customer_id == customer_id,
            StreamInsight.event_time >= since,
        )
        .order_by(StreamInsight.event_time.desc(), StreamInsight.id.desc())
        .limit(limit)
    )
    return schemas.CustomerInsights(
        customer_id=customer_id,
        insights=_insights(rows),
        time_range=f"{hours}h",
        since=since,
        until=now,
    )


async def event_outcome(
    session: AsyncSession, event_id: str
) -> tuple[bool, list[schemas.RealtimeInsight]]:
    """Whether the event was applied, and the insights it produced."""
    processed_at = await session.scalar(
        select(StreamEvent.processed_at).where(StreamEvent.event_id == event_id)
    )
    rows = await session.scalars(
        select(StreamInsight)
        .where(StreamInsight.event_id == event_id)
        .order_by(StreamInsight.id)
    )
    return processed_at is not None, _insights(rows)


async def _count(session: AsyncSession, *conditions: Any) -> int:
    query = select(func.count()).select_from(StreamEvent)
    if conditions:
        query = query.where(*conditions)
    return int(await session.scalar(query) or 0)


async def _progress(session: AsyncSession, stream: str) -> StreamProgress | None:
    return await session.get(StreamProgress, stream)


async def _live_consumers(
    session: AsyncSession, stream: str, now: datetime
) -> list[schemas.ConsumerMetrics]:
    rows = await session.scalars(
        select(ConsumerSnapshot)
        .where(
            ConsumerSnapshot.stream == stream,
            ConsumerSnapshot.updated_at >= now - CONSUMER_LIVE_FOR,
        )
        .order_by(ConsumerSnapshot.consumer)
    )
    return [
        schemas.ConsumerMetrics(
            consumer=row.consumer,
            handled_total=row.handled_total,
            failed_total=row.failed_total,
            claimed_total=row.claimed_total,
            dead_lettered_total=row.dead_lettered_total,
            window_seconds=row.window_s,
            throughput_per_second=row.throughput_per_s,
            latency_p50_ms=row.latency_p50_ms,
            latency_p95_ms=row.latency_p95_ms,
            latency_p99_ms=row.latency_p99_ms,
            updated_at=row.updated_at,
        )
        for row in rows
    ]


def _total(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(sum(known), 2) if known else None


def _worst(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(max(known), 2) if known else None


async def processing_metrics(
    session: AsyncSession, runtime: StreamingRuntime, now: datetime
) -> schemas.ProcessingMetrics:
    settings = runtime.settings
    progress = await _progress(session, settings.stream)
    live = await _live_consumers(session, settings.stream, now)
    return schemas.ProcessingMetrics(
        events_accepted=await _count(session),
        events_processed=progress.processed_events if progress else 0,
        events_awaiting_processing=await _count(
            session, StreamEvent.processed_at.is_(None)
        ),
        events_awaiting_relay=await _count(session, StreamEvent.published_at.is_(None)),
        late_events=progress.late_events if progress else 0,
        redelivered_events=progress.redelivered_events if progress else 0,
        watermark=progress.watermark if progress else None,
        allowed_lateness_seconds=settings.allowed_lateness_s,
        throughput_per_second=_total([c.throughput_per_second for c in live]),
        latency_p99_ms=_worst([c.latency_p99_ms for c in live]),
        active_consumers=len(live),
    )


async def overview(
    session: AsyncSession, runtime: StreamingRuntime, now: datetime
) -> schemas.SystemInsightsOverview:
    """Insight counts by type and priority, and how processing is doing."""
    by_type: dict[str, int] = dict.fromkeys(schemas.INSIGHT_TYPES, 0)
    by_priority: dict[str, int] = dict.fromkeys(schemas.PRIORITIES, 0)
    rows = await session.execute(
        select(
            StreamInsight.insight_type, StreamInsight.priority, func.count()
        ).group_by(StreamInsight.insight_type, StreamInsight.priority)
    )
    for insight_type, priority, count in rows.tuples():
        by_type[insight_type] = by_type.get(insight_type, 0) + count
        by_priority[priority] = by_priority.get(priority, 0) + count
    return schemas.SystemInsightsOverview(
        total_insights=sum(by_type.values()),
        insights_by_type=by_type,
        insights_by_priority=by_priority,
        processing_metrics=await processing_metrics(session, runtime, now),
    )


def stream_config(runtime: StreamingRuntime) -> schemas.StreamConfig:
    settings = runtime.settings
    return schemas.StreamConfig(
        engine="redis" if runtime.redis_url else "memory",
        consumer_group=settings.group,
        max_length=settings.max_length,
        claim_idle_ms=settings.claim_idle_ms,
        max_deliveries=settings.max_deliveries,
        consumer_batch_size=settings.consumer_batch_size,
        max_batch_events=settings.max_batch_events,
        allowed_lateness_seconds=settings.allowed_lateness_s,
        consumers_in_serve=runtime.consumes_in_serve,
    )


async def stream_metrics(
    session: AsyncSession, runtime: StreamingRuntime, now: datetime
) -> schemas.KinesisStreamMetrics:
    """Raises StreamNotFoundError before the stream exists; bus errors pass."""
    settings = runtime.settings
    info = await runtime.bus.stream_info(settings.stream, group=settings.group)
    live = await _live_consumers(session, settings.stream, now)
    progress = await _progress(session, settings.stream)
    return schemas.KinesisStreamMetrics(
        stream_name=settings.stream,
        engine="redis" if runtime.redis_url else "memory",
        consumer_group=settings.group,
        length=info.length,
        pending=info.pending,
        lag=info.lag,
        dead_letters=info.dead_letter_length,
        consumers=[
            schemas.BusConsumer(name=c.name, pending=c.pending, idle_ms=c.idle_ms)
            for c in info.consumers
        ],
        processing=live,
        throughput_per_second=_total([c.throughput_per_second for c in live]),
        latency_p50_ms=_worst([c.latency_p50_ms for c in live]),
        latency_p95_ms=_worst([c.latency_p95_ms for c in live]),
        latency_p99_ms=_worst([c.latency_p99_ms for c in live]),
        events_awaiting_relay=await _count(session, StreamEvent.published_at.is_(None)),
        events_awaiting_processing=await _count(
            session, StreamEvent.processed_at.is_(None)
        ),
        processed_events=progress.processed_events if progress else 0,
        late_events=progress.late_events if progress else 0,
        redelivered_events=progress.redelivered_events if progress else 0,
        watermark=progress.watermark if progress else None,
        measured_at=now,
    )


__all__ = ["StreamNotFoundError", "customer_insights", "overview", "stream_metrics"]
