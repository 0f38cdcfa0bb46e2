"""Tables of real-time streaming: the event outbox, insights and consumer state.

``stream_events`` is both the outbox (an event is acknowledged to its sender
only once its row is committed; the relay publishes rows the bus has not
taken) and the consumer's ledger (``processed_at`` is set in the same
transaction that applies the event, so a redelivered event changes nothing).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from omnix.db.base import Base
from omnix.db.session import dialect_name

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants BIGINT.
RowId = BigInteger().with_variant(Integer(), "sqlite")

EVENT_PURCHASE = "purchase"
EVENT_SEGMENT_UPDATE = "segment_update"
EVENT_CONSUMPTION_PREDICTION = "consumption_prediction"


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """A Core ``INSERT`` into a model's table in the session's dialect (which
    has ``on_conflict_do_*``). Core, not ORM: bulk inserts of thousands of
    rows skip the ORM's per-row bookkeeping, several times faster."""
    postgres = dialect_name(session) == "postgresql"
    insert = postgresql.insert if postgres else sqlite.insert
    return insert(getattr(table, "__table__", table))


class StreamEvent(Base):
    """One accepted event: the outbox row and the processing ledger."""

    __tablename__ = "stream_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    stream: Mapped[str] = mapped_column(String(128))
    event_type: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str] = mapped_column(String(64))
    # sha256 of the event's content, to tell a re-send from a reused id.
    content_hash: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    event_time: Mapped[datetime]
    accepted_at: Mapped[datetime]
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    publish_attempts: Mapped[int] = mapped_column(default=0)
    processed_at: Mapped[datetime | None] = mapped_column(index=True)
    late: Mapped[bool] = mapped_column(Boolean, default=False)


Index("ix_stream_events_customer", StreamEvent.customer_id, StreamEvent.event_time)


class StreamInsight(Base):
    """A RealtimeInsight, kept with the event time it speaks of."""

    __tablename__ = "stream_insights"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    # Deterministic per rule and subject, so a rule never fires twice for the
    # same thing (an order, an event, a predicted date), whoever computes it.
    insight_key: Mapped[str] = mapped_column(String(300), unique=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str | None] = mapped_column(String(128), index=True)
    insight_type: Mapped[str] = mapped_column(String(32))
    rule: Mapped[str] = mapped_column(String(40))
    priority: Mapped[str] = mapped_column(String(16))
    action_required: Mapped[bool] = mapped_column(Boolean)
    insight: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    event_time: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(index=True)


Index(
    "ix_stream_insights_customer_time",
    StreamInsight.customer_id,
    StreamInsight.event_time,
)


class CustomerStreamState(Base):
    """A household's features as the stream keeps them, updated per event.

    Built from the purchases table on first sight (leaving out the lines of
    events not yet processed) and rebuilt after ``state_refresh_hours``.
    """

    __tablename__ = "stream_customer_states"

    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    account_opened_at: Mapped[datetime]
    first_purchase_at: Mapped[datetime | None]
    last_purchase_at: Mapped[datetime | None]
    order_count: Mapped[int] = mapped_column(default=0)
    total_spend: Mapped[float] = mapped_column(default=0.0)
    # [[order id, epoch seconds of its first line, value], ...], oldest first.
    recent_orders: Mapped[list[Any]] = mapped_column(JSON)
    # Orders per hour of the day (store time zone), 24 counts.
    hour_counts: Mapped[list[int]] = mapped_column(JSON)
    # Lines per department.
    department_counts: Mapped[dict[str, int]] = mapped_column(JSON)
    segment_id: Mapped[str | None] = mapped_column(String(40))
    refreshed_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ProductOutlook(Base):
    """The predicted next purchase of one product by one household."""

    __tablename__ = "stream_product_outlooks"

    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(120))
    purchase_days: Mapped[int]
    last_purchase_day: Mapped[date | None]
    predicted_date: Mapped[date]
    interval_days: Mapped[float]
    confidence: Mapped[float]
    source: Mapped[str] = mapped_column(String(16))  # "engine" or "event"
    # 0 nothing raised yet, 1 "due" raised, 2 "overdue" raised for the
    # current predicted date; a new prediction starts again at 0.
    due_stage: Mapped[int] = mapped_column(default=0)
    # The day the timer next looks at this row (the predicted date, then the
    # day it becomes overdue); None once everything was raised, or for
    # rhythms too thin to remind anyone of.
    next_check: Mapped[date | None] = mapped_column(index=True)
    updated_at: Mapped[datetime]


class StreamProgress(Base):
    """Per stream: the event-time watermark and processing counters."""

    __tablename__ = "stream_progress"

    stream: Mapped[str] = mapped_column(String(128), primary_key=True)
    watermark: Mapped[datetime | None]
    processed_events: Mapped[int] = mapped_column(BigInteger, default=0)
    late_events: Mapped[int] = mapped_column(BigInteger, default=0)
    redelivered_events: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime]


class ConsumerSnapshot(Base):
    """The latest processing metrics of one consumer, in whatever process."""

    __tablename__ = "stream_consumer_snapshots"

    consumer: Mapped[str] = mapped_column(String(128), primary_key=True)
    stream: Mapped[str] = mapped_column(String(128))
    group_name: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(index=True)
    handled_total: Mapped[int] = mapped_column(BigInteger)
    failed_total: Mapped[int] = mapped_column(BigInteger)
    claimed_total: Mapped[int] = mapped_column(BigInteger)
    dead_lettered_total: Mapped[int] = mapped_column(BigInteger)
    window_s: Mapped[float]
    window_events: Mapped[int]
    throughput_per_s: Mapped[float | None]
    latency_p50_ms: Mapped[float | None]
    latency_p95_ms: Mapped[float | None]
    latency_p99_ms: Mapped[float | None]
