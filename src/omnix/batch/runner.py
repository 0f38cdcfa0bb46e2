"""Running claimed jobs: a chunk at a time, each job's effect exactly once.

A worker claims several jobs at once (``leases.claim_jobs``) and runs them
here: the households' purchase lines and customer rows are read in one query
each, every job is analysed as on demand (``run_analysis``, with the frames
already loaded), and the results are written in one transaction that marks
the jobs done. The marking names each job's worker and attempt (the fencing
token, see ``leases``), so only jobs this worker still holds are marked, and
only their analyses and ledger rows are committed. A job that fails is
released on its own (retried after a back-off, or failed for good); the
other jobs of its chunk go on.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import polars as pl
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.analytics.data import load_customers, load_lines
from omnix.analytics.service import (
    AnalysisRun,
    HouseholdFrames,
    run_analysis,
    stored_row,
)
from omnix.batch import leases
from omnix.batch.config import BatchSettings
from omnix.clock import Clock
from omnix.context import AppContext
from omnix.errors import BadRequest, NotFound

log = structlog.get_logger()


@dataclass
class Records:
    """The ledger rows of one job's run, kept until its chunk is stored."""

    rows: list[Any] = field(default_factory=list)

    def add_all(self, instances: Any) -> None:
        self.rows.extend(instances)


@dataclass(frozen=True)
class Done:
    """A job analysed and waiting to be stored."""

    job: leases.ClaimedJob
    run: AnalysisRun
    records: Records


async def load_frames(
    session: AsyncSession, jobs: list[leases.ClaimedJob]
) -> dict[tuple[datetime, str], HouseholdFrames]:
    """Every household's frames at its batch's instant, one query per instant
    and table; a household without purchases gets empty lines."""
    wanted: dict[datetime, set[str]] = defaultdict(set)
    for job in jobs:
        wanted[job.as_of].add(job.customer_id)
    frames: dict[tuple[datetime, str], HouseholdFrames] = {}
    for as_of, ids in wanted.items():
        customer_ids = sorted(ids)
        lines = await load_lines(session, as_of, customer_ids)
        customers = await load_customers(session, customer_ids)
        lines_by = _by_customer(lines)
        customers_by = _by_customer(customers)
        for customer_id in customer_ids:
            frames[as_of, customer_id] = HouseholdFrames(
                lines=lines_by.get(customer_id, lines.clear()),
                customer=customers_by.get(customer_id, customers.clear()),
            )
    return frames


def _by_customer(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    # Rows keep their order within each household.
    parts = frame.partition_by("customer_id", as_dict=True, maintain_order=True)
    return {str(key[0]): part for key, part in parts.items()}


async def execute_jobs(
    context: AppContext,
    jobs: list[leases.ClaimedJob],
    worker_id: str,
    settings: BatchSettings,
) -> list[float]:
    """Run claimed jobs and record their outcomes; the retry back-offs in
    seconds of those that went back to the queue.

    An unknown household or a model that can no longer answer fails its job
    at once; any other error of a job is retried after a back-off. Should
    reading the chunk's data or storing its results fail, every job of the
    chunk not yet released is retried.
    """
    delays: list[float] = []
    released: set[int] = set()

    async def release(job: leases.ClaimedJob, exc: Exception, permanent: bool) -> None:
        released.add(job.id)
        delay = await _release(context, job, worker_id, settings, exc, permanent)
        if delay is not None:
            delays.append(delay)

    try:
        done: list[Done] = []
        async with context.db.session() as reader:
            frames = await load_frames(reader, jobs)
            for job in jobs:
                try:
                    done.append(await _analyse(context, reader, job, frames))
                except (NotFound, BadRequest) as exc:
                    await release(job, exc, True)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    await release(job, exc, False)
        await _store(context, done, worker_id)
    except asyncio.CancelledError:
        # Stopping: the leases run out and other workers take the jobs over.
        raise
    except Exception as exc:
        for job in jobs:
            if job.id not in released:
                await release(job, exc, False)
    return delays


async def _analyse(
    context: AppContext,
    reader: AsyncSession,
    job: leases.ClaimedJob,
    frames: dict[tuple[datetime, str], HouseholdFrames],
) -> Done:
    # Every job of a batch analyses at the batch's business instant.
    job_context = replace(context, clock=context.clock.pin(job.as_of))
    records = Records()
    run = await run_analysis(
        job_context,
        reader,
        job.customer_id,
        analysis_type=job.analysis_type,
        analyser_id=job.analyser_id,
        ledger=records,
        batch_id=job.batch_id,
        frames=frames[job.as_of, job.customer_id],
    )
    return Done(job, run, records)


async def stage_result(session: AsyncSession, done: Done) -> tuple[str, list[Any]]:
    """Add a job's stored analysis and ledger rows to the open transaction;
    their id and the rows added."""
    row, _ = stored_row(done.run, batch_id=done.job.batch_id)
    rows = [row, *done.records.rows]
    session.add_all(rows)
    return row.id, rows


async def _store(context: AppContext, done: list[Done], worker_id: str) -> None:
    """Commit the results of the jobs this worker still holds, and mark them
    done, in one transaction; drop the others'."""
    if not done:
        return
    async with context.db.session(write=True) as writer:
        staged = {item.job: await stage_result(writer, item) for item in done}
        # The marking runs before any insert (no autoflush): it tells which
        # jobs are still ours, and the rows of the others never reach the
        # database.
        with writer.no_autoflush:
            held = await leases.mark_all_succeeded(
                writer,
                {job: analysis_id for job, (analysis_id, _) in staged.items()},
                worker_id,
                Clock.wall(),
            )
        for job, (_, rows) in staged.items():
            if job.id not in held:
                log.warning("batch.lease_lost", job_id=job.id, worker=worker_id)
                for row in rows:
                    writer.expunge(row)
        await writer.commit()


async def _release(
    context: AppContext,
    job: leases.ClaimedJob,
    worker_id: str,
    settings: BatchSettings,
    exc: Exception,
    permanent: bool,
) -> float | None:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    log.warning(
        "batch.job_failed",
        job_id=job.id,
        attempt=job.attempt,
        permanent=permanent,
        error=type(exc).__name__,
    )
    return await leases.release_failed(
        context.db,
        job,
        worker_id,
        settings,
        f"{type(exc).__name__}: {message}",
        Clock.wall(),
        permanent=permanent,
    )
