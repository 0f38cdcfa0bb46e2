"""Computing segments: everyone at once, some customers now, or a manual move.

Features and scores come from the database (:mod:`omnix.segments.features`);
the 125-cell table and confidences from :mod:`omnix.engine.rfm`; storage from
:mod:`omnix.segments.storage`. Services never commit: the request, the
command or the scheduled task does, once.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import structlog
from sqlalchemy import ColumnElement, case, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.clock import Clock
from omnix.customers.models import Customer
from omnix.engine.rfm import (
    DEFAULT_NEW_CUSTOMER_DAYS,
    LEVELS,
    RfmFeatures,
    RfmPositions,
    assign_segments,
    describe_migration,
)
from omnix.engine.segments_catalogue import SEGMENTS_BY_ID
from omnix.errors import BadRequest, Conflict, NotFound, field_error
from omnix.segments.current import current_assignment_of, latest_full_run
from omnix.segments.features import Population, load_features, load_population
from omnix.segments.models import (
    RUN_MANUAL,
    RUN_RECALCULATION,
    RUN_RECOMPUTE,
    SegmentAssignment,
    SegmentMigration,
    SegmentRun,
)
from omnix.segments.storage import (
    Placed,
    insert_snapshot,
    record_migrations,
    store_run,
    write_totals,
)

log = structlog.get_logger()

# Serialises full recomputations across processes on PostgreSQL (an
# arbitrary constant: the advisory-lock key of this job).
RECOMPUTE_LOCK_KEY = 7_311_004
# Hash-aggregating millions of lines spills to disk with the default 4 MB.
RECOMPUTE_WORK_MEM = "512MB"


@dataclass(frozen=True)
class RecomputeSummary:
    run_id: int
    as_of: datetime
    customer_count: int
    migration_count: int
    seconds: float
    counts: dict[str, int]


def _require_aware(as_of: datetime) -> None:
    if as_of.tzinfo is None:
        raise ValueError("as_of needs a UTC offset")


async def lock_recomputation(session: AsyncSession) -> None:
    """Wait for any other full recomputation and tune the connection for one
    large aggregation.

    PostgreSQL: an advisory lock (SQLite's writer lock already serialises
    writing transactions) and more ``work_mem``. SQLite is left as it is:
    memory-mapping the file made the scan about a third faster, but a server
    process then read "database disk image is malformed" while another
    process recomputed, so the pooled connections keep ordinary reads.
    """
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": RECOMPUTE_LOCK_KEY}
        )
        await session.execute(text(f"SET LOCAL work_mem = '{RECOMPUTE_WORK_MEM}'"))


async def recompute_all(
    session: AsyncSession,
    as_of: datetime,
    *,
    timezone: str = "UTC",
    new_customer_days: int = DEFAULT_NEW_CUSTOMER_DAYS,
    back_dated: bool = False,
    triggered_by: str = "system",
) -> RecomputeSummary:
    """Place every customer as of ``as_of``; store the snapshot and migrations.

    ``back_dated`` leaves out accounts opened after ``as_of`` without a
    purchase by then (see :func:`omnix.segments.features.population_query`).
    """
    _require_aware(as_of)
    started = time.perf_counter()
    await lock_recomputation(session)
    run = SegmentRun(
        kind=RUN_RECOMPUTE,
        as_of=as_of,
        computed_at=Clock.wall(),
        triggered_by=triggered_by,
        new_customer_days=new_customer_days,
    )
    session.add(run)
    await session.flush()

    await insert_snapshot(
        session,
        run,
        timezone=timezone,
        back_dated=back_dated,
        new_customer_days=new_customer_days,
    )
    counts = await write_totals(session, run.id)
    moves = await record_migrations(session, run, new_customer_days=new_customer_days)

    run.customer_count = sum(counts.values())
    run.migration_count = moves
    run.seconds = round(time.perf_counter() - started, 3)
    await session.flush()
    summary = RecomputeSummary(
        run_id=run.id,
        as_of=as_of,
        customer_count=run.customer_count,
        migration_count=moves,
        seconds=run.seconds,
        counts=counts,
    )
    log.info(
        "segments.recomputed",
        run_id=run.id,
        customers=summary.customer_count,
        migrations=moves,
        seconds=summary.seconds,
    )
    return summary


async def _rank_against(
    session: AsyncSession, reference: SegmentRun, features: Population
) -> RfmPositions:
    """Scores against the customers ranked by a stored full recomputation.

    The reference population is taken as it was at its snapshot (assumed
    stable between recomputations); the customer's own stored row is left
    out, so an unchanged customer gets exactly the scores of that snapshot.
    """
    a = SegmentAssignment
    size = features.size
    scores = np.ones((3, size), dtype=np.int64)
    percentiles = np.zeros((3, size), dtype=np.float64)

    def worse(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.sum(case((condition, 1), else_=0))

    for i in np.flatnonzero(features.has_purchases).tolist():
        query = select(
            func.count(),
            worse(a.recency_days > int(features.recency_days[i])),
            worse(a.order_count < int(features.order_count[i])),
            worse(a.total_spend < float(features.total_spend[i])),
        ).where(
            a.run_id == reference.id,
            a.has_purchases.is_(True),
            a.customer_id != features.customer_ids[i],
        )
        others, *counts = (await session.execute(query)).one()
        n = others + 1
        for axis, count in enumerate(counts):
            rank = (count or 0) + 1
            scores[axis, i] = 1 + (LEVELS * (rank - 1)) // n
            percentiles[axis, i] = (rank - 1) / n
    return RfmPositions(*scores, *percentiles)


async def place_customers(
    session: AsyncSession,
    customer_ids: list[str],
    as_of: datetime,
    *,
    timezone: str = "UTC",
    new_customer_days: int = DEFAULT_NEW_CUSTOMER_DAYS,
) -> Placed:
    """Segments of some customers now, without storing anything.

    Customers are ranked against the latest full recomputation; before the
    first one exists, against the whole population computed on the spot.
    Unknown ids are simply absent from the result.
    """
    _require_aware(as_of)
    features = await load_features(session, as_of, customer_ids, timezone=timezone)
    reference = await latest_full_run(session)
    if reference is not None:
        positions = await _rank_against(session, reference, features)
    else:
        everyone = await load_population(session, as_of, timezone=timezone)
        assert everyone.positions is not None
        index = {customer_id: i for i, customer_id in enumerate(everyone.customer_ids)}
        take = np.array([index[c] for c in features.customer_ids], dtype=np.int64)
        p = everyone.positions
        positions = RfmPositions(
            p.r[take], p.f[take], p.m[take], p.r_pct[take], p.f_pct[take],
            p.m_pct[take],
        )  # fmt: skip
    features = dataclasses.replace(features, positions=positions)
    assigned = assign_segments(
        positions,
        features.tenure_days,
        features.has_purchases,
        new_customer_days=new_customer_days,
    )
    return Placed(features, assigned.segment_ids, assigned.confidence)


async def recalculate_customers(
    session: AsyncSession,
    customer_ids: list[str],
    as_of: datetime,
    *,
    timezone: str = "UTC",
    new_customer_days: int = DEFAULT_NEW_CUSTOMER_DAYS,
    triggered_by: str = "system",
) -> SegmentRun | None:
    """Place some customers now and store it as a run; None if none exist."""
    placed = await place_customers(
        session,
        customer_ids,
        as_of,
        timezone=timezone,
        new_customer_days=new_customer_days,
    )
    if placed.population.size == 0:
        return None
    run = SegmentRun(
        kind=RUN_RECALCULATION,
        as_of=as_of,
        computed_at=Clock.wall(),
        triggered_by=triggered_by,
        new_customer_days=new_customer_days,
        customer_count=placed.population.size,
    )
    session.add(run)
    await session.flush()
    run.migration_count = await store_run(
        session, run, placed, new_customer_days=new_customer_days
    )
    await session.flush()
    return run


def check_segment_id(field: str, segment_id: str) -> None:
    """A 400 naming the field and the valid ids, for an unknown segment."""
    if segment_id not in SEGMENTS_BY_ID:
        raise field_error(
            field,
            f"unknown segment {segment_id!r}; valid: {', '.join(SEGMENTS_BY_ID)}",
        )


async def migrate_manually(
    session: AsyncSession,
    *,
    customer_id: str,
    from_segment: str,
    to_segment: str,
    reason: str,
    impact_score: float | None,
    as_of: datetime,
    recorded_by: str,
    timezone: str = "UTC",
    new_customer_days: int = DEFAULT_NEW_CUSTOMER_DAYS,
) -> SegmentMigration:
    """Move a customer by hand; it lasts until the next full recomputation.

    The customer keeps the features of their current assignment (computed
    first if they have none); the new assignment has confidence 1, a staff
    decision rather than an estimate.
    """
    check_segment_id("body.fromSegment", from_segment)
    check_segment_id("body.toSegment", to_segment)
    if from_segment == to_segment:
        raise BadRequest(
            f"fromSegment and toSegment are both {from_segment!r}: not a migration",
            details=[{"field": "body.toSegment", "message": "equals fromSegment"}],
        )
    if await session.get(Customer, customer_id) is None:
        raise NotFound(f"Customer {customer_id} not found")

    source = await current_assignment_of(session, customer_id)
    if source is None:
        await recalculate_customers(
            session,
            [customer_id],
            as_of,
            timezone=timezone,
            new_customer_days=new_customer_days,
            triggered_by=recorded_by,
        )
        source = await current_assignment_of(session, customer_id)
        assert source is not None
    if source.segment_id != from_segment:
        raise Conflict(
            f"Customer {customer_id} is in {source.segment_id!r}, not {from_segment!r}"
        )

    effective = max(as_of, source.as_of)
    run = SegmentRun(
        kind=RUN_MANUAL,
        as_of=effective,
        computed_at=Clock.wall(),
        triggered_by=recorded_by,
        new_customer_days=new_customer_days,
        customer_count=1,
        migration_count=1,
    )
    session.add(run)
    await session.flush()
    copied = {
        column.key: getattr(source, column.key)
        for column in SegmentAssignment.__table__.columns
    }
    copied.update(
        run_id=run.id,
        segment_id=to_segment,
        confidence=1.0,
        as_of=effective,
        computed_at=run.computed_at,
    )
    session.add(SegmentAssignment(**copied))
    if impact_score is None:
        features = RfmFeatures(
            source.recency_days, source.order_count, source.total_spend,
            source.tenure_days, source.r, source.f, source.m,
        )  # fmt: skip
        _, impact_score = describe_migration(
            from_segment, to_segment, features, features
        )
    migration = SegmentMigration(
        customer_id=customer_id,
        run_id=run.id,
        from_segment_id=from_segment,
        to_segment_id=to_segment,
        reason=reason,
        impact_score=round(impact_score, 4),
        as_of=effective,
        recorded_at=run.computed_at,
        manual=True,
        recorded_by=recorded_by,
    )
    session.add(migration)
    await session.flush()
    log.info(
        "segment.migrated",
        customer_id=customer_id,
        from_=from_segment,
        to=to_segment,
        manual=True,
    )
    return migration


async def forget_customer(session: AsyncSession, customer_id: str) -> int:
    """Delete a customer's assignments (which carry no foreign key); their
    migrations go with the customer row through its cascade. Returns the
    number of assignments deleted."""
    result = await session.execute(
        delete(SegmentAssignment).where(SegmentAssignment.customer_id == customer_id)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
