"""RFM features and scores computed in the database.

One statement aggregates purchase lines into per-customer features and ranks
the customers with window functions, so the same code serves two thousand or
two million customers and only one row per customer leaves the database. The
score arithmetic is that of :mod:`omnix.engine.rfm`::

    score = 1 + (5 * (rank() OVER (ORDER BY value) - 1)) / count(*) OVER ()

ranked separately among customers with and without purchases (the latter are
placed by rule and their scores ignored). Recency and tenure are whole days
in the store time zone and spend is rounded to cents, so ties are exact.

PostgreSQL converts each instant to the store's local date with the full
time-zone rules. SQLite has no time-zone database, so it applies the zone's
UTC offset at the snapshot instant to every purchase; in a zone with summer
time this can move a purchase made within an hour of midnight to the
neighbouring day. With the default ``UTC`` both engines agree exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import (
    Float,
    Integer,
    Numeric,
    Select,
    String,
    bindparam,
    case,
    cast,
    distinct,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import Subquery
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from omnix.customers.models import Customer, PurchaseLine
from omnix.db.base import UtcDateTime
from omnix.engine.rfm import RfmPositions

EPOCH = date(1970, 1, 1)
FEATURE_COLUMNS = (
    "customer_id",
    "has_purchases",
    "recency_days",
    "order_count",
    "total_spend",
    "tenure_days",
    "first_purchase_at",
    "last_purchase_at",
)
SCORE_COLUMNS = ("r", "f", "m", "r_pct", "f_pct", "m_pct")


class local_day(FunctionElement[int]):  # noqa: N801 (reads as the SQL function)
    """Days since 1970-01-01 of an instant's date in the store time zone.

    Arguments: the timestamp, the zone name (used by PostgreSQL) and the
    zone's UTC offset in seconds at the snapshot instant (used by SQLite).
    """

    type = Integer()
    inherit_cache = True
    name = "local_day"


@compiles(local_day, "postgresql")
def _local_day_postgresql(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    instant, zone, _offset = list(element.clauses)
    return (
        f"(CAST(timezone({compiler.process(zone, **kw)}, "
        f"{compiler.process(instant, **kw)}) AS DATE) - DATE '1970-01-01')"
    )


@compiles(local_day, "sqlite")
def _local_day_sqlite(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    instant, _zone, offset = list(element.clauses)
    # Whole seconds and integer division: exact for instants after 1970.
    return (
        f"((CAST(strftime('%s', {compiler.process(instant, **kw)}) AS INTEGER) "
        f"+ {compiler.process(offset, **kw)}) / 86400)"
    )


def day_number(instant: datetime, zone: ZoneInfo) -> int:
    """The Python side of :class:`local_day`, for the snapshot instant."""
    return (instant.astimezone(zone).date() - EPOCH).days


def _cents(amount: Any) -> Any:
    """Rounded to cents (exactly, through NUMERIC), then back to a float so
    the window sorts compare machine numbers; equal cents stay equal."""
    return cast(func.round(cast(amount, Numeric), 2), Float)


def _buyers(as_of: Any, customer_ids: Sequence[str] | None) -> Subquery:
    """Per-customer totals in one pass over the lines."""
    spend = func.sum(PurchaseLine.quantity * PurchaseLine.price)
    lines = select(
        PurchaseLine.customer_id.label("customer_id"),
        func.count(distinct(PurchaseLine.order_id)).label("order_count"),
        _cents(spend).label("total_spend"),
        func.min(PurchaseLine.purchased_at).label("first_at"),
        func.max(PurchaseLine.purchased_at).label("last_at"),
    ).where(PurchaseLine.purchased_at <= as_of)
    if customer_ids is not None:
        lines = lines.where(PurchaseLine.customer_id.in_(customer_ids))
    return lines.group_by(PurchaseLine.customer_id).subquery("buyers")


def _buyers_by_order(as_of: Any, customer_ids: Sequence[str] | None) -> Subquery:
    """The same totals in two passes: orders first, then customers.

    ``count(DISTINCT ...)`` makes PostgreSQL sort every line by customer (or
    walk the customer index through the heap at random); grouping by (customer,
    order) first lets both steps be hash aggregates over one sequential scan,
    several times faster on millions of lines. SQLite, whose plan for the
    one-pass form over its (customer, time) index is faster, keeps that one.
    """
    orders = select(
        PurchaseLine.customer_id.label("customer_id"),
        func.sum(PurchaseLine.quantity * PurchaseLine.price).label("value"),
        func.min(PurchaseLine.purchased_at).label("first_at"),
        func.max(PurchaseLine.purchased_at).label("last_at"),
    ).where(PurchaseLine.purchased_at <= as_of)
    if customer_ids is not None:
        orders = orders.where(PurchaseLine.customer_id.in_(customer_ids))
    by_order = orders.group_by(
        PurchaseLine.customer_id, PurchaseLine.order_id
    ).subquery("orders")
    return (
        select(
            by_order.c.customer_id,
            func.count().label("order_count"),
            _cents(func.sum(by_order.c.value)).label("total_spend"),
            func.min(by_order.c.first_at).label("first_at"),
            func.max(by_order.c.last_at).label("last_at"),
        )
        .group_by(by_order.c.customer_id)
        .subquery("buyers")
    )


def snapshot_parameters(as_of: datetime, timezone: str) -> dict[str, Any]:
    """Values of the named parameters the features query is built with, so a
    statement built once can be executed for any instant."""
    zone = ZoneInfo(timezone)
    offset = as_of.astimezone(zone).utcoffset()
    return {
        "snapshot_as_of": as_of,
        "snapshot_day": day_number(as_of, zone),
        "zone_name": timezone,
        "zone_offset": int(offset.total_seconds()) if offset is not None else 0,
    }


def _features(
    as_of: datetime,
    timezone: str,
    back_dated: bool,
    customer_ids: Sequence[str] | None,
    group_orders_first: bool = False,
) -> Select[Any]:
    values = snapshot_parameters(as_of, timezone)
    today = bindparam("snapshot_day", values["snapshot_day"], type_=Integer)
    zone_name = bindparam("zone_name", timezone, type_=String)
    zone_offset = bindparam("zone_offset", values["zone_offset"], type_=Integer)
    as_of_param = bindparam("snapshot_as_of", as_of, type_=UtcDateTime())

    def day(instant: Any) -> local_day:
        return local_day(instant, zone_name, zone_offset)

    buyers = (
        _buyers_by_order(as_of_param, customer_ids)
        if group_orders_first
        else _buyers(as_of_param, customer_ids)
    )
    bought = buyers.c.customer_id.is_not(None)
    started = func.coalesce(buyers.c.first_at, Customer.created_at)
    query = (
        select(
            Customer.id.label("customer_id"),
            case((bought, 1), else_=0).label("has_purchases"),
            (today - day(buyers.c.last_at)).label("recency_days"),
            func.coalesce(buyers.c.order_count, 0).label("order_count"),
            func.coalesce(buyers.c.total_spend, 0).label("total_spend"),
            (today - day(started)).label("tenure_days"),
            buyers.c.first_at.label("first_purchase_at"),
            buyers.c.last_at.label("last_purchase_at"),
        )
        .select_from(Customer)
        .outerjoin(buyers, buyers.c.customer_id == Customer.id)
    )
    if back_dated:
        query = query.where(or_(Customer.created_at <= as_of_param, bought))
    if customer_ids is not None:
        query = query.where(Customer.id.in_(customer_ids))
    return query


def population_query(
    as_of: datetime,
    *,
    timezone: str = "UTC",
    back_dated: bool = False,
    group_orders_first: bool = False,
) -> Select[Any]:
    """Features, scores and percentiles of every customer, one row each.

    Purchases up to and including ``as_of`` count. With ``back_dated``,
    accounts opened after ``as_of`` without a purchase by then are left out,
    since they did not exist yet; otherwise every stored customer is placed
    (an account stamped later than a pinned business clock counts as new).
    """
    features = _features(
        as_of, timezone, back_dated, None, group_orders_first
    ).subquery("features")
    part = features.c.has_purchases
    ranked = select(
        features,
        func.rank()
        .over(partition_by=part, order_by=features.c.recency_days.desc())
        .label("r_rank"),
        func.rank()
        .over(partition_by=part, order_by=features.c.order_count)
        .label("f_rank"),
        func.rank()
        .over(partition_by=part, order_by=features.c.total_spend)
        .label("m_rank"),
        func.count().over(partition_by=part).label("n"),
    ).subquery("ranked")

    ranks = [ranked.c[f"{axis}_rank"] for axis in ("r", "f", "m")]
    n = ranked.c.n
    # ``//`` on integers is SQL integer division on both engines.
    scores = [(1 + (5 * (rank - 1)) // n) for rank in ranks]
    percentiles = [cast(rank - 1, Float) / cast(n, Float) for rank in ranks]
    return select(
        *(ranked.c[name] for name in FEATURE_COLUMNS),
        *(
            column.label(name)
            for column, name in zip(scores + percentiles, SCORE_COLUMNS, strict=True)
        ),
    )


def customer_features_query(
    as_of: datetime, customer_ids: Sequence[str], *, timezone: str = "UTC"
) -> Select[Any]:
    """The features of some customers, without ranking them."""
    return _features(as_of, timezone, False, customer_ids)


@dataclass(frozen=True)
class Population:
    """Per-customer features (and, when ranked, scores) as arrays."""

    customer_ids: list[str]
    has_purchases: NDArray[np.bool_]
    recency_days: NDArray[np.int64]  # -1 without purchases
    order_count: NDArray[np.int64]
    total_spend: NDArray[np.float64]
    tenure_days: NDArray[np.int64]
    first_purchase_at: list[datetime | None]
    last_purchase_at: list[datetime | None]
    positions: RfmPositions | None

    @property
    def size(self) -> int:
        return len(self.customer_ids)


def _aware(value: Any) -> datetime | None:
    # Columns behind a subquery keep their type, but guard against drivers
    # that hand SQLite timestamps back as text or naive values.
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _ints(values: Sequence[Any], missing: int) -> NDArray[np.int64]:
    return np.array(
        [missing if value is None else value for value in values], dtype=np.int64
    )


def _floats(values: Sequence[Any]) -> NDArray[np.float64]:
    return np.array(
        [0.0 if value is None else float(value) for value in values], dtype=np.float64
    )


def to_population(rows: Sequence[Any], ranked: bool) -> Population:
    """Arrays from the rows of :func:`population_query` (or the features one)."""
    columns: list[Sequence[Any]] = (
        list(zip(*rows, strict=True))
        if rows
        else [() for _ in FEATURE_COLUMNS + (SCORE_COLUMNS if ranked else ())]
    )
    by_name = dict(zip(FEATURE_COLUMNS + SCORE_COLUMNS, columns, strict=False))
    has_purchases = np.array(by_name["has_purchases"], dtype=bool)
    positions = None
    if ranked:
        r, f, m = (_ints(by_name[axis], 1) for axis in ("r", "f", "m"))
        r_pct, f_pct, m_pct = (_floats(by_name[f"{a}_pct"]) for a in ("r", "f", "m"))
        positions = RfmPositions(r, f, m, r_pct, f_pct, m_pct)
    return Population(
        customer_ids=list(by_name["customer_id"]),
        has_purchases=has_purchases,
        recency_days=_ints(by_name["recency_days"], -1),
        order_count=_ints(by_name["order_count"], 0),
        total_spend=_floats(by_name["total_spend"]),
        # An account stamped after the snapshot instant counts as opened then.
        tenure_days=np.maximum(_ints(by_name["tenure_days"], 0), 0),
        first_purchase_at=[_aware(v) for v in by_name["first_purchase_at"]],
        last_purchase_at=[_aware(v) for v in by_name["last_purchase_at"]],
        positions=positions,
    )


async def load_population(
    session: AsyncSession,
    as_of: datetime,
    *,
    timezone: str = "UTC",
    back_dated: bool = False,
) -> Population:
    """Run :func:`population_query` and return its rows as arrays."""
    connection = await session.connection()
    query = population_query(
        as_of,
        timezone=timezone,
        back_dated=back_dated,
        group_orders_first=connection.dialect.name == "postgresql",
    )
    rows = (await session.execute(query)).all()
    return to_population(rows, ranked=True)


async def load_features(
    session: AsyncSession,
    as_of: datetime,
    customer_ids: Sequence[str],
    *,
    timezone: str = "UTC",
) -> Population:
    """Unranked features of some customers (``positions`` is None)."""
    query = customer_features_query(as_of, customer_ids, timezone=timezone)
    rows = (await session.execute(query)).all()
    return to_population(rows, ranked=False)
