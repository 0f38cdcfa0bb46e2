"""Answers about segments: the overview, performance, popular products.

Every figure is one SQL aggregation over the current assignments (see
:mod:`omnix.segments.current`), the per-run totals, the migrations or the
purchase lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.catalogue.models import Product
from omnix.customers.models import Customer, PurchaseLine
from omnix.engine.segments_catalogue import SEGMENTS, Segment, get_segment
from omnix.segments import schemas
from omnix.segments.current import current_table
from omnix.segments.models import (
    RUN_RECOMPUTE,
    SegmentAssignment,
    SegmentMigration,
    SegmentRun,
    SegmentRunTotal,
)
from omnix.segments.views import characteristics_dto

LOW_CONFIDENCE = 0.2
TREND_POINTS = 12
TOP_FLOWS = 3


def strategy_dto(segment: Segment) -> schemas.SegmentRecommendationStrategy:
    s = segment.strategy
    return schemas.SegmentRecommendationStrategy(
        goal=s.goal,
        channels=list(s.channels),
        offers=list(s.offers),
        messaging=s.messaging,
        contact_frequency=s.contact_frequency,
        actions=list(s.actions),
        success_metrics=list(s.success_metrics),
    )


def criteria_dto(segment: Segment, new_customer_days: int) -> schemas.SegmentCriteria:
    def score_range(r: Any) -> schemas.ScoreRangeDto:
        return schemas.ScoreRangeDto(min=r.low, max=r.high)

    c = segment.criteria
    return schemas.SegmentCriteria(
        summary=c.summary,
        priority=c.priority,
        rfm_boxes=[
            schemas.RfmBoxDto(
                recency=score_range(box.recency),
                frequency=score_range(box.frequency),
                monetary=score_range(box.monetary),
            )
            for box in c.rfm_boxes
        ],
        by_tenure=c.by_tenure,
        new_customer_days=new_customer_days,
    )


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


async def overview(
    session: AsyncSession, *, now: datetime, new_customer_days: int
) -> schemas.SegmentOverview:
    """Every segment with its current population, plus system statistics."""
    c = current_table().c
    per_segment = select(
        c.segment_id,
        func.count(),
        func.sum(c.order_count),
        func.sum(c.total_spend),
        func.sum(c.tenure_days + 1),
        func.sum(c.confidence),
        func.sum(case((c.confidence < LOW_CONFIDENCE, 1), else_=0)),
        func.sum(case((c.has_purchases.is_(False), 1), else_=0)),
    ).group_by(c.segment_id)
    sums = {row[0]: row[1:] for row in (await session.execute(per_segment)).all()}
    segmented = sum(values[0] for values in sums.values())
    first_at, last_at = (
        await session.execute(
            select(func.min(SegmentRun.computed_at), func.max(SegmentRun.computed_at))
        )
    ).one()
    recomputes = await session.scalar(
        select(func.count()).where(SegmentRun.kind == RUN_RECOMPUTE)
    )
    latest = await session.scalar(
        select(SegmentRun)
        .where(SegmentRun.kind == RUN_RECOMPUTE)
        .order_by(SegmentRun.as_of.desc(), SegmentRun.id.desc())
        .limit(1)
    )

    segments = []
    for segment in SEGMENTS:
        count, orders, spend, tenure, confidence, _low, _none = sums.get(
            segment.segment_id, (0, 0, 0.0, 0, 0.0, 0, 0)
        )
        segments.append(
            schemas.CustomerSegment(
                segment_id=segment.segment_id,
                segment_name=segment.name,
                description=segment.description,
                criteria=criteria_dto(segment, new_customer_days),
                customer_count=count,
                share_of_customers=round(_ratio(count, segmented), 4),
                average_order_value=round(_ratio(float(spend or 0), orders or 0), 2),
                average_purchase_frequency=round(
                    _ratio(30.0 * (orders or 0), tenure or 0), 3
                ),
                average_confidence=round(_ratio(float(confidence or 0), count), 4),
                characteristics=characteristics_dto(segment),
                recommendations=strategy_dto(segment),
                value_rank=segment.value_rank,
                created_at=first_at,
                updated_at=last_at,
            )
        )

    since = now - timedelta(days=30)
    moves = (
        await session.execute(
            select(
                func.count(), func.sum(case((SegmentMigration.manual, 1), else_=0))
            ).where(SegmentMigration.as_of > since, SegmentMigration.as_of <= now)
        )
    ).one()
    total_customers = await session.scalar(select(func.count()).select_from(Customer))
    statistics = schemas.SegmentationStatistics(
        total_customers=total_customers or 0,
        segmented_customers=segmented,
        customers_without_purchases=sum(v[6] or 0 for v in sums.values()),
        average_confidence=round(
            _ratio(sum(float(v[4] or 0) for v in sums.values()), segmented), 4
        ),
        low_confidence_share=round(
            _ratio(sum(v[5] or 0 for v in sums.values()), segmented), 4
        ),
        last_computed_at=latest.computed_at if latest else None,
        last_as_of=latest.as_of if latest else None,
        recompute_count=recomputes or 0,
        migrations_last_30_days=moves[0] or 0,
        manual_migrations_last_30_days=moves[1] or 0,
        new_customer_days=new_customer_days,
    )
    return schemas.SegmentOverview(segments=segments, statistics=statistics)


def _in_window(start: datetime, end: datetime) -> Any:
    return and_(PurchaseLine.purchased_at > start, PurchaseLine.purchased_at <= end)


async def _members(session: AsyncSession, segment_id: str) -> Any:
    """Ids of the customers currently in the segment, as a subquery."""
    c = current_table().c
    return select(c.customer_id).where(c.segment_id == segment_id)


async def _period_sales(
    session: AsyncSession, start: datetime, end: datetime, segment_id: str | None
) -> tuple[int, float, int]:
    """(orders, revenue, active customers) in the window, for a segment or all."""
    orders = select(
        PurchaseLine.customer_id,
        PurchaseLine.order_id,
        func.sum(PurchaseLine.quantity * PurchaseLine.price).label("value"),
    ).where(_in_window(start, end))
    if segment_id is not None:
        members = await _members(session, segment_id)
        orders = orders.where(PurchaseLine.customer_id.in_(members))
    basket = orders.group_by(PurchaseLine.customer_id, PurchaseLine.order_id).subquery()
    row = (
        await session.execute(
            select(
                func.count(),
                func.sum(basket.c.value),
                func.count(distinct(basket.c.customer_id)),
            )
        )
    ).one()
    return int(row[0] or 0), float(row[1] or 0.0), int(row[2] or 0)


async def _flows(
    session: AsyncSession, segment_id: str, start: datetime, end: datetime
) -> tuple[list[schemas.SegmentFlow], list[schemas.SegmentFlow]]:
    m = SegmentMigration
    window = and_(m.as_of > start, m.as_of <= end)

    async def count_by(column: Any, where: Any) -> list[schemas.SegmentFlow]:
        query = (
            select(column, func.count().label("n"))
            .where(window, where)
            .group_by(column)
            .order_by(func.count().desc(), column)
        )
        return [
            schemas.SegmentFlow(segment_id=row[0], count=row[1])
            for row in (await session.execute(query)).all()
        ]

    sources = await count_by(m.from_segment_id, m.to_segment_id == segment_id)
    destinations = await count_by(m.to_segment_id, m.from_segment_id == segment_id)
    return sources, destinations


async def _retention(
    session: AsyncSession, segment_id: str, start: datetime
) -> tuple[float | None, int]:
    reference = await session.scalar(
        select(SegmentRun.id)
        .where(SegmentRun.kind == RUN_RECOMPUTE, SegmentRun.as_of <= start)
        .order_by(SegmentRun.as_of.desc(), SegmentRun.id.desc())
        .limit(1)
    )
    if reference is None:
        return None, 0
    a, current = SegmentAssignment, current_table()
    c = current.c
    row = (
        await session.execute(
            select(
                func.count(),
                func.sum(case((c.segment_id == segment_id, 1), else_=0)),
            )
            .select_from(a)
            .outerjoin(current, c.customer_id == a.customer_id)
            .where(a.run_id == reference, a.segment_id == segment_id)
        )
    ).one()
    base = int(row[0] or 0)
    return (round(int(row[1] or 0) / base, 4) if base else None), base


async def _trend(
    session: AsyncSession, segment_id: str
) -> list[schemas.SegmentTrendPoint]:
    runs = (
        select(SegmentRun)
        .where(SegmentRun.kind == RUN_RECOMPUTE)
        .order_by(SegmentRun.as_of.desc(), SegmentRun.id.desc())
        .limit(TREND_POINTS)
        .subquery()
    )
    t = SegmentRunTotal
    query = (
        select(runs.c.as_of, runs.c.computed_at, runs.c.customer_count, t)
        .select_from(runs)
        .outerjoin(t, and_(t.run_id == runs.c.id, t.segment_id == segment_id))
        .order_by(runs.c.as_of, runs.c.id)
    )
    points = []
    for as_of, computed_at, population, total in (await session.execute(query)).all():
        count = total.customer_count if total else 0
        points.append(
            schemas.SegmentTrendPoint(
                as_of=as_of,
                computed_at=computed_at,
                customer_count=count,
                share_of_customers=round(_ratio(count, population), 4),
                average_order_value=round(
                    _ratio(total.total_spend, total.order_count) if total else 0.0, 2
                ),
                average_confidence=round(
                    _ratio(total.confidence_sum, count) if total else 0.0, 4
                ),
            )
        )
    return points


async def performance(
    session: AsyncSession, segment_id: str, *, now: datetime, period_days: int
) -> schemas.SegmentPerformanceMetrics:
    """How the segment's current customers shop, and how the segment moves."""
    segment = get_segment(segment_id)
    start = now - timedelta(days=period_days)
    current = current_table()
    c = current.c
    count, confidence = (
        await session.execute(
            select(func.count(), func.sum(c.confidence)).where(
                c.segment_id == segment_id
            )
        )
    ).one()
    segmented = await session.scalar(select(func.count()).select_from(current)) or 0
    orders, revenue, active = await _period_sales(session, start, now, segment_id)
    _, all_revenue, _ = await _period_sales(session, start, now, None)
    retention, base = await _retention(session, segment_id, start)
    sources, destinations = await _flows(session, segment_id, start, now)
    moved_in = sum(flow.count for flow in sources)
    moved_out = sum(flow.count for flow in destinations)
    return schemas.SegmentPerformanceMetrics(
        segment_id=segment_id,
        segment_name=segment.name,
        period=schemas.Period(start=start, end=now, days=period_days),
        customer_count=count,
        share_of_customers=round(_ratio(count, segmented), 4),
        average_confidence=round(_ratio(float(confidence or 0), count), 4),
        revenue=round(revenue, 2),
        revenue_share=round(_ratio(revenue, all_revenue), 4),
        order_count=orders,
        average_order_value=round(_ratio(revenue, orders), 2),
        purchase_frequency=round(_ratio(orders, count), 3),
        active_customer_share=round(_ratio(active, count), 4),
        retention_rate=retention,
        retention_base=base,
        migrations_in=moved_in,
        migrations_out=moved_out,
        net_migration=moved_in - moved_out,
        top_sources=sources[:TOP_FLOWS],
        top_destinations=destinations[:TOP_FLOWS],
        trend=await _trend(session, segment_id),
    )


@dataclass(frozen=True)
class PopularProduct:
    product: Product
    buyers: int
    group_size: int
    source: str


async def _popular(
    session: AsyncSession,
    segment_id: str | None,
    start: datetime,
    end: datetime,
    limit: int,
    exclude: Sequence[str],
) -> list[tuple[str, int]]:
    buyers = func.count(distinct(PurchaseLine.customer_id))
    query = (
        select(PurchaseLine.product_id, buyers)
        .join(Product, Product.id == PurchaseLine.product_id)
        .where(_in_window(start, end), Product.active.is_(True))
        .group_by(PurchaseLine.product_id)
        .order_by(buyers.desc(), PurchaseLine.product_id)
        .limit(limit + len(exclude))
    )
    if segment_id is not None:
        members = await _members(session, segment_id)
        query = query.where(PurchaseLine.customer_id.in_(members))
    rows = (await session.execute(query)).all()
    return [(row[0], row[1]) for row in rows if row[0] not in exclude][:limit]


async def popular_products(
    session: AsyncSession,
    segment_id: str,
    *,
    now: datetime,
    window_days: int,
    limit: int,
) -> list[PopularProduct]:
    """Products bought by the most customers of the segment in the window.

    When the segment bought fewer than ``limit`` products in the window (Lost
    customers, by definition, bought little lately), the list is completed
    with what all customers bought most.
    """
    start = now - timedelta(days=window_days)
    members = (
        await session.scalar(
            select(func.count()).select_from(
                (await _members(session, segment_id)).subquery()
            )
        )
        or 0
    )
    ranked = [
        (product_id, count, members, "segment")
        for product_id, count in await _popular(
            session, segment_id, start, now, limit, ()
        )
    ]
    if len(ranked) < limit:
        active = await session.scalar(
            select(func.count(distinct(PurchaseLine.customer_id))).where(
                _in_window(start, now)
            )
        )
        ranked += [
            (product_id, count, active or 0, "all_customers")
            for product_id, count in await _popular(
                session, None, start, now, limit - len(ranked), [r[0] for r in ranked]
            )
        ]
    products = {
        product.id: product
        for product in await session.scalars(
            select(Product).where(Product.id.in_([r[0] for r in ranked]))
        )
    }
    return [
        PopularProduct(products[product_id], count, size, source)
        for product_id, count, size, source in ranked
    ]


async def bought_before(
    session: AsyncSession, customer_id: str, product_ids: Sequence[str], now: datetime
) -> set[str]:
    query = (
        select(PurchaseLine.product_id)
        .distinct()
        .where(
            PurchaseLine.customer_id == customer_id,
            PurchaseLine.product_id.in_(list(product_ids)),
            PurchaseLine.purchased_at <= now,
        )
    )
    return set((await session.scalars(query)).all())


def product_dto(
    item: PopularProduct, segment: Segment, window_days: int, kind: str | None
) -> schemas.SegmentProductRecommendation:
    share = _ratio(item.buyers, item.group_size)
    group = segment.name if item.source == "segment" else "all customers"
    return schemas.SegmentProductRecommendation(
        product_id=item.product.id,
        product_name=item.product.name,
        category=item.product.category,
        department=item.product.department,
        brand=item.product.brand,
        buyers=item.buyers,
        segment_penetration=round(share, 4),
        kind=kind,
        source=item.source,
        reason=f"Bought by {round(100 * share)}% of {group} in the last "
        f"{window_days} days.",
    )
