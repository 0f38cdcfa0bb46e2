"""Tables: segmentation runs, per-customer assignments, per-run segment
totals and migrations.

A *run* is one computation: a full recomputation of every customer, the
recalculation of some customers, or a manual move. Each run stores one
assignment per customer it placed, with the features that produced it, so a
snapshot can always be explained later. Which assignment is current is a
query (:mod:`omnix.segments.current`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CompoundSelect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    and_,
    exists,
    func,
    or_,
    select,
    union_all,
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
    """A customer's segment in one run, with the features behind it.

    Deliberately without foreign keys, like a warehouse fact table: checking
    them row by row makes PostgreSQL lock every referenced customer row (a
    heap write and a WAL record each), which on a million-customer snapshot
    cost more than writing the snapshot itself. Every row is written from
    ids just read in the same transaction, and
    :func:`omnix.segments.service.forget_customer` removes a customer's rows.
    """

    __tablename__ = "segment_assignments"

    run_id: Mapped[int] = mapped_column(RowId, primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
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


def current_assignment_select(
    excluding_run: int | None = None,
) -> CompoundSelect[Any]:
    """Every customer's current assignment: a query, not a table.

    The current assignment is the customer's row in the latest full
    recomputation (greatest business time, then run id), unless a later
    recalculation or manual move of that customer exists, in which case the
    latest of those. Keeping it a query means a recomputation writes its
    snapshot once instead of also rewriting a pointer row per customer, which
    on a million customers costs as much again. A back-dated recomputation
    never becomes the latest full one while a later one exists, so it changes
    nobody's current segment. ``excluding_run`` leaves one run out, to see
    the state just before it.
    """
    a, r = SegmentAssignment, SegmentRun
    latest = select(r.id, r.as_of).where(r.kind == RUN_RECOMPUTE)
    if excluding_run is not None:
        latest = latest.where(r.id != excluding_run)
    latest = latest.order_by(r.as_of.desc(), r.id.desc()).limit(1)
    anchor_id = select(latest.subquery().c.id).scalar_subquery()
    anchor_as_of = select(latest.subquery().c.as_of).scalar_subquery()

    later: list[Any] = [
        r.kind != RUN_RECOMPUTE,
        or_(
            anchor_id.is_(None),
            a.as_of > anchor_as_of,
            and_(a.as_of == anchor_as_of, a.run_id > anchor_id),
        ),
    ]
    if excluding_run is not None:
        later.append(a.run_id != excluding_run)
    columns = [column for column in SegmentAssignment.__table__.columns]
    ranked = (
        select(
            *columns,
            func.row_number()
            .over(
                partition_by=a.customer_id, order_by=(a.as_of.desc(), a.run_id.desc())
            )
            .label("position"),
        )
        .join(r, r.id == a.run_id)
        .where(*later)
        .subquery("later_runs")
    )
    overrides = select(*(ranked.c[c.key] for c in columns)).where(
        ranked.c.position == 1
    )
    overridden = exists().where(
        ranked.c.customer_id == a.customer_id, ranked.c.position == 1
    )
    base = select(*columns).where(a.run_id == anchor_id, ~overridden)
    return union_all(base, overrides)


_CURRENT = current_assignment_select().subquery("customer_segments")


class CurrentSegment(Base):
    """Read-only: one row per customer, their current assignment.

    Mapped over :func:`current_assignment_select`, so it can be queried like
    a table (``select(CurrentSegment.customer_id).where(...)``) but never
    written.
    """

    __table__ = _CURRENT
    __mapper_args__ = {"primary_key": [_CURRENT.c.run_id, _CURRENT.c.customer_id]}

    run_id: Mapped[int]
    customer_id: Mapped[str]
    segment_id: Mapped[str]
    confidence: Mapped[float]
    as_of: Mapped[datetime]
    computed_at: Mapped[datetime]
    has_purchases: Mapped[bool]
    recency_days: Mapped[int | None]
    order_count: Mapped[int]
    total_spend: Mapped[float]
    tenure_days: Mapped[int]
    first_purchase_at: Mapped[datetime | None]
    last_purchase_at: Mapped[datetime | None]
    r: Mapped[int | None]
    f: Mapped[int | None]
    m: Mapped[int | None]
    r_pct: Mapped[float | None]
    f_pct: Mapped[float | None]
    m_pct: Mapped[float | None]
