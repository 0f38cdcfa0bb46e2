"""Revenue of all households per day, week or month, against a target.

The database sums the lines: orders first (their value and the instant of
their first line), then orders per store-local day, so one row per day leaves
it whatever the number of lines. Days are then gathered into weeks (starting
on Monday) or calendar months here; an order belongs wholly to the day it
started, so an order's lines are never split between two periods and the
order counts add up.

A period's target is the one a manager set for it (``revenue_targets``);
without one it is derived from the revenue of the comparable periods just
before it (``TRAILING``: the same weekday of the four weeks before for a day,
the four weeks before for a week, the three months before for a month), their
mean raised by ``OMNIX_REVENUE_GROWTH_GOAL``. A derived target needs all of
those periods to lie after the store's first sale, with the period of the
first sale itself left out when the store opened part-way through it (a
partial period would pull the mean down); otherwise it is null.

Store-local days follow :class:`omnix.segments.features.local_day`: exact on
PostgreSQL; on SQLite the zone's offset at the clock applies to every line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, String, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.analytics.models import RevenueTarget
from omnix.customers.models import PurchaseLine
from omnix.db.base import UtcDateTime
from omnix.db.session import dialect_name
from omnix.errors import NotFound, field_error
from omnix.segments.features import EPOCH, local_day, snapshot_parameters

Granularity = Literal["day", "week", "month"]
TargetSource = Literal["set", "trailing_mean"]

DEFAULT_PERIODS: dict[str, int] = {"day": 90, "week": 52, "month": 24}
MAX_PERIODS = 1000
# Comparable periods behind a derived target: how many, and how far back
# each one lies (in periods of the series).
TRAILING: dict[str, tuple[int, int]] = {"day": (4, 7), "week": (4, 1), "month": (3, 1)}
MAX_TARGET = 1e12


@dataclass(frozen=True)
class RevenuePeriod:
    period_start: date
    period_end: date  # exclusive
    revenue: float
    orders: int
    complete: bool
    target: float | None
    target_source: TargetSource | None


def period_start(day: date, granularity: str) -> date:
    """The first day of the period holding ``day``."""
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def shift(start: date, granularity: str, periods: int) -> date:
    """The start of the period ``periods`` after (or before) ``start``."""
    if granularity == "day":
        return start + timedelta(days=periods)
    if granularity == "week":
        return start + timedelta(weeks=periods)
    months = start.year * 12 + start.month - 1 + periods
    return date(months // 12, months % 12 + 1, 1)


async def daily_sales(
    session: AsyncSession, before: datetime, timezone: str
) -> dict[date, tuple[float, int]]:
    """Revenue and orders per store-local day, for orders started before
    ``before``; days without orders are absent."""
    values = snapshot_parameters(before, timezone)
    value = func.sum(PurchaseLine.quantity * PurchaseLine.price)
    orders = (
        select(
            func.min(PurchaseLine.purchased_at).label("started_at"),
            value.label("value"),
        )
        .where(
            PurchaseLine.purchased_at < bindparam("before", before, type_=UtcDateTime())
        )
        .group_by(PurchaseLine.customer_id, PurchaseLine.order_id)
        .subquery("orders")
    )
    day = local_day(
        orders.c.started_at,
        bindparam("zone_name", timezone, type_=String),
        bindparam("zone_offset", values["zone_offset"], type_=Integer),
    ).label("day")
    rows = await session.execute(
        select(day, func.sum(orders.c.value), func.count()).group_by(day)
    )
    return {
        EPOCH + timedelta(days=int(number)): (float(revenue or 0.0), int(count))
        for number, revenue, count in rows.tuples()
    }


async def set_targets(
    session: AsyncSession, granularity: str, first: date, last: date
) -> dict[date, float]:
    rows = await session.execute(
        select(RevenueTarget.period_start, RevenueTarget.amount).where(
            RevenueTarget.granularity == granularity,
            RevenueTarget.period_start >= first,
            RevenueTarget.period_start <= last,
        )
    )
    return dict(rows.tuples().all())


def _per_period(
    days: dict[date, tuple[float, int]], granularity: str
) -> dict[date, tuple[float, int]]:
    totals: dict[date, tuple[float, int]] = {}
    for day, (revenue, orders) in days.items():
        start = period_start(day, granularity)
        had_revenue, had_orders = totals.get(start, (0.0, 0))
        totals[start] = (had_revenue + revenue, had_orders + orders)
    return totals


def _trailing_target(
    start: date,
    granularity: str,
    totals: dict[date, tuple[float, int]],
    first_full: date,
    growth_goal: float,
) -> float | None:
    count, step = TRAILING[granularity]
    earlier = [shift(start, granularity, -step * k) for k in range(1, count + 1)]
    if min(earlier) < first_full:
        return None
    mean = sum(totals.get(p, (0.0, 0))[0] for p in earlier) / count
    return round(mean * (1 + growth_goal), 2)


def last_period(now_local: datetime, granularity: str) -> date:
    """The period holding the last instant before ``now_local``: at midnight
    that is the day (week, month) just ended, not one begun zero seconds ago."""
    return period_start((now_local - timedelta(microseconds=1)).date(), granularity)


def revenue_periods(
    days: dict[date, tuple[float, int]],
    targets: dict[date, float],
    granularity: str,
    now_local: datetime,
    periods: int,
    growth_goal: float,
) -> list[RevenuePeriod]:
    """The series of the ``periods`` periods up to :func:`last_period`, from
    the first sale on (pure: the figures come from :func:`daily_sales`)."""
    if not days:
        return []
    totals = _per_period(days, granularity)
    first_day = min(days)
    first = period_start(first_day, granularity)
    # A store that opened part-way through a period has no full first period.
    first_full = first if first == first_day else shift(first, granularity, 1)
    today = now_local.date()
    current = last_period(now_local, granularity)
    start = max(first, shift(current, granularity, 1 - periods))
    series = []
    while start <= current:
        end = shift(start, granularity, 1)
        revenue, orders = totals.get(start, (0.0, 0))
        target: float | None = targets.get(start)
        source: TargetSource | None = "set" if target is not None else None
        if target is None:
            target = _trailing_target(
                start, granularity, totals, first_full, growth_goal
            )
            source = None if target is None else "trailing_mean"
        series.append(
            RevenuePeriod(
                period_start=start,
                period_end=end,
                revenue=round(revenue, 2),
                orders=orders,
                complete=end <= today,
                target=target,
                target_source=source,
            )
        )
        start = end
    return series


async def revenue_series(
    session: AsyncSession,
    *,
    now: datetime,
    timezone: str,
    granularity: str,
    periods: int,
    growth_goal: float,
) -> list[RevenuePeriod]:
    """Revenue per period up to business "now" (orders started before it)."""
    now_local = now.astimezone(ZoneInfo(timezone))
    days = await daily_sales(session, now, timezone)
    current = last_period(now_local, granularity)
    targets = await set_targets(
        session, granularity, shift(current, granularity, 1 - periods), current
    )
    return revenue_periods(days, targets, granularity, now_local, periods, growth_goal)


def check_period_start(granularity: str, start: date, field: str) -> None:
    """A 400 unless ``start`` begins a period of ``granularity``."""
    if period_start(start, granularity) != start:
        first = "a Monday" if granularity == "week" else "the first of a month"
        raise field_error(field, f"a {granularity}'s period starts on {first}")


def _insert(session: AsyncSession) -> Callable[..., Any]:
    postgres = dialect_name(session) == "postgresql"
    return postgresql.insert if postgres else sqlite.insert


async def put_target(
    session: AsyncSession,
    *,
    granularity: str,
    start: date,
    amount: float,
    user_id: str,
    at: datetime,
) -> RevenueTarget:
    """Set (or replace) one period's target; setting it again changes nothing
    but who set it and when."""
    values = {
        "granularity": granularity,
        "period_start": start,
        "amount": round(amount, 2),
        "set_by": user_id,
        "updated_at": at.astimezone(UTC),
    }
    statement = _insert(session)(RevenueTarget).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["granularity", "period_start"],
            set_={name: statement.excluded[name] for name in values},
        )
    )
    return RevenueTarget(**values)


async def delete_target(session: AsyncSession, granularity: str, start: date) -> None:
    target = await session.get(RevenueTarget, (granularity, start))
    if target is None:
        raise NotFound(f"No {granularity} target starts on {start.isoformat()}")
    await session.delete(target)
