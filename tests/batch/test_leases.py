"""The job state machine in the database: claims, fencing, retries, takeovers
and the stall check, with explicit instants instead of waiting."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import select

from omnix.batch import leases
from omnix.batch.models import FAILED, QUEUED, RUNNING, SUCCEEDED, BatchJob
from omnix.batch.schemas import BatchRequest
from omnix.batch.service import submit_batch
from omnix.clock import Clock
from omnix.context import AppContext
from tests.batch.conftest import fast_settings
from tests.factories import make_customer

SETTINGS = fast_settings(lease_seconds=10.0, max_attempts=3, stall_seconds=5.0)


async def _batch(
    context: AppContext, customers: list[str], priority: str = "normal"
) -> str:
    for customer_id in customers:
        await make_customer(context, customer_id)
    async with context.db.transaction() as session:
        submitted = await submit_batch(
            context,
            session,
            BatchRequest(customer_ids=customers, priority=priority),  # type: ignore[arg-type]
            SETTINGS,
            requested_by="test",
        )
    return submitted.batch_id


async def _job(context: AppContext, job_id: int) -> BatchJob:
    async with context.db.session() as session:
        job = await session.get(BatchJob, job_id)
    assert job is not None
    return job


async def _finish(
    context: AppContext, job: leases.ClaimedJob, worker: str, now: datetime
) -> bool:
    async with context.db.transaction() as session:
        return await leases.mark_succeeded(session, job, worker, "analysis-1", now)


async def test_claims_take_the_highest_priority_then_the_oldest(
    context: AppContext,
) -> None:
    normal = await _batch(context, ["N1", "N2"])
    urgent = await _batch(context, ["U1"], priority="high")
    now = Clock.wall()

    order = [await leases.claim_next(context.db, "w", SETTINGS, now) for _ in range(4)]

    assert [(j.batch_id, j.customer_id) for j in order[:3] if j] == [
        (urgent, "U1"),
        (normal, "N1"),
        (normal, "N2"),
    ]
    assert order[3] is None
    first = await _job(context, order[0].id)  # type: ignore[union-attr]
    assert first.state == RUNNING
    assert first.attempts == 1
    assert first.lease_owner == "w"
    assert first.lease_expires_at == now + timedelta(seconds=10)


async def test_racing_workers_never_claim_the_same_job(context: AppContext) -> None:
    await _batch(context, [f"R{n}" for n in range(6)])
    now = Clock.wall()

    claims = await asyncio.gather(
        *(leases.claim_next(context.db, f"w{n}", SETTINGS, now) for n in range(8))
    )

    taken = [c.id for c in claims if c is not None]
    assert len(taken) == len(set(taken)) == 6


async def test_a_worker_that_lost_its_lease_cannot_finish_the_job(
    context: AppContext,
) -> None:
    await _batch(context, ["L1"])
    start = Clock.wall()
    slow = await leases.claim_next(context.db, "slow", SETTINGS, start)
    assert slow is not None
    assert await leases.claim_next(context.db, "other", SETTINGS, start) is None

    later = start + timedelta(seconds=11)
    taker = await leases.claim_next(context.db, "taker", SETTINGS, later)

    assert taker is not None
    assert (taker.id, taker.attempt) == (slow.id, 2)
    taken = await _job(context, slow.id)
    assert taken.retries == 1
    assert taken.error == leases.TAKEOVER_ERROR
    assert not await _finish(context, slow, "slow", later)
    assert (
        await leases.release_failed(
            context.db, slow, "slow", SETTINGS, "late", later, permanent=False
        )
        is None
    )
    assert await _finish(context, taker, "taker", later)
    done = await _job(context, slow.id)
    assert (done.state, done.analysis_id, done.lease_owner) == (
        SUCCEEDED,
        "analysis-1",
        None,
    )


async def test_transient_failures_back_off_then_fail_for_good(
    context: AppContext,
) -> None:
    await _batch(context, ["T1"])
    settings = fast_settings(
        max_attempts=2, retry_base_seconds=4.0, retry_max_seconds=60.0
    )
    now = Clock.wall()
    first = await leases.claim_next(context.db, "w", settings, now)
    assert first is not None

    delay = await leases.release_failed(
        context.db, first, "w", settings, "TimeoutError: db", now, permanent=False
    )

    assert delay is not None
    assert 2.0 <= delay <= 4.0
    waiting = await _job(context, first.id)
    assert (waiting.state, waiting.retries) == (QUEUED, 1)
    assert waiting.due_at == now + timedelta(seconds=delay)
    assert await leases.claim_next(context.db, "w", settings, now) is None

    due = now + timedelta(seconds=delay)
    second = await leases.claim_next(context.db, "w", settings, due)
    assert second is not None
    assert second.attempt == 2
    assert (
        await leases.release_failed(
            context.db, second, "w", settings, "TimeoutError: db", due, permanent=False
        )
        is None
    )
    failed = await _job(context, first.id)
    assert (failed.state, failed.attempts, failed.error) == (
        FAILED,
        2,
        "TimeoutError: db",
    )
    assert failed.finished_at == due


async def test_a_permanent_error_fails_at_once(context: AppContext) -> None:
    await _batch(context, ["P1"])
    now = Clock.wall()
    job = await leases.claim_next(context.db, "w", SETTINGS, now)
    assert job is not None

    await leases.release_failed(
        context.db, job, "w", SETTINGS, "NotFound: gone", now, permanent=True
    )

    assert (await _job(context, job.id)).state == FAILED


async def test_sweeper_requeues_dead_workers_jobs_and_fails_exhausted_ones(
    context: AppContext,
) -> None:
    await _batch(context, ["D1", "D2"])
    settings = fast_settings(lease_seconds=10.0, max_attempts=2)
    now = Clock.wall()
    once = await leases.claim_next(context.db, "dead", settings, now)
    twice = await leases.claim_next(context.db, "dead", settings, now)
    assert once is not None
    assert twice is not None
    async with context.db.transaction() as session:
        job = await session.get(BatchJob, twice.id)
        assert job is not None
        job.attempts = 2
    later = now + timedelta(seconds=11)
    renewed = await leases.renew_leases(context.db, "someone-else", settings, later)

    failed = await leases.fail_exhausted(context.db, settings, later)
    requeued = await leases.requeue_expired(context.db, settings, later)

    assert (renewed, failed, requeued) == (0, 1, 1)
    back = await _job(context, once.id)
    assert (back.state, back.lease_owner, back.retries) == (QUEUED, None, 1)
    assert back.due_at == later
    dead = await _job(context, twice.id)
    assert dead.state == FAILED
    assert "stopped on each of 2 attempts" in (dead.error or "")


async def test_renewed_leases_are_not_taken_over(context: AppContext) -> None:
    await _batch(context, ["A1"])
    now = Clock.wall()
    job = await leases.claim_next(context.db, "alive", SETTINGS, now)
    assert job is not None

    renewed = await leases.renew_leases(
        context.db, "alive", SETTINGS, now + timedelta(seconds=8)
    )
    after_first_lease = now + timedelta(seconds=12)

    assert renewed == 1
    assert await leases.requeue_expired(context.db, SETTINGS, after_first_lease) == 0
    assert (
        await leases.claim_next(context.db, "other", SETTINGS, after_first_lease)
        is None
    )


async def test_stall_check_resends_only_when_the_queue_ran_dry(
    context: AppContext,
) -> None:
    await _batch(context, ["S1", "S2", "S3"])
    now = Clock.wall()
    running = await leases.claim_next(context.db, "w", SETTINGS, now)
    assert running is not None

    busy = await leases.stalled_jobs(context.db, SETTINGS, now + timedelta(seconds=6))
    await _finish(context, running, "w", now + timedelta(seconds=6))
    recent_claim = await leases.stalled_jobs(
        context.db, SETTINGS, now + timedelta(seconds=3)
    )
    dry = await leases.stalled_jobs(context.db, SETTINGS, now + timedelta(seconds=6))
    just_resent = await leases.stalled_jobs(
        context.db, SETTINGS, now + timedelta(seconds=7)
    )

    assert (busy, recent_claim, dry, just_resent) == (0, 0, 2, 0)
    async with context.db.session() as session:
        dispatched = set(
            await session.scalars(
                select(BatchJob.dispatched_at).where(BatchJob.state == QUEUED)
            )
        )
    assert dispatched == {now + timedelta(seconds=6)}
