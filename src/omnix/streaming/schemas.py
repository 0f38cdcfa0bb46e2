"""Section 5 DTOs: events in, insights out (the guide's names, completed)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
)

from omnix.schemas import (
    ApiModel,
    InputModel,
    JsonInt,
    JsonNumber,
    StoreDate,
    StoreInstant,
)
from omnix.segments.schemas import SegmentName

InsightType = Literal[
    "segment_migration",
    "consumption_prediction",
    "behavior_anomaly",
    "recommendation_update",
]
Priority = Literal["low", "medium", "high", "critical"]
PRIORITIES: tuple[Priority, ...] = ("low", "medium", "high", "critical")
INSIGHT_TYPES: tuple[InsightType, ...] = (
    "segment_migration",
    "consumption_prediction",
    "behavior_anomaly",
    "recommendation_update",
)
# A line's total may differ from quantity x price by rounding, up to a cent.
AMOUNT_TOLERANCE = 0.01

_ID_PATTERN = r"^[A-Za-z0-9._:\-]+$"
EventId = Annotated[
    str | None,
    Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=_ID_PATTERN,
        description="Unique per event; re-sending the same id changes nothing. "
        "Derived from the event's content when absent.",
    ),
]
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=_ID_PATTERN)]
Metadata = Annotated[
    dict[str, str | int | float | bool | None],
    Field(default_factory=dict, max_length=20),
]


class PurchaseEvent(InputModel):
    """One purchase line, as a till or an app reports it."""

    event_type: Literal["purchase"] | None = Field(
        default=None, description="Optional here; tells events apart in a batch."
    )
    event_id: EventId
    customer_id: Identifier
    product_id: Identifier
    product_category: str = Field(min_length=1, max_length=120)
    product_name: str = Field(min_length=1, max_length=200)
    quantity: JsonNumber = Field(gt=0, le=1000)
    price: JsonNumber = Field(ge=0, le=100_000, description="Unit price.")
    total_amount: JsonNumber = Field(
        ge=0, description="quantity x price, within a cent of rounding."
    )
    timestamp: StoreInstant = Field(description="When it was bought, with offset.")
    location: str | None = Field(default=None, max_length=120)
    payment_method: str | None = Field(default=None, max_length=40)
    device_type: Literal["web", "mobile", "pos"] | None = None
    metadata: Metadata
    order_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=_ID_PATTERN,
        description="The basket; without it, one customer's lines of one minute "
        "form one order.",
    )
    line_no: JsonInt = Field(
        default=0,
        ge=0,
        le=999,
        description="Tells apart two lines of one product in one basket.",
    )
    store_id: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=_ID_PATTERN
    )

    @field_validator("total_amount")
    @classmethod
    def _total_matches(cls, total: float, info: ValidationInfo) -> float:
        quantity, price = info.data.get("quantity"), info.data.get("price")
        if quantity is None or price is None:
            return total  # their own errors are reported
        expected = quantity * price
        if abs(total - expected) > AMOUNT_TOLERANCE + 1e-9:
            raise ValueError(
                f"must equal quantity x price ({expected:.2f}) within "
                f"{AMOUNT_TOLERANCE:.2f}"
            )
        return total


class CustomerSegmentUpdateEvent(InputModel):
    """A household's segment, as another system decided it."""

    event_type: Literal["segment_update"] | None = None
    event_id: EventId
    customer_id: Identifier
    previous_segment: SegmentName | None = None
    new_segment: SegmentName
    reason: str | None = Field(default=None, max_length=500)
    confidence: JsonNumber | None = Field(default=None, ge=0, le=1)
    timestamp: StoreInstant
    metadata: Metadata


class ConsumptionPredictionEvent(InputModel):
    """A predicted next purchase of one product, from another model."""

    event_type: Literal["consumption_prediction"] | None = None
    event_id: EventId
    customer_id: Identifier
    product_id: Identifier
    product_name: str | None = Field(default=None, min_length=1, max_length=200)
    product_category: str | None = Field(default=None, min_length=1, max_length=120)
    predicted_next_purchase_date: StoreDate = Field(description="Store-local date.")
    average_days_between_purchases: JsonNumber | None = Field(
        default=None, gt=0, le=3650
    )
    confidence: JsonNumber = Field(default=0.5, ge=0, le=1)
    timestamp: StoreInstant
    metadata: Metadata


def event_kind(value: Any) -> str:
    """The kind of a batch item: its ``eventType``, else guessed from its fields."""
    if isinstance(value, dict):
        declared = value.get("eventType", value.get("event_type"))
        if declared in ("purchase", "segment_update", "consumption_prediction"):
            return str(declared)
        if "newSegment" in value or "new_segment" in value:
            return "segment_update"
        if "predictedNextPurchaseDate" in value:
            return "consumption_prediction"
        return "purchase"
    if isinstance(value, CustomerSegmentUpdateEvent):
        return "segment_update"
    if isinstance(value, ConsumptionPredictionEvent):
        return "consumption_prediction"
    return "purchase"


StreamEvent = Annotated[
    Annotated[PurchaseEvent, Tag("purchase")]
    | Annotated[CustomerSegmentUpdateEvent, Tag("segment_update")]
    | Annotated[ConsumptionPredictionEvent, Tag("consumption_prediction")],
    Discriminator(event_kind),
]
AnyEvent = PurchaseEvent | CustomerSegmentUpdateEvent | ConsumptionPredictionEvent


class RealtimeInsight(ApiModel):
    """What the stream noticed about a household, as the guide defines it."""

    customer_id: str
    insight_type: InsightType
    insight: str = Field(description="One sentence for a person.")
    action_required: bool
    priority: Priority
    timestamp: datetime = Field(description="Event time the insight speaks of.")
    data: dict[str, Any] = Field(
        description="The rule (`rule`), the measures that triggered it and the "
        "triggering `eventId` when there is one."
    )


class PublishResponse(ApiModel):
    """The answer to one published event."""

    message: str
    insights: list[RealtimeInsight] = Field(
        description="Insights this event produced so far (see `processed`)."
    )
    event_id: str
    duplicate: bool = Field(
        description="True when this event id was accepted before: nothing changed."
    )
    processed: bool = Field(
        description="False when the consumer had not applied the event yet; its "
        "insights then follow on /ws and GET /v1/streaming/insights/{customerId}."
    )
    relayed: bool = Field(
        description="False when the stream was unreachable: the event is kept in "
        "the outbox and relayed when the stream is back."
    )


class BatchPublishResponse(ApiModel):
    """The answer to a batch of events."""

    message: str
    published_count: int = Field(description="Events newly accepted.")
    duplicate_count: int = Field(
        description="Events already accepted (earlier or twice in this batch)."
    )
    event_ids: list[str] = Field(description="The id of each item, in order.")
    duplicates: list[str] = Field(description="Ids that changed nothing.")
    relayed: bool


class CustomerInsights(ApiModel):
    customer_id: str
    insights: list[RealtimeInsight]
    time_range: str = Field(description="e.g. `24h`: event times since now - hours.")
    since: datetime
    until: datetime


class ProcessingMetrics(ApiModel):
    """How the stream's consumers are doing, across every process."""

    events_accepted: int
    events_processed: int
    events_awaiting_processing: int
    events_awaiting_relay: int = Field(
        description="Accepted while the stream was unreachable; relayed when back."
    )
    late_events: int = Field(
        description="Older than the watermark minus the allowed lateness."
    )
    redelivered_events: int = Field(
        description="Deliveries of events already applied (ignored)."
    )
    watermark: datetime | None = Field(
        description="Latest event time processed on the stream."
    )
    allowed_lateness_seconds: float
    throughput_per_second: float | None = Field(
        description="Sum over live consumers, over their metrics window."
    )
    latency_p99_ms: float | None = Field(
        description="Worst p99 among live consumers, publish to applied."
    )
    active_consumers: int


class SystemInsightsOverview(ApiModel):
    total_insights: int
    insights_by_type: dict[str, int]
    insights_by_priority: dict[str, int]
    processing_metrics: ProcessingMetrics


class StreamConfig(ApiModel):
    """How the stream is set up (``OMNIX_STREAMING_*``)."""

    engine: Literal["redis", "memory"]
    consumer_group: str
    max_length: int = Field(description="Entries kept; older ones are trimmed.")
    claim_idle_ms: int = Field(
        description="Pending entries idle this long are claimed by another consumer."
    )
    max_deliveries: int = Field(description="Tries before the dead-letter stream.")
    consumer_batch_size: int
    max_batch_events: int
    allowed_lateness_seconds: float
    consumers_in_serve: bool


class StreamStatus(ApiModel):
    stream_name: str
    status: Literal["ACTIVE", "NOT_CREATED", "UNAVAILABLE"] = Field(
        description="UNAVAILABLE: the bus (Redis) does not answer; events are "
        "still accepted into the outbox."
    )
    config: StreamConfig


class StreamList(ApiModel):
    streams: list[str]


class CreateStreamRequest(InputModel):
    stream_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
        description="Defaults to the events stream the consumers read.",
    )


class CreateStreamResponse(ApiModel):
    message: str
    stream_name: str
    created: bool


class BusConsumer(ApiModel):
    """A consumer of the group as the bus sees it."""

    name: str
    pending: int
    idle_ms: int


class ConsumerMetrics(ApiModel):
    """The latest figures one consumer reported, from whatever process."""

    consumer: str
    handled_total: int
    failed_total: int
    claimed_total: int
    dead_lettered_total: int
    window_seconds: float
    throughput_per_second: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    updated_at: datetime


class KinesisStreamMetrics(ApiModel):
    """The stream's state and its consumers' performance.

    ``length`` to ``deadLetters`` come from the bus (every process); the
    throughput and latencies from the consumers' own reports, kept for those
    that reported within the last minute. Latency runs from publication to
    the batch's commit. Percentiles of different consumers cannot be merged:
    the stream-level figures are the worst consumer's.
    """

    stream_name: str
    engine: Literal["redis", "memory"]
    consumer_group: str
    length: int = Field(description="Entries in the stream (acknowledged or not).")
    pending: int = Field(description="Delivered to the group, not acknowledged yet.")
    lag: int | None = Field(
        description="Entries not yet delivered to the group; null when Redis "
        "cannot tell (entries trimmed in the unread range)."
    )
    dead_letters: int
    consumers: list[BusConsumer]
    processing: list[ConsumerMetrics]
    throughput_per_second: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    events_awaiting_relay: int
    events_awaiting_processing: int
    processed_events: int
    late_events: int
    redelivered_events: int
    watermark: datetime | None
    measured_at: datetime
