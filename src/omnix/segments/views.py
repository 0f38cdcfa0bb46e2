"""Answers about customers: assignments, history, analyses.

Turns stored rows (or an on-the-spot placement) into the DTOs of
:mod:`omnix.segments.schemas`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.engine.rfm import LEVELS, QUINTILE_WIDTH, cell_segment
from omnix.engine.segments_catalogue import Segment, get_segment
from omnix.segments import schemas
from omnix.segments.current import as_entity, current_table
from omnix.segments.models import (
    SegmentAssignment,
    SegmentMigration,
    SegmentRun,
)
from omnix.segments.storage import Placed

# (r, f, m) -> segment id for all 125 cells, for the nearest-segment search.
CELLS: tuple[tuple[tuple[int, int, int], str], ...] = tuple(
    ((r, f, m), cell_segment(r, f, m))
    for r in range(1, LEVELS + 1)
    for f in range(1, LEVELS + 1)
    for m in range(1, LEVELS + 1)
)


@dataclass(frozen=True)
class AssignmentRow:
    """An assignment with what the DTO needs from its run and migration."""

    assignment: SegmentAssignment
    kind: str
    previous_segment_id: str | None
    migration_reason: str | None


def features_dto(source: Any) -> schemas.CustomerFeatures:
    """From anything with the assignment's feature attributes."""
    scores = (source.r, source.f, source.m)
    orders = int(source.order_count)
    spend = float(source.total_spend)
    return schemas.CustomerFeatures(
        has_purchases=bool(source.has_purchases),
        recency_days=source.recency_days,
        frequency=orders,
        monetary=round(spend, 2),
        tenure_days=int(source.tenure_days),
        average_order_value=round(spend / orders, 2) if orders else None,
        first_purchase_at=source.first_purchase_at,
        last_purchase_at=source.last_purchase_at,
        recency_score=source.r,
        frequency_score=source.f,
        monetary_score=source.m,
        rfm_score="".join(map(str, scores)) if None not in scores else None,
        recency_percentile=_rounded(source.r_pct),
        frequency_percentile=_rounded(source.f_pct),
        monetary_percentile=_rounded(source.m_pct),
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def assignment_dto(row: AssignmentRow) -> schemas.CustomerSegmentAssignment:
    a = row.assignment
    return schemas.CustomerSegmentAssignment(
        customer_id=a.customer_id,
        segment_id=a.segment_id,
        segment_name=get_segment(a.segment_id).name,
        assigned_at=a.computed_at,
        computed_at=a.computed_at,
        as_of=a.as_of,
        confidence=round(a.confidence, 4),
        previous_segment_id=row.previous_segment_id,
        migration_reason=row.migration_reason,
        source=row.kind,
        features=features_dto(a),
    )


def placed_rows(
    placed: Placed, as_of: datetime, computed_at: datetime
) -> list[AssignmentRow]:
    """Unsaved assignments of an on-the-spot placement."""
    p = placed.population
    positions = p.positions
    assert positions is not None
    rows = []
    for i, customer_id in enumerate(p.customer_ids):
        bought = bool(p.has_purchases[i])

        def scored(values: Any, i: int = i, bought: bool = bought) -> Any:
            return values[i].item() if bought else None

        rows.append(
            AssignmentRow(
                SegmentAssignment(
                    run_id=0,
                    customer_id=customer_id,
                    segment_id=str(placed.segment_ids[i]),
                    confidence=float(placed.confidence[i]),
                    as_of=as_of,
                    computed_at=computed_at,
                    has_purchases=bought,
                    recency_days=scored(p.recency_days),
                    order_count=int(p.order_count[i]),
                    total_spend=float(p.total_spend[i]),
                    tenure_days=int(p.tenure_days[i]),
                    first_purchase_at=p.first_purchase_at[i],
                    last_purchase_at=p.last_purchase_at[i],
                    r=scored(positions.r),
                    f=scored(positions.f),
                    m=scored(positions.m),
                    r_pct=scored(positions.r_pct),
                    f_pct=scored(positions.f_pct),
                    m_pct=scored(positions.m_pct),
                ),
                "on_demand",
                None,
                None,
            )
        )
    return rows


def _assignment_query(entity: Any = SegmentAssignment) -> Any:
    return (
        select(
            entity,
            SegmentRun.kind,
            SegmentMigration.from_segment_id,
            SegmentMigration.reason,
        )
        .join(SegmentRun, SegmentRun.id == entity.run_id)
        .outerjoin(
            SegmentMigration,
            (SegmentMigration.run_id == entity.run_id)
            & (SegmentMigration.customer_id == entity.customer_id),
        )
        .execution_options(populate_existing=True)
    )


async def current_rows(
    session: AsyncSession, customer_ids: Sequence[str]
) -> dict[str, AssignmentRow]:
    """Each customer's current stored assignment, by customer id."""
    entity = as_entity(current_table())
    query = _assignment_query(entity).where(entity.customer_id.in_(list(customer_ids)))
    rows = (await session.execute(query)).all()
    return {row[0].customer_id: AssignmentRow(*row) for row in rows}


async def history_rows(
    session: AsyncSession, customer_id: str, limit: int
) -> list[AssignmentRow]:
    """A customer's assignments, newest business time first."""
    query = (
        _assignment_query()
        .where(SegmentAssignment.customer_id == customer_id)
        .order_by(SegmentAssignment.as_of.desc(), SegmentAssignment.run_id.desc())
        .limit(limit)
    )
    return [AssignmentRow(*row) for row in (await session.execute(query)).all()]


async def segment_since(
    session: AsyncSession, customer_id: str, segment_id: str
) -> datetime | None:
    """Business time of the first assignment of the current, unbroken stay."""
    a = SegmentAssignment
    query = (
        select(a.segment_id, a.as_of)
        .where(a.customer_id == customer_id)
        .order_by(a.as_of.desc(), a.run_id.desc())
    )
    since = None
    for held, as_of in (await session.execute(query)).all():
        if held != segment_id:
            break
        since = as_of
    return since


def current_segment_dto(
    rows: list[AssignmentRow], since: datetime | None
) -> schemas.CurrentSegmentResponse:
    """``rows[0]`` is the current assignment; the rest is history."""
    assignments = [assignment_dto(row) for row in rows]
    head = assignments[0]
    return schemas.CurrentSegmentResponse(
        customer_id=head.customer_id,
        segment_id=head.segment_id,
        segment_name=head.segment_name,
        assigned_at=head.assigned_at,
        confidence=head.confidence,
        as_of=head.as_of,
        segment_since=since,
        features=head.features,
        assignments=assignments,
    )


def _box_distance(point: tuple[float, float, float], cell: tuple[int, ...]) -> float:
    squared = 0.0
    for p, score in zip(point, cell, strict=True):
        low, high = (score - 1) * QUINTILE_WIDTH, score * QUINTILE_WIDTH
        gap = max(low - p, p - high, 0.0)
        squared += gap * gap
    return math.sqrt(squared) / QUINTILE_WIDTH


def nearest_other_segment(
    point: tuple[float, float, float], segment_id: str
) -> tuple[str, float]:
    """The closest cell of another segment, and its distance in quintiles.

    The same geometry as :func:`omnix.engine.rfm.rfm_confidence`, uncapped.
    """
    distance, nearest = min(
        (_box_distance(point, cell), other)
        for cell, other in CELLS
        if other != segment_id
    )
    return nearest, round(distance, 4)


def characteristics_dto(segment: Segment) -> schemas.SegmentCharacteristics:
    c = segment.characteristics
    return schemas.SegmentCharacteristics(
        value_level=c.value_level,
        engagement=c.engagement,
        churn_risk=c.churn_risk,
        behaviour=list(c.behaviour),
    )


def _share(percentile: float) -> str:
    return f"{round(100 * percentile)}%"


def analysis_dto(
    a: SegmentAssignment, new_customer_days: int
) -> schemas.SegmentAnalysis:
    """Why the customer is where they are, in the store's words."""
    segment = get_segment(a.segment_id)
    scores: list[schemas.ScoreExplanation] = []
    nearest: tuple[str | None, float | None] = (None, None)
    if a.r is not None and a.f is not None and a.m is not None:
        r_pct, f_pct, m_pct = (float(x or 0.0) for x in (a.r_pct, a.f_pct, a.m_pct))
        scores = [
            schemas.ScoreExplanation(
                axis="recency", score=a.r, percentile=round(r_pct, 4),
                value=float(a.recency_days or 0),
                text=f"Last order {a.recency_days} days ago: more recent than "
                f"{_share(r_pct)} of customers (R {a.r}).",
            ),
            schemas.ScoreExplanation(
                axis="frequency", score=a.f, percentile=round(f_pct, 4),
                value=float(a.order_count),
                text=f"{a.order_count} orders: more than {_share(f_pct)} of "
                f"customers (F {a.f}).",
            ),
            schemas.ScoreExplanation(
                axis="monetary", score=a.m, percentile=round(m_pct, 4),
                value=round(a.total_spend, 2),
                text=f"Spent {a.total_spend:,.2f}: more than {_share(m_pct)} of "
                f"customers (M {a.m}).",
            ),
        ]  # fmt: skip
    if a.segment_id == "new_customers":
        start = "first purchase" if a.has_purchases else "account opened"
        summary = (
            f"New Customer: {start} {a.tenure_days} days ago, within the "
            f"{new_customer_days}-day new-customer window."
        )
    elif not a.has_purchases:
        summary = f"Lost: no purchase in {a.tenure_days} days since the account opened."
    else:
        summary = f"{segment.name} (RFM {a.r}{a.f}{a.m}): {segment.description}"
        nearest = nearest_other_segment(
            (float(a.r_pct or 0), float(a.f_pct or 0), float(a.m_pct or 0)),
            a.segment_id,
        )
    return schemas.SegmentAnalysis(
        customer_id=a.customer_id,
        segment_id=a.segment_id,
        summary=summary,
        scores=scores,
        nearest_other_segment_id=nearest[0],
        distance_in_quintiles=nearest[1],
        description=segment.description,
        characteristics=characteristics_dto(segment),
    )


async def migration_records(
    session: AsyncSession, customer_id: str, limit: int
) -> list[schemas.SegmentMigrationRecord]:
    query = (
        select(SegmentMigration)
        .where(SegmentMigration.customer_id == customer_id)
        .order_by(SegmentMigration.as_of.desc(), SegmentMigration.id.desc())
        .limit(limit)
    )
    return [
        schemas.SegmentMigrationRecord(
            customer_id=m.customer_id,
            from_segment_id=m.from_segment_id,
            to_segment_id=m.to_segment_id,
            reason=m.reason,
            impact_score=m.impact_score,
            as_of=m.as_of,
            recorded_at=m.recorded_at,
            manual=m.manual,
        )
        for m in (await session.scalars(query)).all()
    ]
