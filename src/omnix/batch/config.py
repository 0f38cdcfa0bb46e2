"""Batch settings, read from ``OMNIX_BATCH_*`` environment variables.

The broker itself follows ``OMNIX_REDIS_URL``: unset, jobs run on workers
inside the API process; set, ``omnix worker`` processes share the queue.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from omnix.context import AppContext

_EXTRAS_KEY = "batch_settings"


class BatchSettings(BaseSettings):
    """Queue, leases, retries and limits of batch analyses."""

    model_config = SettingsConfigDict(env_prefix="OMNIX_BATCH_", extra="ignore")

    # The Redis stream (and its consumer group) every worker reads.
    queue_name: str = Field(default="omnix:batch-analysis", min_length=1)
    # Jobs one process runs at once. The engine computes in a thread, so two
    # overlap one job's database reads and writes with another's arithmetic.
    concurrency: int = Field(default=2, ge=1, le=64)
    # Jobs one claim takes: their households' data is read in one query and
    # their results stored in one transaction, which costs far less per job
    # than one claim, read and commit each. Each job keeps its own lease,
    # attempt count and exactly-once commit.
    chunk_size: int = Field(default=16, ge=1, le=500)
    # Run jobs inside the API process when no Redis is configured.
    embedded_worker: bool = True
    # A claimed job belongs to its worker this long past the last renewal;
    # workers renew every third of it, so only a dead or frozen one loses it.
    lease_seconds: float = Field(default=60.0, gt=0)
    # How often each worker requeues expired leases and checks for stalls.
    sweep_seconds: float = Field(default=10.0, gt=0)
    # Claimable jobs with no claim anywhere for this long mean their queue
    # messages were lost (a killed worker took them): they are sent again.
    stall_seconds: float = Field(default=30.0, gt=0)
    # Claims per job, takeovers included; then the job fails for good.
    max_attempts: int = Field(default=3, ge=1, le=20)
    retry_base_seconds: float = Field(default=2.0, ge=0)
    retry_max_seconds: float = Field(default=120.0, ge=0)
    # Size limits of one submission.
    max_jobs: int = Field(default=50_000, ge=1)
    max_customer_ids: int = Field(default=10_000, ge=1)


def batch_settings(context: AppContext) -> BatchSettings:
    """The settings of this process, read once and kept on the context."""
    settings = context.extras.get(_EXTRAS_KEY)
    if not isinstance(settings, BatchSettings):
        settings = BatchSettings()
        context.extras[_EXTRAS_KEY] = settings
    return settings


def install_batch_settings(context: AppContext, settings: BatchSettings) -> None:
    """Use these settings in this process (tests, benchmarks)."""
    context.extras[_EXTRAS_KEY] = settings
