"""Background work: the recomputation schedule inside ``omnix serve`` and the
demo's snapshots."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import func, select

from omnix.clock import Clock
from omnix.context import AppContext
from omnix.segments.config import segment_settings
from omnix.segments.models import RUN_RECOMPUTE, SegmentRun
from omnix.segments.segmentation import Policy
from omnix.segments.service import RecomputeSummary, lock_recomputation, recompute_all

log = structlog.get_logger()

# The demo's earlier snapshot: a quarter before the demo clock, so the
# overview shows migrations and trends from the first start.
DEMO_EARLIER_SNAPSHOTS = (datetime(2017, 10, 1, tzinfo=UTC),)


async def recompute_now(
    context: AppContext,
    as_of: datetime | None = None,
    *,
    triggered_by: str,
    min_age: timedelta | None = None,
) -> RecomputeSummary | None:
    """One full recomputation in its own transaction.

    ``as_of`` defaults to the business now; an earlier instant makes a
    back-dated snapshot. With ``min_age``, nothing happens when another
    recomputation finished (by the wall clock) less than that long ago, so
    several ``omnix serve`` processes share one schedule.
    """
    now = context.clock.now()
    as_of = as_of or now
    policy = Policy.of(context)
    async with context.db.transaction() as session:
        await lock_recomputation(session)
        if min_age is not None:
            latest = await session.scalar(
                select(func.max(SegmentRun.computed_at)).where(
                    SegmentRun.kind == RUN_RECOMPUTE
                )
            )
            if latest is not None and Clock.wall() - latest < min_age:
                return None
        return await recompute_all(
            session,
            as_of,
            timezone=policy.timezone,
            new_customer_days=policy.new_customer_days,
            back_dated=as_of < now,
            triggered_by=triggered_by,
        )


async def run_segment_schedule(context: AppContext) -> None:
    """Recompute everyone every ``OMNIX_SEGMENT_RECOMPUTE_MINUTES``; return at
    once when unset. Time alone moves customers, so this runs even when no
    purchase arrives."""
    minutes = segment_settings(context).recompute_minutes
    if minutes is None:
        return
    interval = timedelta(minutes=minutes)
    log.info("segments.schedule_started", minutes=minutes)
    while True:
        try:
            await recompute_now(
                context, triggered_by="schedule", min_age=interval * 0.9
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            # A failed run must not end the schedule; the next tick retries.
            log.exception("segments.schedule_failed")
        await asyncio.sleep(interval.total_seconds())


async def compute_demo_snapshots(context: AppContext) -> None:
    """Snapshots as of 2017-10-01 and as of the demo clock, once each."""
    for as_of in (*DEMO_EARLIER_SNAPSHOTS, context.clock.now()):
        async with context.db.session() as session:
            done = await session.scalar(
                select(func.count()).where(
                    SegmentRun.kind == RUN_RECOMPUTE, SegmentRun.as_of == as_of
                )
            )
        if done:
            continue
        summary = await recompute_now(context, as_of, triggered_by="demo")
        assert summary is not None
        log.info(
            "segments.demo_snapshot",
            as_of=as_of.isoformat(),
            customers=summary.customer_count,
            migrations=summary.migration_count,
        )
