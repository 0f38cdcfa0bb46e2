"""Bodies of the batch analysis endpoints (BatchRequest, BatchStatusResponse,
QueueStats and their parts)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from omnix.schemas import ApiModel, InputModel, JsonBool
from omnix.segments.schemas import SegmentName

BATCH_ANALYSIS_TYPES = (
    "consumption_prediction",
    "customer_profiling",
    "recommendation_generation",
    "full_analysis",
)
AnalysisTypeName = Literal[
    "consumption_prediction",
    "customer_profiling",
    "recommendation_generation",
    "full_analysis",
]
BatchState = Literal[
    "queued", "running", "completed", "completed_with_errors", "cancelled"
]
JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
CustomerIdItem = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class BatchRequest(InputModel):
    """Which households to analyse, how, and how urgently.

    Name the households in exactly one way: ``customerIds``, ``segmentId``
    (its current members) or ``allCustomers``. Each household gets one job
    per analysis type.
    """

    customer_ids: list[CustomerIdItem] | None = Field(
        default=None, description="Households to analyse; repeats count once."
    )
    segment_id: SegmentName | None = Field(
        default=None, description="Analyse the current members of this segment."
    )
    all_customers: JsonBool = Field(
        default=False, description="Analyse every household."
    )
    analysis_types: list[AnalysisTypeName] = Field(
        default=["full_analysis"],
        min_length=1,
        max_length=len(BATCH_ANALYSIS_TYPES),
        description="One job per household and type; full_analysis covers all.",
    )
    model: str | None = Field(
        default=None,
        max_length=120,
        description="Analysis model id; without it each household's experiment "
        "assignment or the default model answers.",
    )
    priority: Literal["low", "normal", "high"] = Field(
        default="normal", description="Higher-priority batches are worked first."
    )

    @field_validator("analysis_types", mode="before")
    @classmethod
    def _name_unsupported(cls, value: Any) -> Any:
        if isinstance(value, list):
            unsupported = [v for v in value if v not in BATCH_ANALYSIS_TYPES]
            if unsupported:
                raise ValueError(
                    f"unsupported analysis types {', '.join(map(repr, unsupported))}; "
                    f"supported: {', '.join(BATCH_ANALYSIS_TYPES)}"
                )
        return value


class BatchSubmitted(ApiModel):
    """A batch accepted for processing."""

    batch_id: str
    job_count: int
    customer_count: int
    analysis_types: list[str]
    estimated_cost: float | None = Field(
        description="US dollars; 0 for local engines; null when the model has no "
        "known price (unknown, not free)."
    )
    cost_note: str = Field(description="How the estimate was made.")
    model: str = Field(description="The model the estimate is for.")
    priority: str
    status: BatchState
    created_at: datetime
    status_url: str


class JobCounts(ApiModel):
    queued: int = Field(description="Waiting, retries in their back-off included.")
    running: int
    succeeded: int
    failed: int
    cancelled: int
    retrying: int = Field(description="Queued jobs waiting to be tried again.")


class JobError(ApiModel):
    """A job that failed, or failed before and was retried."""

    job_id: int
    customer_id: str
    analysis_type: str
    state: JobState
    attempts: int
    error: str


class JobResult(ApiModel):
    """A finished job and where its stored analysis is."""

    job_id: int
    customer_id: str
    analysis_type: str
    analysis_id: str
    finished_at: datetime
    history_url: str = Field(description="The household's analysis history.")


class BatchStatusResponse(ApiModel):
    """Where a batch stands: counts, progress, timing, errors and results."""

    batch_id: str
    status: BatchState
    job_count: int
    counts: JobCounts
    progress: float = Field(ge=0, le=1, description="Share of jobs finished.")
    progress_percent: float
    analysis_types: list[str]
    model: str | None = Field(
        description="The model the batch asked for; null when none was named and "
        "each household's A/B assignment or the default model answers (each "
        "stored analysis names its model)."
    )
    priority: str
    selection: Literal["customers", "segment", "all"]
    segment_id: str | None
    estimated_cost: float | None
    cost_note: str
    as_of: datetime = Field(description="Business instant every job analyses at.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    cancelled_at: datetime | None
    elapsed_seconds: float | None = Field(description="From first start to now/end.")
    throughput_per_second: float | None = Field(
        description="Jobs finished per second since the batch started."
    )
    estimated_seconds_remaining: float | None
    retried: int = Field(description="Times jobs went back to the queue.")
    errors: list[JobError]
    results: list[JobResult]
    results_total: int
    results_offset: int
    results_limit: int


class Percentiles(ApiModel):
    p50: float | None
    p95: float | None


class WorkerInfo(ApiModel):
    worker_id: str
    host: str
    pid: int
    broker: str
    concurrency: int
    started_at: datetime
    ready: bool = Field(description="Taking jobs (false while it fits models).")
    last_heartbeat_at: datetime
    running_jobs: int
    jobs_done: int


class QueueStats(ApiModel):
    """The shared queue across batches, now."""

    broker: Literal["memory", "redis"]
    queue_name: str
    pending: int = Field(description="Queued jobs that may be claimed now.")
    scheduled: int = Field(description="Queued jobs waiting for a retry back-off.")
    running: int
    completed: int
    failed: int
    cancelled: int
    retried: int = Field(description="Times jobs went back to the queue.")
    throughput_per_second: float = Field(
        description="Jobs finished per second over the window."
    )
    throughput_per_minute: float
    window_seconds: int
    wait_time_ms: Percentiles = Field(
        description="From due to claimed, over the most recent finished jobs."
    )
    run_time_ms: Percentiles = Field(
        description="From claimed to finished, over the most recent finished jobs."
    )
    sample_size: int
    workers_alive: int
    workers: list[WorkerInfo]
    computed_at: datetime
