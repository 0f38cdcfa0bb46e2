"""Where a batch stands, and the state of the shared queue, read from the
jobs table (so both answers survive restarts of every process)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.batch import schemas
from omnix.batch.config import BatchSettings
from omnix.batch.models import (
    CANCELLED,
    FAILED,
    JOB_STATES,
    PRIORITIES,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Batch,
    BatchJob,
    BatchWorker,
)

MAX_ERRORS_SHOWN = 100
THROUGHPUT_WINDOW_SECONDS = 60
TIMING_SAMPLE = 1_000
PRIORITY_NAMES = {value: name for name, value in PRIORITIES.items()}


def _seconds(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds())


def batch_state(
    counts: schemas.JobCounts, batch: Batch, started_at: datetime | None
) -> schemas.BatchState:
    if batch.cancelled_at is not None:
        return "cancelled"
    if counts.queued or counts.running:
        return "queued" if started_at is None else "running"
    return "completed_with_errors" if counts.failed else "completed"


async def _counts(
    session: AsyncSession, batch_id: str
) -> tuple[schemas.JobCounts, int, datetime | None, datetime | None]:
    rows = (
        await session.execute(
            select(
                BatchJob.state,
                func.count(),
                func.coalesce(func.sum(BatchJob.retries), 0),
                func.sum(case((BatchJob.retries > 0, 1), else_=0)),
                func.min(BatchJob.started_at),
                func.max(BatchJob.finished_at),
            )
            .where(BatchJob.batch_id == batch_id)
            .group_by(BatchJob.state)
        )
    ).all()
    by_state = {state: 0 for state in JOB_STATES}
    retried, retrying = 0, 0
    starts: list[datetime] = []
    ends: list[datetime] = []
    for state, count, retries, with_retries, started, finished in rows:
        by_state[state] = int(count)
        retried += int(retries)
        if state == QUEUED:
            retrying = int(with_retries or 0)
        starts += [started] if started is not None else []
        ends += [finished] if finished is not None else []
    counts = schemas.JobCounts(**by_state, retrying=retrying)
    open_jobs = counts.queued + counts.running
    finished_at = max(ends) if ends and not open_jobs else None
    return counts, retried, (min(starts) if starts else None), finished_at


async def batch_status(
    session: AsyncSession, batch: Batch, now: datetime, *, offset: int, limit: int
) -> schemas.BatchStatusResponse:
    """Counts by state, progress, timing, errors and links to the results."""
    counts, retried, started_at, finished_at = await _counts(session, batch.id)
    done = counts.succeeded + counts.failed + counts.cancelled
    progress = done / batch.job_count if batch.job_count else 1.0
    elapsed = _seconds(finished_at or now, started_at) if started_at else None
    worked = counts.succeeded + counts.failed
    throughput = worked / elapsed if elapsed and worked else None
    open_jobs = counts.queued + counts.running
    remaining = (
        round(open_jobs / throughput, 1)
        if throughput and open_jobs and batch.cancelled_at is None
        else None
    )
    return schemas.BatchStatusResponse(
        batch_id=batch.id,
        status=batch_state(counts, batch, started_at),
        job_count=batch.job_count,
        counts=counts,
        progress=round(progress, 4),
        progress_percent=round(100 * progress, 2),
        analysis_types=list(batch.analysis_types),
        model=batch.analyser_id,
        priority=PRIORITY_NAMES.get(batch.priority, str(batch.priority)),
        selection=batch.selection,
        segment_id=batch.segment_id,
        estimated_cost=batch.estimated_cost_usd,
        cost_note=batch.cost_note,
        as_of=batch.as_of,
        created_at=batch.created_at,
        started_at=started_at,
        finished_at=finished_at,
        cancelled_at=batch.cancelled_at,
        elapsed_seconds=None if elapsed is None else round(elapsed, 3),
        throughput_per_second=None if throughput is None else round(throughput, 3),
        estimated_seconds_remaining=remaining,
        retried=retried,
        errors=await _errors(session, batch.id),
        results=await _results(session, batch.id, offset, limit),
        results_total=counts.succeeded,
        results_offset=offset,
        results_limit=limit,
    )


async def _errors(session: AsyncSession, batch_id: str) -> list[schemas.JobError]:
    """Failed jobs first, then jobs that failed before and were retried."""
    rows = await session.scalars(
        select(BatchJob)
        .where(BatchJob.batch_id == batch_id, BatchJob.error.is_not(None))
        .order_by(case((BatchJob.state == FAILED, 0), else_=1), BatchJob.id)
        .limit(MAX_ERRORS_SHOWN)
    )
    return [
        schemas.JobError(
            job_id=job.id,
            customer_id=job.customer_id,
            analysis_type=job.analysis_type,
            state=job.state,
            attempts=job.attempts,
            error=job.error or "",
        )
        for job in rows
    ]


async def _results(
    session: AsyncSession, batch_id: str, offset: int, limit: int
) -> list[schemas.JobResult]:
    rows = await session.execute(
        select(
            BatchJob.id,
            BatchJob.customer_id,
            BatchJob.analysis_type,
            BatchJob.analysis_id,
            BatchJob.finished_at,
        )
        .where(BatchJob.batch_id == batch_id, BatchJob.state == SUCCEEDED)
        .order_by(BatchJob.id)
        .offset(offset)
        .limit(limit)
    )
    return [
        schemas.JobResult(
            job_id=job_id,
            customer_id=customer_id,
            analysis_type=analysis_type,
            analysis_id=analysis_id,
            finished_at=finished_at,
            history_url=f"/v1/customers/{customer_id}/analysis-history",
        )
        for job_id, customer_id, analysis_type, analysis_id, finished_at in rows
    ]


def _percentiles(values: list[float]) -> schemas.Percentiles:
    if not values:
        return schemas.Percentiles(p50=None, p95=None)
    p50, p95 = np.percentile(np.asarray(values), [50, 95])
    return schemas.Percentiles(p50=round(float(p50), 1), p95=round(float(p95), 1))


async def queue_stats(
    session: AsyncSession,
    settings: BatchSettings,
    now: datetime,
    *,
    broker: str,
) -> schemas.QueueStats:
    """Jobs by state over every batch, recent throughput and timings, and the
    workers alive (a heartbeat within one lease)."""
    rows = (
        await session.execute(
            select(
                BatchJob.state,
                func.count(),
                func.coalesce(func.sum(BatchJob.retries), 0),
                func.sum(case((BatchJob.due_at > now, 1), else_=0)),
            ).group_by(BatchJob.state)
        )
    ).all()
    by_state = {state: 0 for state in JOB_STATES}
    retried, scheduled = 0, 0
    for state, count, retries, not_due in rows:
        by_state[state] = int(count)
        retried += int(retries)
        if state == QUEUED:
            scheduled = int(not_due or 0)
    window_start = now - timedelta(seconds=THROUGHPUT_WINDOW_SECONDS)
    recent = await session.scalar(
        select(func.count()).where(
            BatchJob.finished_at >= window_start,
            BatchJob.state.in_((SUCCEEDED, FAILED)),
        )
    )
    samples = (
        await session.execute(
            select(BatchJob.due_at, BatchJob.claimed_at, BatchJob.finished_at)
            .where(
                BatchJob.state.in_((SUCCEEDED, FAILED)),
                BatchJob.claimed_at.is_not(None),
                BatchJob.finished_at.is_not(None),
            )
            .order_by(BatchJob.finished_at.desc())
            .limit(TIMING_SAMPLE)
        )
    ).all()
    waits, runs = [], []
    for due, claimed, finished in samples:
        if claimed is not None and finished is not None:
            waits.append(_seconds(claimed, due) * 1000)
            runs.append(_seconds(finished, claimed) * 1000)
    workers = await _workers(session, settings, now)
    per_second = int(recent or 0) / THROUGHPUT_WINDOW_SECONDS
    return schemas.QueueStats(
        broker=broker,
        queue_name=settings.queue_name,
        pending=by_state[QUEUED] - scheduled,
        scheduled=scheduled,
        running=by_state[RUNNING],
        completed=by_state[SUCCEEDED],
        failed=by_state[FAILED],
        cancelled=by_state[CANCELLED],
        retried=retried,
        throughput_per_second=round(per_second, 3),
        throughput_per_minute=round(per_second * 60, 1),
        window_seconds=THROUGHPUT_WINDOW_SECONDS,
        wait_time_ms=_percentiles(waits),
        run_time_ms=_percentiles(runs),
        sample_size=len(samples),
        workers_alive=len(workers),
        workers=workers,
        computed_at=now,
    )


async def _workers(
    session: AsyncSession, settings: BatchSettings, now: datetime
) -> list[schemas.WorkerInfo]:
    alive_since = now - timedelta(seconds=settings.lease_seconds)
    running = dict(
        (
            await session.execute(
                select(BatchJob.lease_owner, func.count())
                .where(BatchJob.state == RUNNING)
                .group_by(BatchJob.lease_owner)
            )
        )
        .tuples()
        .all()
    )
    rows = await session.scalars(
        select(BatchWorker)
        .where(
            BatchWorker.stopped_at.is_(None), BatchWorker.heartbeat_at >= alive_since
        )
        .order_by(BatchWorker.started_at)
    )
    return [
        schemas.WorkerInfo(
            worker_id=worker.id,
            host=worker.host,
            pid=worker.pid,
            broker=worker.broker,
            concurrency=worker.concurrency,
            started_at=worker.started_at,
            ready=worker.ready_at is not None,
            last_heartbeat_at=worker.heartbeat_at,
            running_jobs=int(running.get(worker.id, 0)),
            jobs_done=worker.jobs_done,
        )
        for worker in rows
    ]
