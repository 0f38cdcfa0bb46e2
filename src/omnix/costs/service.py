"""Cost analytics over the usage ledger, aggregated in the database.

Every figure is a SQL aggregate over ``analysis_usage`` in the window (a few
grouped queries, whatever the number of calls), joined with each customer's
current segment and compared with the customers' spend over as many days of
business time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.analysers.registry import AnalyserRegistry
from omnix.clock import Clock
from omnix.costs import schemas
from omnix.costs.models import AnalysisUsage
from omnix.customers.models import PurchaseLine
from omnix.customers.service import get_customer
from omnix.engine.segments_catalogue import SEGMENTS_BY_ID
from omnix.segments.models import CurrentSegment

MAX_DAYS = 365
MAX_TOP_CUSTOMERS = 100
TIME_RANGE_DAYS = {"day": 1, "week": 7, "month": 30}
UNSEGMENTED = "unsegmented"

U = AnalysisUsage


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _figure_columns() -> list[ColumnElement[Any]]:
    tokens = U.input_tokens + U.output_tokens + U.cached_tokens
    return [
        func.count().label("calls"),
        _count(U.success.is_(True)).label("successful_calls"),
        _count(U.success.is_(False)).label("failed_calls"),
        _count(U.fallback_for.is_not(None)).label("fallback_calls"),
        func.coalesce(func.sum(U.input_tokens), 0).label("input_tokens"),
        func.coalesce(func.sum(U.output_tokens), 0).label("output_tokens"),
        func.coalesce(func.sum(U.cached_tokens), 0).label("cached_tokens"),
        func.coalesce(func.sum(U.cost_usd), 0.0).label("total_cost"),
        func.count(U.cost_usd).label("priced_calls"),
        _count(U.unpriced.is_(True)).label("unpriced_calls"),
        func.coalesce(func.sum(case((U.unpriced.is_(True), tokens), else_=0)), 0).label(
            "unpriced_tokens"
        ),
        func.avg(U.latency_ms).label("average_latency_ms"),
    ]


def _figures(row: Any) -> dict[str, Any]:
    priced, cost = int(row.priced_calls), float(row.total_cost)
    tokens = int(row.input_tokens) + int(row.output_tokens) + int(row.cached_tokens)
    latency = row.average_latency_ms
    return {
        "calls": int(row.calls),
        "successful_calls": int(row.successful_calls),
        "failed_calls": int(row.failed_calls),
        "fallback_calls": int(row.fallback_calls),
        "input_tokens": int(row.input_tokens),
        "output_tokens": int(row.output_tokens),
        "cached_tokens": int(row.cached_tokens),
        "total_tokens": tokens,
        "total_cost": round(cost, 10),
        "priced_calls": priced,
        "unpriced_calls": int(row.unpriced_calls),
        "unpriced_tokens": int(row.unpriced_tokens),
        "cost_per_analysis": round(cost / priced, 10) if priced else None,
        "average_latency_ms": round(float(latency), 2) if latency is not None else None,
    }


def _windowed(query: Select[Any], start: datetime, end: datetime) -> Select[Any]:
    return query.where(U.created_at >= start, U.created_at <= end)


def _utc_day(dialect: str) -> ColumnElement[Any]:
    # SQLite keeps UTC timestamps as ISO text; PostgreSQL converts explicitly
    # so that the session's time zone cannot shift a call to another day.
    # Constants are inlined: a bound parameter would make the GROUP BY
    # expression differ from the selected one.
    if dialect == "postgresql":
        utc = func.timezone(literal_column("'UTC'"), U.created_at)
        return func.to_char(utc, literal_column("'YYYY-MM-DD'"))
    return func.date(U.created_at)


async def _spend(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    customer_ids: Sequence[str] | None,
) -> dict[str | None, float]:
    """Purchase value per customer (or in all, under None) in [start, end)."""
    value = func.coalesce(func.sum(PurchaseLine.quantity * PurchaseLine.price), 0.0)
    window = (PurchaseLine.purchased_at >= start, PurchaseLine.purchased_at < end)
    if customer_ids is None:
        total = await session.scalar(select(value).where(*window))
        return {None: float(total or 0.0)}
    rows = await session.execute(
        select(PurchaseLine.customer_id, value)
        .where(*window, PurchaseLine.customer_id.in_(list(customer_ids)))
        .group_by(PurchaseLine.customer_id)
    )
    return {customer_id: float(spend) for customer_id, spend in rows.tuples()}


def _ratio(cost: float, spend: float) -> float | None:
    # Not rounded: analysis costs are tiny next to a basket's value.
    return cost / spend if spend > 0 else None


async def cost_analytics(
    session: AsyncSession,
    registry: AnalyserRegistry,
    clock: Clock,
    *,
    days: int,
    customer_id: str | None = None,
    time_range: schemas.TimeRange | None = None,
) -> schemas.CostAnalytics:
    """Totals, breakdowns, spend and daily series for a customer or everyone."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}")
    if customer_id is not None:
        await get_customer(session, customer_id)
    end = clock.wall()
    start = end - timedelta(days=days)

    def scoped(*columns: Any) -> Select[Any]:
        query = _windowed(select(*columns), start, end)
        return (
            query if customer_id is None else query.where(U.customer_id == customer_id)
        )

    figures = _figure_columns()
    totals = (await session.execute(scoped(*figures))).one()
    by_model = await session.execute(
        scoped(U.analyser_id, *figures).group_by(U.analyser_id)
    )
    by_type = await session.execute(
        scoped(U.analysis_type, *figures).group_by(U.analysis_type)
    )
    by_segment = await session.execute(
        scoped(CurrentSegment.segment_id, *figures)
        .outerjoin(CurrentSegment, CurrentSegment.customer_id == U.customer_id)
        .group_by(CurrentSegment.segment_id)
    )
    dialect = session.get_bind().dialect.name
    day = _utc_day(dialect).label("day")
    daily = await session.execute(scoped(day, *figures).group_by(day))

    business_end = clock.now()
    spend = await _spend(
        session,
        business_end - timedelta(days=days),
        business_end,
        None if customer_id is None else [customer_id],
    )
    customer_spend = round(sum(spend.values()), 2)
    total_figures = _figures(totals)
    return schemas.CostAnalytics(
        scope="overview" if customer_id is None else "customer",
        customer_id=customer_id,
        time_range=time_range,
        days=days,
        period_start=start,
        period_end=end,
        totals=schemas.CostFigures(**total_figures),
        by_model=_breakdown(by_model.all(), lambda key: _model_name(registry, key)),
        by_analysis_type=_breakdown(by_type.all(), lambda key: None),
        by_segment=_breakdown(by_segment.all(), _segment_name),
        customer_spend=customer_spend,
        spend_period_start=business_end - timedelta(days=days),
        spend_period_end=business_end,
        cost_to_spend_ratio=_ratio(total_figures["total_cost"], customer_spend),
        time_series=_series(daily.all(), start.date(), end.date()),
    )


def _breakdown(rows: Sequence[Any], name_of: Any) -> list[schemas.CostBreakdown]:
    items = []
    for row in rows:
        key = UNSEGMENTED if row[0] is None else str(row[0])
        items.append(schemas.CostBreakdown(key=key, name=name_of(key), **_figures(row)))
    items.sort(key=lambda item: (-item.total_cost, -item.calls, item.key))
    return items


def _model_name(registry: AnalyserRegistry, analyser_id: str) -> str | None:
    analyser = registry.find(analyser_id)
    return analyser.name if analyser is not None else None


def _segment_name(segment_id: str) -> str | None:
    segment = SEGMENTS_BY_ID.get(segment_id)
    return segment.name if segment is not None else None


def _series(rows: Sequence[Any], first: date, last: date) -> list[schemas.DailyCost]:
    by_day = {str(row.day)[:10]: _figures(row) for row in rows}
    series = []
    day = first
    while day <= last:
        figures = by_day.get(day.isoformat())
        series.append(
            schemas.DailyCost(
                date=day,
                calls=figures["calls"] if figures else 0,
                failed_calls=figures["failed_calls"] if figures else 0,
                total_tokens=figures["total_tokens"] if figures else 0,
                total_cost=figures["total_cost"] if figures else 0.0,
                unpriced_calls=figures["unpriced_calls"] if figures else 0,
            )
        )
        day += timedelta(days=1)
    return series


async def top_customers(
    session: AsyncSession, clock: Clock, *, limit: int, days: int
) -> list[schemas.TopCustomerCost]:
    """The customers whose analyses cost most in the window, dearest first.

    Ties (and customers with only unpriced calls, whose known cost is 0) are
    ordered by unpriced calls, then by calls, then by id.
    """
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}")
    if not 1 <= limit <= MAX_TOP_CUSTOMERS:
        raise ValueError(f"limit must be between 1 and {MAX_TOP_CUSTOMERS}")
    end = clock.wall()
    start = end - timedelta(days=days)
    cost = func.coalesce(func.sum(U.cost_usd), 0.0)
    calls, unpriced = func.count(), _count(U.unpriced.is_(True))
    query = (
        _windowed(
            select(
                U.customer_id,
                CurrentSegment.segment_id,
                func.max(U.created_at).label("last_analysis_at"),
                *_figure_columns(),
            ),
            start,
            end,
        )
        .outerjoin(CurrentSegment, CurrentSegment.customer_id == U.customer_id)
        .group_by(U.customer_id, CurrentSegment.segment_id)
        .order_by(cost.desc(), unpriced.desc(), calls.desc(), U.customer_id)
        .limit(limit)
    )
    rows = (await session.execute(query)).all()
    business_end = clock.now()
    spend = await _spend(
        session,
        business_end - timedelta(days=days),
        business_end,
        [row.customer_id for row in rows],
    )
    result = []
    for row in rows:
        figures = _figures(row)
        customer_spend = round(spend.get(row.customer_id, 0.0), 2)
        result.append(
            schemas.TopCustomerCost(
                customer_id=row.customer_id,
                segment_id=row.segment_id,
                segment_name=_segment_name(row.segment_id) if row.segment_id else None,
                calls=figures["calls"],
                failed_calls=figures["failed_calls"],
                input_tokens=figures["input_tokens"],
                output_tokens=figures["output_tokens"],
                cached_tokens=figures["cached_tokens"],
                total_tokens=figures["total_tokens"],
                total_cost=figures["total_cost"],
                unpriced_calls=figures["unpriced_calls"],
                cost_per_analysis=figures["cost_per_analysis"],
                customer_spend=customer_spend,
                cost_to_spend_ratio=_ratio(figures["total_cost"], customer_spend),
                last_analysis_at=row.last_analysis_at,
            )
        )
    return result
