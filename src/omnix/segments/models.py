"""Tables: segmentation runs, per-customer assignments, the current pointer,
per-run segment totals and migrations.

A *run* is one computation: a full recomputation of every customer, the
recalculation of one customer, or a manual move. Each run stores one
assignment per customer it placed, with the features that produced it, so a
snapshot can always be explained later. ``customer_segments`` points at each
customer's newest assignment (by business time), so reads never have to
search the history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from omnix.db.base import Base

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants BIGINT.
RowId = BigInteger().with_variant(Integer(), "sqlite")
SegmentId = String(32)

RUN_RECOMPUTE = "recompute"
RUN_RECALCULATION = "recalculation"
RUN_MANUAL = "manual"


class SegmentRun(Base):
    """One computation of segments, as of a business instant."""

    __tablename__ = "segment_runs"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    # recompute (everyone), recalculation (one customer) or manual.
    kind: Mapped[str] = mapped_column(String(16))
    as_of: Mapped[datetime] = mapped_column(index=True)
    computed_at: Mapped[datetime]
    # Who asked: a user id, "schedule", "cli" or "demo".
    triggered_by: Mapped[str] = mapped_column(String(64))
    new_customer_days: Mapped[int]
    customer_count: Mapped[int] = mapped_column(default=0)
    migration_count: Mapped[int] = mapped_column(default=0)
    seconds: Mapped[float] = mapped_column(default=0.0)


class SegmentAssignment(Base):
    """A customer's segment in one run, with the features behind it."""

    __tablename__ = "segment_assignments"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("segment_runs.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    segment_id: Mapped[str] = mapped_column(SegmentId)
    confidence: Mapped[float]
    as_of: Mapped[datetime]
    computed_at: Mapped[datetime]
    has_purchases: Mapped[bool]
    # Whole store-time-zone days; None without purchases.
    recency_days: Mapped[int | None]
    order_count: Mapped[int]
    total_spend: Mapped[float]
    tenure_days: Mapped[int]
    first_purchase_at: Mapped[datetime | None]
    last_purchase_at: Mapped[datetime | None]
    # Scores 1-5 and the percentiles in [0, 1) they were cut from; None
    # without purchases (such customers are not ranked).
    r: Mapped[int | None]
    f: Mapped[int | None]
    m: Mapped[int | None]
    r_pct: Mapped[float | None]
    f_pct: Mapped[float | None]
    m_pct: Mapped[float | None]


Index(
    "ix_segment_assignments_customer_as_of",
    SegmentAssignment.customer_id,
    SegmentAssignment.as_of,
)


class CurrentSegment(Base):
    """Each customer's newest assignment (the greatest as_of, then run id)."""

    __tablename__ = "customer_segments"
    __table_args__ = (
        ForeignKeyConstraint(
            ["run_id", "customer_id"],
            ["segment_assignments.run_id", "segment_assignments.customer_id"],
            ondelete="CASCADE",
        ),
    )

    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    run_id: Mapped[int] = mapped_column(RowId)
    segment_id: Mapped[str] = mapped_column(SegmentId, index=True)
    confidence: Mapped[float]
    as_of: Mapped[datetime]
    assigned_at: Mapped[datetime]
    # Business time of the first assignment of the current, unbroken stay.
    segment_since: Mapped[datetime]


class SegmentRunTotal(Base):
    """Per-run, per-segment sums, so trends never rescan the assignments."""

    __tablename__ = "segment_run_totals"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("segment_runs.id", ondelete="CASCADE"), primary_key=True
    )
    segment_id: Mapped[str] = mapped_column(SegmentId, primary_key=True)
    customer_count: Mapped[int]
    order_count: Mapped[int]
    total_spend: Mapped[float]
    tenure_days: Mapped[int]
    confidence_sum: Mapped[float]


class SegmentMigration(Base):
    """A change of segment: recorded by a recomputation or by staff."""

    __tablename__ = "segment_migrations"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE")
    )
    run_id: Mapped[int] = mapped_column(
        ForeignKey("segment_runs.id", ondelete="CASCADE")
    )
    from_segment_id: Mapped[str] = mapped_column(SegmentId)
    to_segment_id: Mapped[str] = mapped_column(SegmentId)
    reason: Mapped[str] = mapped_column(Text)
    impact_score: Mapped[float]
    # Business time the move took effect; ``recorded_at`` is the wall clock.
    as_of: Mapped[datetime] = mapped_column(index=True)
    recorded_at: Mapped[datetime]
    manual: Mapped[bool] = mapped_column(default=False)
    recorded_by: Mapped[str | None] = mapped_column(String(64))


Index(
    "ix_segment_migrations_customer_as_of",
    SegmentMigration.customer_id,
    SegmentMigration.as_of,
)
Index("ix_segment_migrations_run_customer", SegmentMigration.run_id,
      SegmentMigration.customer_id)  # fmt: skip
