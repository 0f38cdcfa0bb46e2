"""The life of a job in the database: claim, renew, finish, retry, take over.

A worker may run a job only after claiming it with one atomic ``UPDATE``
that succeeds only while the job is ``queued`` and due, or ``running`` under
a lease that has expired. The claim raises ``attempts``, and every later
write about the job names the worker and that attempt (a fencing token): a
worker that lost its lease (it froze, or was presumed dead and the job was
taken over) can no longer finish the job, retry it or fail it. Finishing
writes the stored analysis, the usage ledger rows and the job's new state in
one transaction, so a job's effect happens exactly once however often its
queue message is delivered or its worker dies.

Times are the wall clock of the worker that writes them; workers on several
machines need synchronised clocks (NTP), which any lease of tens of seconds
tolerates.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, exists, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from omnix.batch.config import BatchSettings
from omnix.batch.models import (
    CANCELLED,
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Batch,
    BatchJob,
    BatchWorker,
)
from omnix.db.session import Database

MAX_ERROR = 500
# Candidates tried per claim; one is enough unless a racing claim won it.
CLAIM_TRIES = 3
STALL_RESEND_LIMIT = 10_000
TAKEOVER_ERROR = "taken over: the worker holding it stopped renewing its lease"


@dataclass(frozen=True)
class ClaimedJob:
    """A job this worker holds, with what running it needs from its batch."""

    id: int
    batch_id: str
    customer_id: str
    analysis_type: str
    attempt: int
    analyser_id: str | None
    as_of: datetime


def short_error(text: str) -> str:
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"


def _claimable(now: datetime, max_attempts: int) -> ColumnElement[bool]:
    due = and_(BatchJob.state == QUEUED, BatchJob.due_at <= now)
    expired = and_(
        BatchJob.state == RUNNING,
        BatchJob.lease_expires_at < now,
        BatchJob.attempts < max_attempts,
    )
    return or_(due, expired)


def _held(job: ClaimedJob, worker_id: str) -> ColumnElement[bool]:
    """The fencing condition: still this worker's claim of this attempt."""
    return and_(
        BatchJob.id == job.id,
        BatchJob.state == RUNNING,
        BatchJob.lease_owner == worker_id,
        BatchJob.attempts == job.attempt,
    )


async def _candidates(
    session: AsyncSession, now: datetime, max_attempts: int, limit: int
) -> list[int]:
    """The most urgent claimable jobs. On PostgreSQL their rows are locked and
    rows other claims have locked are skipped, so racing workers get different
    jobs; on SQLite the writing transaction already excludes other writers."""
    query = (
        select(BatchJob.id)
        .where(_claimable(now, max_attempts))
        .order_by(BatchJob.priority.desc(), BatchJob.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(await session.scalars(query))


async def claim_next(
    db: Database, worker_id: str, settings: BatchSettings, now: datetime
) -> ClaimedJob | None:
    """Claim the most urgent claimable job, or None when there is none."""
    jobs = await claim_jobs(db, worker_id, settings, now, 1)
    return jobs[0] if jobs else None


async def claim_jobs(
    db: Database, worker_id: str, settings: BatchSettings, now: datetime, limit: int
) -> list[ClaimedJob]:
    """Claim up to ``limit`` of the most urgent claimable jobs in one
    transaction, most urgent first; empty when there is none.

    The most urgent is the highest priority, then the oldest. Taking over a
    job whose lease expired counts as a retry. Each job keeps its own lease
    and fencing token: claiming several at once only saves round trips.
    """
    lease_until = now + timedelta(seconds=settings.lease_seconds)
    async with db.transaction() as session:
        for _ in range(CLAIM_TRIES):
            job_ids = await _candidates(session, now, settings.max_attempts, limit)
            if not job_ids:
                return []
            taken_over = BatchJob.state == RUNNING
            claimed = await session.execute(
                update(BatchJob)
                .where(BatchJob.id.in_(job_ids), _claimable(now, settings.max_attempts))
                .values(
                    state=RUNNING,
                    attempts=BatchJob.attempts + 1,
                    retries=BatchJob.retries + case((taken_over, 1), else_=0),
                    error=case((taken_over, TAKEOVER_ERROR), else_=BatchJob.error),
                    lease_owner=worker_id,
                    lease_expires_at=lease_until,
                    claimed_at=now,
                    started_at=func.coalesce(BatchJob.started_at, now),
                )
                .returning(
                    BatchJob.id,
                    BatchJob.batch_id,
                    BatchJob.customer_id,
                    BatchJob.analysis_type,
                    BatchJob.attempts,
                    BatchJob.priority,
                )
                # The candidates were chosen by the claim condition; the
                # rows need not be matched in this session.
                .execution_options(synchronize_session=False)
            )
            rows = sorted(claimed.all(), key=lambda row: (-row[5], row[0]))
            if not rows:
                continue
            jobs = []
            for row in rows:
                batch = await _batch_facts(session, row[1])
                jobs.append(
                    ClaimedJob(
                        id=row[0],
                        batch_id=row[1],
                        customer_id=row[2],
                        analysis_type=row[3],
                        attempt=row[4],
                        analyser_id=batch[0],
                        as_of=batch[1],
                    )
                )
            return jobs
    return []


# What a job needs from its batch never changes, so each process reads it once.
_facts: dict[str, tuple[str | None, datetime]] = {}
MAX_CACHED_BATCHES = 1_000


async def _batch_facts(
    session: AsyncSession, batch_id: str
) -> tuple[str | None, datetime]:
    facts = _facts.get(batch_id)
    if facts is None:
        row = (
            await session.execute(
                select(Batch.analyser_id, Batch.as_of).where(Batch.id == batch_id)
            )
        ).one()
        if len(_facts) >= MAX_CACHED_BATCHES:
            _facts.clear()
        facts = _facts[batch_id] = (row[0], row[1])
    return facts


async def mark_succeeded(
    session: AsyncSession,
    job: ClaimedJob,
    worker_id: str,
    analysis_id: str,
    now: datetime,
) -> bool:
    """In the caller's transaction (the one storing the result): the job is
    done, if this worker still holds it. False means the result must be
    rolled back: another worker owns the job now."""
    held = await mark_all_succeeded(session, {job: analysis_id}, worker_id, now)
    return job.id in held


async def mark_all_succeeded(
    session: AsyncSession,
    done: dict[ClaimedJob, str],
    worker_id: str,
    now: datetime,
) -> set[int]:
    """``mark_succeeded`` for several jobs (each with its stored analysis's id)
    in one statement; returns the ids of the jobs this worker still held and
    so marked. The results of the others must not be committed."""
    if not done:
        return set()
    analysis_ids = {job.id: analysis_id for job, analysis_id in done.items()}
    marked = await session.execute(
        update(BatchJob)
        .where(
            tuple_(BatchJob.id, BatchJob.attempts).in_(
                [(job.id, job.attempt) for job in done]
            ),
            BatchJob.state == RUNNING,
            BatchJob.lease_owner == worker_id,
        )
        .values(
            state=SUCCEEDED,
            finished_at=now,
            lease_owner=None,
            lease_expires_at=None,
            analysis_id=case(analysis_ids, value=BatchJob.id),
        )
        .returning(BatchJob.id)
        .execution_options(synchronize_session=False)
    )
    held = set(marked.scalars())
    if held:
        await session.execute(
            update(BatchWorker)
            .where(BatchWorker.id == worker_id)
            .values(jobs_done=BatchWorker.jobs_done + len(held))
            .execution_options(synchronize_session=False)
        )
    return held


def backoff_seconds(settings: BatchSettings, attempt: int) -> float:
    """Exponential back-off with jitter: base·2^(attempt-1), capped, times a
    random factor in [0.5, 1] so failed jobs do not return in step."""
    ceiling = min(
        settings.retry_max_seconds, settings.retry_base_seconds * 2 ** (attempt - 1)
    )
    return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 (not security)


async def release_failed(
    db: Database,
    job: ClaimedJob,
    worker_id: str,
    settings: BatchSettings,
    error: str,
    now: datetime,
    *,
    permanent: bool,
) -> float | None:
    """Send the job back to the queue after its back-off, or fail it for good
    (a permanent error, or no attempts left). Returns the back-off in seconds
    when it was requeued, None when it failed or was no longer ours."""
    retry = not permanent and job.attempt < settings.max_attempts
    delay = backoff_seconds(settings, job.attempt) if retry else 0.0
    values = (
        {
            "state": QUEUED,
            "due_at": now + timedelta(seconds=delay),
            "dispatched_at": now,
            "retries": BatchJob.retries + 1,
        }
        if retry
        else {"state": FAILED, "finished_at": now}
    )
    async with db.transaction() as session:
        released = await session.execute(
            update(BatchJob)
            .where(_held(job, worker_id))
            .values(
                lease_owner=None,
                lease_expires_at=None,
                error=short_error(error),
                **values,
            )
        )
    if released.rowcount != 1 or not retry:  # type: ignore[attr-defined]
        return None
    return delay


async def renew_leases(
    db: Database, worker_id: str, settings: BatchSettings, now: datetime
) -> int:
    """Extend the leases of every job this worker runs; returns how many."""
    async with db.transaction() as session:
        renewed = await session.execute(
            update(BatchJob)
            .where(BatchJob.lease_owner == worker_id, BatchJob.state == RUNNING)
            .values(lease_expires_at=now + timedelta(seconds=settings.lease_seconds))
        )
    return int(renewed.rowcount)  # type: ignore[attr-defined]


async def requeue_expired(db: Database, settings: BatchSettings, now: datetime) -> int:
    """Put jobs whose lease expired back in the queue, due now; returns how
    many (each needs a new queue message: its old one was consumed)."""
    async with db.transaction() as session:
        requeued = await session.execute(
            update(BatchJob)
            .where(
                BatchJob.state == RUNNING,
                BatchJob.lease_expires_at < now,
                BatchJob.attempts < settings.max_attempts,
            )
            .values(
                state=QUEUED,
                lease_owner=None,
                lease_expires_at=None,
                due_at=now,
                dispatched_at=now,
                retries=BatchJob.retries + 1,
                error=TAKEOVER_ERROR,
            )
        )
    return int(requeued.rowcount)  # type: ignore[attr-defined]


async def fail_exhausted(db: Database, settings: BatchSettings, now: datetime) -> int:
    """Fail jobs whose worker died holding them on their last attempt: a job
    that kills every worker that runs it must not kill them all."""
    async with db.transaction() as session:
        failed = await session.execute(
            update(BatchJob)
            .where(
                BatchJob.state == RUNNING,
                BatchJob.lease_expires_at < now,
                BatchJob.attempts >= settings.max_attempts,
            )
            .values(
                state=FAILED,
                finished_at=now,
                lease_owner=None,
                lease_expires_at=None,
                error=f"its worker stopped on each of {settings.max_attempts} attempts",
            )
        )
    return int(failed.rowcount)  # type: ignore[attr-defined]


async def stalled_jobs(db: Database, settings: BatchSettings, now: datetime) -> int:
    """How many queue messages to send again because none are left to claim
    the claimable jobs (see ``tasks``); marks those jobs as dispatched now.

    Stalled means: claimable jobs exist that were last dispatched more than
    ``stall_seconds`` ago, while nothing runs and nothing was claimed for that
    long (a running job whose lease expired does not count: it is requeued
    first, see ``requeue_expired``). A busy queue never looks stalled, so
    messages still waiting in it are not doubled; lost ones are replaced once
    the queue runs dry.
    """
    quiet_since = now - timedelta(seconds=settings.stall_seconds)
    async with db.transaction() as session:
        busy = await session.scalar(
            select(
                exists().where(
                    or_(
                        and_(
                            BatchJob.state == RUNNING, BatchJob.lease_expires_at >= now
                        ),
                        BatchJob.claimed_at > quiet_since,
                    )
                )
            )
        )
        if busy:
            return 0
        waiting = (
            await session.scalars(
                select(BatchJob.id)
                .where(
                    BatchJob.state == QUEUED,
                    BatchJob.due_at <= now,
                    BatchJob.dispatched_at <= quiet_since,
                )
                .order_by(BatchJob.priority.desc(), BatchJob.id)
                .limit(STALL_RESEND_LIMIT)
            )
        ).all()
        if waiting:
            await session.execute(
                update(BatchJob)
                .where(BatchJob.id.in_(waiting))
                .values(dispatched_at=now)
            )
    return len(waiting)


async def cancel_queued(session: AsyncSession, batch_id: str, now: datetime) -> int:
    """Cancel a batch's queued jobs (running ones finish) in the caller's
    transaction."""
    cancelled = await session.execute(
        update(BatchJob)
        .where(BatchJob.batch_id == batch_id, BatchJob.state == QUEUED)
        .values(state=CANCELLED, finished_at=now)
    )
    return int(cancelled.rowcount)  # type: ignore[attr-defined]
