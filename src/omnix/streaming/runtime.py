"""The streaming parts of one process, and the tasks that run them.

``omnix serve`` starts :func:`run_streaming` from its lifespan: the outbox
relay always, the Redis channel listener (live push) when Redis is
configured, and the insight consumers when ``consume_in_serve`` says so (by
default: embedded yes, with Redis no). ``omnix worker`` runs
:func:`run_consumers` (see :mod:`omnix.streaming.worker`).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import delete

from omnix.context import AppContext
from omnix.streaming import create_event_bus, default_consumer_name
from omnix.streaming.bus import describe_error
from omnix.streaming.bus_base import StreamBusBase
from omnix.streaming.config import (
    CONSUMER_LIVE_FOR,
    StreamingSettings,
    streaming_settings,
)
from omnix.streaming.fanout import InsightHub, Notice, RedisChannel
from omnix.streaming.models import ConsumerSnapshot, dialect_insert
from omnix.streaming.processor import InsightProcessor, run_timer
from omnix.streaming.relay import republish_unprocessed, run_relay

log = structlog.get_logger()


class StreamingRuntime:
    """The bus, the live-push hub and the notice channel of one process."""

    def __init__(self, context: AppContext, settings: StreamingSettings) -> None:
        self.context = context
        self.settings = settings
        self.redis_url = context.settings.redis_url
        bus = create_event_bus(
            self.redis_url,
            key_prefix=settings.key_prefix,
            group=settings.group,
            claim_idle_ms=settings.claim_idle_ms,
            max_deliveries=settings.max_deliveries,
            max_length=settings.max_length,
        )
        assert isinstance(bus, StreamBusBase)
        self.bus: StreamBusBase = bus
        self.hub = InsightHub()
        # The task of run_streaming, when this process runs one.
        self.task: asyncio.Task[None] | None = None
        self.channel = (
            RedisChannel(self.redis_url, settings.key_prefix)
            if self.redis_url
            else None
        )

    @property
    def engine(self) -> str:
        return "redis" if self.redis_url else "memory"

    @property
    def consumes_in_serve(self) -> bool:
        chosen = self.settings.consume_in_serve
        return self.redis_url is None if chosen is None else chosen

    async def notify(self, notice: Notice) -> None:
        """Send a notice to every process's hub (this one's, embedded)."""
        if self.channel is None:
            self.hub.deliver(notice)
            return
        try:
            await self.channel.publish(notice)
        except Exception as exc:  # live push is best effort; insights are stored
            log.warning("streaming.notice_lost", error=describe_error(exc))

    async def close(self) -> None:
        await self.bus.close()
        if self.channel is not None:
            await self.channel.close()


def streaming_runtime(context: AppContext) -> StreamingRuntime:
    """This process's runtime, created on first use and kept on the context."""
    runtime = context.extras.get("streaming")
    if not isinstance(runtime, StreamingRuntime):
        runtime = StreamingRuntime(context, streaming_settings(context))
        context.extras["streaming"] = runtime
    return runtime


# Half the time after which the overview stops listing a consumer as live.
HEARTBEAT = CONSUMER_LIVE_FOR / 2


@dataclass
class _LastSnapshot:
    figures: list[tuple[str, int, int, int, int]] | None = None
    at: datetime | None = None


async def _write_snapshots(
    context: AppContext,
    runtime: StreamingRuntime,
    started_at: datetime,
    last: _LastSnapshot,
) -> None:
    settings = runtime.settings
    metrics = runtime.bus.processing_metrics(settings.stream, group=settings.group)
    if not metrics:
        return
    now = context.clock.wall()
    figures = [
        (name, m.handled_total, m.failed_total, m.claimed_total, m.window_events)
        for name, m in metrics.items()
    ]
    # An unchanged snapshot is written only as a heartbeat: every commit
    # empties the read cache (omnix.db.readcache), so an idle consumer must
    # not write every few seconds.
    if figures == last.figures and last.at and now - last.at < HEARTBEAT:
        return
    last.figures, last.at = figures, now
    rows = [
        {
            "consumer": name,
            "stream": settings.stream,
            "group_name": settings.group,
            "started_at": started_at,
            "updated_at": now,
            "handled_total": m.handled_total,
            "failed_total": m.failed_total,
            "claimed_total": m.claimed_total,
            "dead_lettered_total": m.dead_lettered_total,
            "window_s": m.window_s,
            "window_events": m.window_events,
            "throughput_per_s": m.throughput_per_s,
            "latency_p50_ms": m.latency_p50_ms,
            "latency_p95_ms": m.latency_p95_ms,
            "latency_p99_ms": m.latency_p99_ms,
        }
        for name, m in metrics.items()
    ]
    async with context.db.transaction() as session:
        statement = dialect_insert(session, ConsumerSnapshot)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["consumer"],
                set_={c: statement.excluded[c] for c in rows[0] if c != "consumer"},
            ),
            rows,
        )


async def _report_metrics(
    context: AppContext, runtime: StreamingRuntime, stop: asyncio.Event
) -> None:
    started_at = context.clock.wall()
    last = _LastSnapshot()
    # The first snapshot at once: a consumer is listed as live as soon as it
    # takes events (after its warm-up), not one interval later.
    while not stop.is_set():
        try:
            await _write_snapshots(context, runtime, started_at, last)
        except Exception as exc:  # metrics must never stop the consumers
            log.warning("streaming.metrics_failed", error=describe_error(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), runtime.settings.metrics_interval_s)


async def forget_consumers(context: AppContext, names: list[str]) -> None:
    """Drop the metric snapshots of consumers that stopped."""
    async with context.db.transaction() as session:
        await session.execute(
            delete(ConsumerSnapshot).where(ConsumerSnapshot.consumer.in_(names))
        )


async def run_consumers(
    context: AppContext,
    runtime: StreamingRuntime,
    stop: asyncio.Event,
    *,
    consumers: int = 1,
    name: str = "insights",
) -> None:
    """Insight consumers, the due timer and metric snapshots, until ``stop``.

    A graceful stop finishes and acknowledges the batches in hand.
    """
    settings = runtime.settings
    processor = InsightProcessor(context, runtime)
    if settings.partner_suggestions:
        processor.partners.start()
    # Like a batch worker fitting its models before it takes jobs: the
    # histories of the households likely to come are read before the first
    # event, instead of one batch at a time while events wait.
    warm = await processor.warm_up()
    log.info(
        "streaming.warmed_up",
        households=warm.households,
        lines=warm.lines,
        seconds=round(warm.seconds, 2),
    )
    names = [default_consumer_name(f"{name}-{i}") for i in range(consumers)]
    tasks = [
        asyncio.create_task(
            runtime.bus.consume_batches(
                settings.stream,
                consumer,
                processor.handle,
                stop=stop,
                batch_size=settings.consumer_batch_size,
                block_ms=250,
                group=settings.group,
            )
        )
        for consumer in names
    ]
    tasks.append(asyncio.create_task(run_timer(processor, stop)))
    tasks.append(asyncio.create_task(_report_metrics(context, runtime, stop)))
    log.info("streaming.consumers_started", consumers=names, engine=runtime.engine)
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await forget_consumers(context, names)


async def run_streaming(context: AppContext) -> None:
    """Everything streaming inside ``omnix serve``; runs until cancelled."""
    runtime = streaming_runtime(context)
    runtime.task = asyncio.current_task()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(run_relay(context, runtime))]
    if runtime.channel is not None:
        tasks.append(asyncio.create_task(runtime.channel.listen(runtime.hub)))
    try:
        if runtime.consumes_in_serve:
            if runtime.channel is None:
                # The embedded bus starts empty: what was accepted but not
                # applied before a restart is published again.
                await republish_unprocessed(context, runtime)
            tasks.append(asyncio.create_task(run_consumers(context, runtime, stop)))
        await asyncio.gather(*tasks)
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await runtime.close()
        # A later start (the app's lifespan run again) builds a fresh runtime
        # rather than reusing this closed one.
        if context.extras.get("streaming") is runtime:
            del context.extras["streaming"]
