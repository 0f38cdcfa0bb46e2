"""Section 4 of the guide: A/B test requests and answers.

``trafficSplit`` is the share of customers sent to model B, a fraction
strictly between 0 and 1 (0.5 = half each, 0.2 = one in five to B). Values
written as percentages (such as 50) are refused with a message saying so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, field_validator

from omnix.analysers.catalogue import AvailableModel
from omnix.experiments.metrics import MetricId
from omnix.schemas import ApiModel, InputModel, JsonInt, JsonNumber, StoreInstant

TestStatus = Literal["pending", "running", "completed", "paused"]
Arm = Literal["A", "B"]
WinnerArm = Literal["A", "B", "tie"]
TestAnalysisType = Literal[
    "consumption_prediction",
    "customer_profiling",
    "recommendation_generation",
    "full_analysis",
]
QuickAnalysisType = Literal[
    "consumption_prediction", "customer_profiling", "recommendation_generation"
]
DEFAULT_SPLIT = 0.5
DEFAULT_DURATION_DAYS = 14
DEFAULT_OUTCOME_WINDOW_DAYS = 14

SPLIT_DESCRIPTION = (
    "Share of customers assigned to model B, a fraction in (0, 1): 0.5 sends "
    "half to each model, 0.2 one in five to B. Percentages (50) are refused."
)


def check_split(value: float) -> float:
    """The split as a fraction in (0, 1); percentages are named as such."""
    if 1 < value <= 100:
        raise ValueError(
            f"trafficSplit is the share of customers sent to model B as a fraction "
            f"in (0, 1); {value:g} looks like a percentage: send {value / 100:g}"
        )
    if not 0 < value < 1:
        raise ValueError(
            f"trafficSplit must be a fraction strictly between 0 and 1 (the share "
            f"of customers sent to model B), got {value:g}"
        )
    return value


# The bounds are stated in the schema and checked by ``check_split``, whose
# message says what a percentage should have been.
Split = Annotated[
    JsonNumber,
    Field(
        description=SPLIT_DESCRIPTION,
        json_schema_extra={"exclusiveMinimum": 0, "exclusiveMaximum": 1},
    ),
]
ModelId = Annotated[str, Field(min_length=1, max_length=120)]


class CreateABTestDto(InputModel):
    """A test of model B (the candidate) against model A (the control)."""

    test_name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    model_a: ModelId = Field(description="The control, usually the model in use.")
    model_b: ModelId = Field(description="The candidate.")
    analysis_type: TestAnalysisType
    traffic_split: Split = DEFAULT_SPLIT
    start_date: StoreInstant | None = Field(
        default=None, description="Default: now (business time)."
    )
    end_date: StoreInstant | None = Field(
        default=None, description="Give endDate or durationDays, not both."
    )
    duration_days: JsonInt | None = Field(
        default=None,
        ge=1,
        le=365,
        description=f"Default {DEFAULT_DURATION_DAYS} when endDate is absent.",
    )
    metrics: list[MetricId] | None = Field(
        default=None,
        max_length=10,
        description="Metrics to compare; default every one the type supports.",
    )
    primary_metric: MetricId | None = Field(
        default=None, description="The metric that names the winner."
    )
    outcome_window_days: JsonInt = Field(
        default=DEFAULT_OUTCOME_WINDOW_DAYS,
        ge=1,
        le=180,
        description="Days after an analysis in which purchases count as outcomes.",
    )

    _split = field_validator("traffic_split")(check_split)


class QuickTestDto(InputModel):
    """A test of the provider's fast model against its strong one."""

    test_name: str = Field(min_length=1, max_length=200)
    analysis_type: QuickAnalysisType
    duration_days: JsonInt = Field(default=DEFAULT_DURATION_DAYS, ge=1, le=365)
    traffic_split: Split = DEFAULT_SPLIT

    _split = field_validator("traffic_split")(check_split)


class SplitChangeDto(InputModel):
    traffic_split: Split

    _split = field_validator("traffic_split")(check_split)


class ABTestPhaseInfo(ApiModel):
    phase: int
    traffic_split: float
    started_at: datetime


class ABTestConfig(ApiModel):
    """A test as configured, with its status at business "now"."""

    test_id: str
    test_name: str
    description: str | None
    model_a: str
    model_b: str
    analysis_type: str
    traffic_split: float = Field(description="The current phase's split.")
    start_date: datetime
    end_date: datetime
    duration_days: float
    metrics: list[str]
    primary_metric: str
    outcome_window_days: int
    status: TestStatus
    current_phase: int
    phases: list[ABTestPhaseInfo]
    created_at: datetime
    deactivated_at: datetime | None = None


class ABTestCreated(ApiModel):
    success: bool = True
    test_id: str
    message: str


class ABTestList(ApiModel):
    success: bool = True
    data: list[ABTestConfig]
    total_tests: int
    active_tests: int = Field(description="Tests running now.")


class QuickTestCreated(ApiModel):
    success: bool = True
    test_id: str
    config: CreateABTestDto
    message: str = Field(description="Which models were chosen, and why.")


class SplitChanged(ApiModel):
    success: bool = True
    message: str
    phase: int
    traffic_split: float


class AvailableModels(ApiModel):
    success: bool = True
    data: list[AvailableModel]
    total_models: int


class ModelPerformanceMetrics(ApiModel):
    """Per-call figures of one arm in the phase (descriptive, not a test)."""

    total_requests: int
    customers: int
    success_rate: float | None = Field(description="null without requests.")
    average_processing_time: float | None = Field(description="Milliseconds.")
    average_confidence: float | None
    average_token_cost: float | None = Field(
        description="US dollars per priced request; null when none is priced."
    )
    unpriced_requests: int = Field(description="Requests whose cost is unknown.")
    fallback_requests: int = Field(
        description="Failed requests answered by the local engine instead."
    )
    customer_satisfaction_score: float | None = Field(
        default=None, description="Not collected: OMNIX has no satisfaction survey."
    )


class ArmPerformance(ApiModel):
    id: str
    name: str
    metrics: ModelPerformanceMetrics


class ArmSummary(ApiModel):
    """One arm's customers with a value, their mean and sample variance."""

    n: int
    mean: float | None
    variance: float | None = Field(description="p(1 - p) for a rate.")


class MetricComparison(ApiModel):
    """Model B against model A on one metric, customers as units."""

    metric: str
    label: str
    kind: Literal["mean", "rate"]
    unit: str
    higher_is_better: bool
    test: Literal["welch_t", "two_proportion_z"]
    status: Literal["ok", "insufficient_data"]
    reason: str | None = None
    model_a: ArmSummary
    model_b: ArmSummary
    difference: float | None = Field(description="B minus A.")
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    relative_uplift: float | None = Field(description="B / A - 1.")
    relative_ci_low: float | None
    relative_ci_high: float | None
    winner: WinnerArm
    significant: bool


class SampleRatioInfo(ApiModel):
    """Customers per arm against the configured split (chi-squared)."""

    status: Literal["ok", "insufficient_data"]
    reason: str | None = None
    observed: list[int] = Field(description="Customers in A and in B.")
    expected: list[float]
    p_value: float | None
    mismatch: bool | None = Field(description="p below the 0.001 threshold.")
    threshold: float


class CustomerOutcomeRow(ApiModel):
    """One customer's values in the phase (``includeRawData=true``)."""

    customer_id: str
    arm: Arm
    calls: int
    success: float | None
    latency_ms: float | None
    confidence: float | None
    token_cost: float | None
    date_error_days: float | None
    hit_share: float | None
    any_hit: float | None


class ABTestResult(ApiModel):
    test_id: str
    test_name: str
    status: TestStatus
    analysis_type: str
    model_a: ArmPerformance
    model_b: ArmPerformance
    winner: WinnerArm
    significance: float = Field(description="1 - p of the primary metric.")
    recommendations: list[str]
    start_date: datetime
    end_date: datetime
    phase: ABTestPhaseInfo
    phases: list[ABTestPhaseInfo]
    primary_metric: str
    confidence_level: float
    outcome_window_days: int
    pending_outcomes: int = Field(
        description="Customers whose outcome window is still open (not yet scored)."
    )
    sample_ratio: SampleRatioInfo
    comparisons: list[MetricComparison]
    raw_data: list[CustomerOutcomeRow] | None = None


class TestResultsSummary(ApiModel):
    """What a manager reads first."""

    __test__ = False  # a schema, not a pytest test class

    headline: str
    primary_metric: str
    winner: WinnerArm
    winner_model: str | None
    significance: float
    significant: bool
    customers_a: int
    customers_b: int
    sample_ratio_mismatch: bool | None
    ready_to_decide: bool = Field(
        description="Completed, no mismatch, primary metric has data."
    )


class ABTestResults(ApiModel):
    success: bool = True
    data: ABTestResult
    summary: TestResultsSummary


class ABTestStatusInfo(ApiModel):
    test_id: str
    test_name: str
    status: TestStatus
    models_compared: list[str]
    current_winner: str = Field(description="The winning model's id, or 'tie'.")
    significance: float
