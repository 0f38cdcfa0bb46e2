"""Segment DTOs: the guide's names, with the fields the guide leaves open."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from omnix.engine.segments_catalogue import SEGMENTS_BY_ID
from omnix.schemas import ApiModel, InputModel, JsonBool, JsonNumber

AnalysisDepth = Literal["basic", "detailed", "comprehensive"]
AssignmentSource = Literal["recompute", "recalculation", "manual", "on_demand"]
Level = Literal["very_high", "high", "medium", "low", "very_low"]
MAX_BATCH = 500
SEGMENT_ID_PATTERN = r"^[a-z_]{1,32}$"
CUSTOMER_ID = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")
# A segment id in a request. The schema lists the eight; the services check
# them (``check_segment_id``) with a message that names the field.
SegmentName = Annotated[
    str,
    Field(
        max_length=32,
        description="A segment id, e.g. `at_risk`.",
        json_schema_extra={"enum": list(SEGMENTS_BY_ID)},
    ),
]


class CustomerFeatures(ApiModel):
    """The numbers an assignment was computed from, as of its business instant."""

    has_purchases: bool = Field(description="False: placed by rule, not ranked.")
    recency_days: int | None = Field(
        description="Whole store-time-zone days since the last order; null "
        "without purchases."
    )
    frequency: int = Field(description="Number of orders (distinct baskets).")
    monetary: float = Field(description="Total spend, rounded to cents.")
    tenure_days: int = Field(
        description="Days since the first purchase, or since the account opened "
        "for a customer without purchases."
    )
    average_order_value: float | None = Field(
        description="monetary / frequency; null without purchases."
    )
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    recency_score: int | None = Field(description="R, 1 (worst) to 5 (best).")
    frequency_score: int | None = Field(description="F, 1 to 5.")
    monetary_score: int | None = Field(description="M, 1 to 5.")
    rfm_score: str | None = Field(description='The three scores, e.g. "545".')
    recency_percentile: float | None = Field(
        description="Share of ranked customers with a strictly worse recency."
    )
    frequency_percentile: float | None
    monetary_percentile: float | None


class CustomerSegmentAssignment(ApiModel):
    """One customer's segment in one computation."""

    customer_id: str
    segment_id: str
    segment_name: str
    assigned_at: datetime = Field(description="When it was computed (wall clock).")
    computed_at: datetime = Field(description="Same as assignedAt.")
    as_of: datetime = Field(description="The business instant it describes.")
    confidence: float = Field(
        ge=0,
        le=1,
        description="Distance to the nearest other segment in quintiles, capped "
        "at 1; share of the window left for New Customers; 1 for manual moves.",
    )
    previous_segment_id: str | None = Field(
        default=None, description="Set when this assignment moved the customer."
    )
    migration_reason: str | None = None
    source: AssignmentSource = Field(
        description="recompute (everyone), recalculation (this customer), manual "
        "(staff), or on_demand (computed for this answer, not stored)."
    )
    features: CustomerFeatures


class CurrentSegmentResponse(ApiModel):
    """The customer's current segment plus the assignment history."""

    customer_id: str
    segment_id: str
    segment_name: str
    assigned_at: datetime
    confidence: float
    as_of: datetime
    segment_since: datetime | None = Field(
        description="Business time the customer entered this segment (unbroken "
        "stay); null for an on-demand answer."
    )
    features: CustomerFeatures
    assignments: list[CustomerSegmentAssignment] = Field(
        description="Newest first: assignments[0] is the current one."
    )


class SegmentationOptions(InputModel):
    """Body of POST /v1/customers/{id}/segmentation."""

    analysis_depth: AnalysisDepth = Field(
        default="basic",
        description="basic: the assignment; detailed: plus score explanations "
        "and the nearest other segment; comprehensive: plus history and "
        "migrations.",
    )
    include_recommendations: JsonBool = Field(
        default=False,
        description="Add the segment's strategy and popular products.",
    )
    force_recalculation: JsonBool = Field(
        default=False,
        description="Recompute now and store, instead of returning the stored "
        "assignment.",
    )


class SegmentationRequest(SegmentationOptions):
    """Body of POST /v1/customers/segmentation/batch."""

    customer_ids: list[str] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description=f"1 to {MAX_BATCH} customer ids; repeats are answered once.",
    )


class ScoreExplanation(ApiModel):
    axis: Literal["recency", "frequency", "monetary"]
    score: int
    percentile: float
    value: float = Field(description="Days, orders or spend.")
    text: str


class SegmentMigrationRecord(ApiModel):
    """A change of segment."""

    customer_id: str
    from_segment_id: str
    to_segment_id: str
    reason: str
    impact_score: float = Field(ge=-1, le=1)
    as_of: datetime = Field(description="Business time the move took effect.")
    recorded_at: datetime
    manual: bool


class SegmentAnalysis(ApiModel):
    """Why a customer is where they are (detailed and comprehensive depth)."""

    customer_id: str
    segment_id: str
    summary: str
    scores: list[ScoreExplanation]
    nearest_other_segment_id: str | None = Field(
        description="The closest segment the customer could move to; null for "
        "customers placed by rule."
    )
    distance_in_quintiles: float | None
    description: str
    characteristics: SegmentCharacteristics
    history: list[CustomerSegmentAssignment] | None = Field(
        default=None, description="Comprehensive depth: earlier assignments."
    )
    migrations: list[SegmentMigrationRecord] | None = Field(
        default=None, description="Comprehensive depth: the customer's moves."
    )


class ScoreRangeDto(ApiModel):
    min: int = Field(ge=1, le=5)
    max: int = Field(ge=1, le=5)


class RfmBoxDto(ApiModel):
    recency: ScoreRangeDto
    frequency: ScoreRangeDto
    monetary: ScoreRangeDto


class SegmentCriteria(ApiModel):
    """How a customer qualifies: cells of (R, F, M) scores, or tenure."""

    summary: str
    priority: int = Field(description="Criteria are tried in this order.")
    rfm_boxes: list[RfmBoxDto]
    by_tenure: bool
    new_customer_days: int


class SegmentCharacteristics(ApiModel):
    value_level: Level
    engagement: Level
    churn_risk: Level
    behaviour: list[str]


class SegmentRecommendationStrategy(ApiModel):
    """What the store team should do with the segment."""

    goal: str
    channels: list[str]
    offers: list[str]
    messaging: str
    contact_frequency: str
    actions: list[str]
    success_metrics: list[str]


class SegmentProductRecommendation(ApiModel):
    """A product popular among the segment's customers recently."""

    product_id: str
    product_name: str
    category: str | None
    department: str | None
    brand: str | None
    buyers: int = Field(description="Distinct customers who bought it in the window.")
    segment_penetration: float = Field(
        description="buyers / customers of the ranked group."
    )
    kind: Literal["repurchase", "discovery"] | None = Field(
        description="repurchase: the customer has bought it before; null when "
        "the list serves several customers (batch segmentation)."
    )
    source: Literal["segment", "all_customers"] = Field(
        description="all_customers fills in when the segment bought too little."
    )
    reason: str


class SegmentRecommendationSet(ApiModel):
    segment_id: str
    strategy: SegmentRecommendationStrategy
    products: list[SegmentProductRecommendation]


class SegmentationResponse(ApiModel):
    """Assignments for one or many customers, with optional analysis."""

    success: bool = True
    analysis_depth: AnalysisDepth
    assignments: list[CustomerSegmentAssignment]
    not_found: list[str] = Field(
        default_factory=list, description="Requested ids that are not customers."
    )
    segment_counts: dict[str, int] = Field(
        description="Assignments per segment id in this answer."
    )
    analyses: list[SegmentAnalysis] | None = None
    recommendations: list[SegmentRecommendationSet] | None = None


class CustomerSegment(ApiModel):
    """A segment of the catalogue with its current population."""

    segment_id: str
    segment_name: str
    description: str
    criteria: SegmentCriteria
    customer_count: int
    share_of_customers: float = Field(description="Of the segmented customers.")
    average_order_value: float = Field(
        description="Total spend / orders of the segment's customers (lifetime)."
    )
    average_purchase_frequency: float = Field(
        description="Orders per customer per 30 days of tenure."
    )
    average_confidence: float
    characteristics: SegmentCharacteristics
    recommendations: SegmentRecommendationStrategy
    value_rank: int = Field(description="1 is the most valuable segment.")
    created_at: datetime | None = Field(
        description="First computation of segments in this installation."
    )
    updated_at: datetime | None = Field(description="Latest computation.")


class SegmentationStatistics(ApiModel):
    total_customers: int
    segmented_customers: int
    customers_without_purchases: int
    average_confidence: float
    low_confidence_share: float = Field(description="Share with confidence < 0.2.")
    last_computed_at: datetime | None
    last_as_of: datetime | None
    recompute_count: int
    migrations_last_30_days: int
    manual_migrations_last_30_days: int
    new_customer_days: int


class SegmentOverview(ApiModel):
    segments: list[CustomerSegment]
    statistics: SegmentationStatistics


class Period(ApiModel):
    start: datetime
    end: datetime
    days: int


class SegmentFlow(ApiModel):
    segment_id: str
    count: int


class SegmentTrendPoint(ApiModel):
    as_of: datetime
    computed_at: datetime
    customer_count: int
    share_of_customers: float
    average_order_value: float
    average_confidence: float


class SegmentPerformanceMetrics(ApiModel):
    """How a segment's current customers shop and how the segment moves."""

    segment_id: str
    segment_name: str
    period: Period
    customer_count: int
    share_of_customers: float
    average_confidence: float
    revenue: float = Field(description="Spend of current members in the period.")
    revenue_share: float = Field(description="Of all customers' spend in the period.")
    order_count: int
    average_order_value: float
    purchase_frequency: float = Field(description="Orders per member in the period.")
    active_customer_share: float = Field(
        description="Members with at least one order in the period."
    )
    retention_rate: float | None = Field(
        description="Members at the last full recomputation on or before the "
        "period start who are still members; null without such a snapshot."
    )
    retention_base: int = Field(description="Members at that snapshot.")
    migrations_in: int
    migrations_out: int
    net_migration: int
    top_sources: list[SegmentFlow]
    top_destinations: list[SegmentFlow]
    trend: list[SegmentTrendPoint] = Field(
        description="One point per full recomputation, oldest first."
    )


class ManualMigrationRequest(InputModel):
    """Body of POST /v1/customers/segments/migrate."""

    customer_id: str = CUSTOMER_ID
    from_segment: SegmentName
    to_segment: SegmentName
    reason: str = Field(min_length=1, max_length=1000)
    impact_score: JsonNumber | None = Field(
        default=None,
        ge=-1,
        le=1,
        description="Computed from the segments' value and the customer's spend "
        "when absent.",
    )


class SegmentRecommendationsResponse(ApiModel):
    """Products popular in the customer's segment, with the segment's strategy."""

    customer_id: str
    segment: str = Field(description="The segment id.")
    segment_name: str
    window_days: int
    recommendations: list[SegmentProductRecommendation]
    strategy: SegmentRecommendationStrategy | None = None


SegmentAnalysis.model_rebuild()
