"""The customer-facing answers: segment one or many customers, the current
segment with its history, and segment-based product recommendations."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.clock import Clock
from omnix.context import AppContext
from omnix.customers.models import Customer
from omnix.engine.segments_catalogue import get_segment
from omnix.errors import NotFound
from omnix.segments import reports, schemas, service, views
from omnix.segments.config import segment_settings

HISTORY_LIMIT = 10
RECOMMENDATION_LIMIT = 10


@dataclass(frozen=True)
class Policy:
    """What every computation of a process shares."""

    timezone: str
    new_customer_days: int
    window_days: int

    @classmethod
    def of(cls, context: AppContext) -> Policy:
        settings = segment_settings(context)
        return cls(
            timezone=context.settings.timezone,
            new_customer_days=settings.new_customer_days,
            window_days=settings.recommendation_window_days,
        )


async def ensure_customer(session: AsyncSession, customer_id: str) -> None:
    if await session.get(Customer, customer_id) is None:
        raise NotFound(f"Customer {customer_id} not found")


async def segment_customers(
    session: AsyncSession,
    customer_ids: list[str],
    options: schemas.SegmentationOptions,
    *,
    now: datetime,
    policy: Policy,
    triggered_by: str,
) -> schemas.SegmentationResponse:
    """Stored assignments, computed and stored first when forced or missing."""
    requested = list(dict.fromkeys(customer_ids))
    existing = set(
        (
            await session.scalars(select(Customer.id).where(Customer.id.in_(requested)))
        ).all()
    )
    known = [customer_id for customer_id in requested if customer_id in existing]
    rows: dict[str, views.AssignmentRow] = {}
    if known:
        stale = known
        if not options.force_recalculation:
            rows = await views.current_rows(session, known)
            stale = [customer_id for customer_id in known if customer_id not in rows]
        if stale:
            await service.recalculate_customers(
                session,
                stale,
                now,
                timezone=policy.timezone,
                new_customer_days=policy.new_customer_days,
                triggered_by=triggered_by,
            )
            rows = await views.current_rows(session, known)

    ordered = [rows[customer_id] for customer_id in known]
    response = schemas.SegmentationResponse(
        analysis_depth=options.analysis_depth,
        assignments=[views.assignment_dto(row) for row in ordered],
        not_found=[c for c in requested if c not in existing],
        segment_counts=dict(Counter(row.assignment.segment_id for row in ordered)),
    )
    if options.analysis_depth != "basic":
        response.analyses = [
            await _analysis(session, row, options.analysis_depth, policy)
            for row in ordered
        ]
    if options.include_recommendations:
        single = known[0] if len(known) == 1 else None
        response.recommendations = [
            await _recommendation_set(session, segment_id, single, now, policy)
            for segment_id in dict.fromkeys(r.assignment.segment_id for r in ordered)
        ]
    return response


async def _analysis(
    session: AsyncSession,
    row: views.AssignmentRow,
    depth: schemas.AnalysisDepth,
    policy: Policy,
) -> schemas.SegmentAnalysis:
    analysis = views.analysis_dto(row.assignment, policy.new_customer_days)
    if depth == "comprehensive":
        customer_id = row.assignment.customer_id
        history = await views.history_rows(session, customer_id, HISTORY_LIMIT + 1)
        analysis.history = [
            views.assignment_dto(past)
            for past in history
            if past.assignment.run_id != row.assignment.run_id
        ][:HISTORY_LIMIT]
        analysis.migrations = await views.migration_records(
            session, customer_id, HISTORY_LIMIT
        )
    return analysis


async def _recommendation_set(
    session: AsyncSession,
    segment_id: str,
    customer_id: str | None,
    now: datetime,
    policy: Policy,
) -> schemas.SegmentRecommendationSet:
    segment = get_segment(segment_id)
    return schemas.SegmentRecommendationSet(
        segment_id=segment_id,
        strategy=reports.strategy_dto(segment),
        products=await _products(
            session, segment_id, customer_id, now, policy, RECOMMENDATION_LIMIT
        ),
    )


async def _products(
    session: AsyncSession,
    segment_id: str,
    customer_id: str | None,
    now: datetime,
    policy: Policy,
    limit: int,
) -> list[schemas.SegmentProductRecommendation]:
    items = await reports.popular_products(
        session, segment_id, now=now, window_days=policy.window_days, limit=limit
    )
    bought: set[str] = set()
    if customer_id is not None:
        bought = await reports.bought_before(
            session, customer_id, [item.product.id for item in items], now
        )
    segment = get_segment(segment_id)
    return [
        reports.product_dto(
            item,
            segment,
            policy.window_days,
            None
            if customer_id is None
            else ("repurchase" if item.product.id in bought else "discovery"),
        )
        for item in items
    ]


async def _current_or_placed(
    session: AsyncSession, customer_id: str, now: datetime, policy: Policy
) -> tuple[list[views.AssignmentRow], datetime | None]:
    """The stored history, or an unsaved on-the-spot assignment without one."""
    await ensure_customer(session, customer_id)
    current = (await views.current_rows(session, [customer_id])).get(customer_id)
    if current is not None:
        history = await views.history_rows(session, customer_id, HISTORY_LIMIT)
        earlier = [
            row for row in history if row.assignment.run_id != current.assignment.run_id
        ]
        since = await views.segment_since(
            session, customer_id, current.assignment.segment_id
        )
        return [current, *earlier][:HISTORY_LIMIT], since
    placed = await service.place_customers(
        session,
        [customer_id],
        now,
        timezone=policy.timezone,
        new_customer_days=policy.new_customer_days,
    )
    return views.placed_rows(placed, now, Clock.wall()), None


async def current_segment(
    session: AsyncSession, customer_id: str, *, now: datetime, policy: Policy
) -> schemas.CurrentSegmentResponse:
    """The current assignment first, then up to nine earlier ones."""
    rows, since = await _current_or_placed(session, customer_id, now, policy)
    return views.current_segment_dto(rows, since)


async def segment_recommendations(
    session: AsyncSession,
    customer_id: str,
    *,
    now: datetime,
    policy: Policy,
    include_strategy: bool,
    limit: int,
) -> schemas.SegmentRecommendationsResponse:
    """Popular products of the customer's segment, marked for this customer."""
    rows, _ = await _current_or_placed(session, customer_id, now, policy)
    segment = get_segment(rows[0].assignment.segment_id)
    return schemas.SegmentRecommendationsResponse(
        customer_id=customer_id,
        segment=segment.segment_id,
        segment_name=segment.name,
        window_days=policy.window_days,
        recommendations=await _products(
            session, segment.segment_id, customer_id, now, policy, limit
        ),
        strategy=reports.strategy_dto(segment) if include_strategy else None,
    )
