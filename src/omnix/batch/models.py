"""Tables: batches, their jobs (one per household and analysis type) and the
workers that run them.

The database, not the task queue, is the record of every job: its state,
attempts, the worker holding its lease and until when, its last error and the
stored analysis it produced. Queue messages only wake workers up (see
``omnix.batch.tasks``), so a lost or duplicated message changes nothing that
matters, and a batch's status survives restarts of every process.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from omnix.db.base import Base

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants BIGINT.
JobId = BigInteger().with_variant(Integer(), "sqlite")

# Job states. A job waiting for a retry is ``queued`` with ``due_at`` ahead.
QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
JOB_STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
OPEN_STATES = (QUEUED, RUNNING)
FINISHED_STATES = (SUCCEEDED, FAILED, CANCELLED)

PRIORITIES = {"low": 0, "normal": 1, "high": 2}


class Batch(Base):
    """One submission: who asked, for which households and analyses."""

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    # customers (a list), segment or all.
    selection: Mapped[str] = mapped_column(String(16))
    segment_id: Mapped[str | None] = mapped_column(String(32))
    analysis_types: Mapped[list[str]] = mapped_column(JSON)
    # None: each household's experiment assignment or the default analyser.
    analyser_id: Mapped[str | None] = mapped_column(String(120))
    priority: Mapped[int]
    job_count: Mapped[int]
    # None when the analyser has no known price: unknown, never free.
    estimated_cost_usd: Mapped[float | None]
    cost_note: Mapped[str] = mapped_column(String(1000))
    # Business "now" at submission: every job analyses as of this instant, so
    # the batch's results are comparable and share one population fit.
    as_of: Mapped[datetime]
    created_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(64))


class BatchJob(Base):
    """One analysis of one household, and where it stands."""

    __tablename__ = "batch_jobs"
    __table_args__ = (UniqueConstraint("batch_id", "customer_id", "analysis_type"),)

    id: Mapped[int] = mapped_column(JobId, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE")
    )
    analysis_type: Mapped[str] = mapped_column(String(40))
    # The batch's priority, copied so the claim query reads one table.
    priority: Mapped[int]
    state: Mapped[str] = mapped_column(String(16))
    # Claims so far; also the fencing token a completion must present.
    attempts: Mapped[int] = mapped_column(default=0)
    # Times the job went back to the queue: transient failures and takeovers.
    retries: Mapped[int] = mapped_column(default=0)
    queued_at: Mapped[datetime]
    # Not claimed before this instant (the retry back-off).
    due_at: Mapped[datetime]
    # When a queue message was last sent for it (the stall check reads it).
    dispatched_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_expires_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(500))
    analysis_id: Mapped[str | None] = mapped_column(String(36))


Index(
    "ix_batch_jobs_claim",
    BatchJob.state,
    BatchJob.priority,
    BatchJob.id,
)
Index("ix_batch_jobs_batch_state", BatchJob.batch_id, BatchJob.state)
Index("ix_batch_jobs_lease", BatchJob.state, BatchJob.lease_expires_at)
Index("ix_batch_jobs_finished", BatchJob.finished_at)
Index("ix_batch_jobs_claimed", BatchJob.claimed_at)


class BatchWorker(Base):
    """A worker process and its last sign of life."""

    __tablename__ = "batch_workers"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    # memory (inside an API process) or redis.
    broker: Mapped[str] = mapped_column(String(16))
    concurrency: Mapped[int]
    started_at: Mapped[datetime]
    # When it began taking jobs (after fitting the population models).
    ready_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]
    jobs_done: Mapped[int] = mapped_column(default=0)
