"""Loads the engine's frames (lines, catalogue, customers) from the database.

One customer's history goes through the ORM session; the whole population is
read through the driver in one pass, which is what fitting population models
needs (1.4M lines in a few seconds).
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy import String, select, type_coerce
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.catalogue.models import Product
from omnix.customers.models import Customer, PurchaseLine
from omnix.db.session import Database

LINE_SCHEMA: dict[str, Any] = {
    "customer_id": pl.Utf8,
    "order_id": pl.Utf8,
    "product_id": pl.Utf8,
    "purchased_at": pl.Datetime("us", "UTC"),
    "quantity": pl.Float64,
    "price": pl.Float64,
    "category": pl.Utf8,
    "department": pl.Utf8,
    "brand": pl.Utf8,
}
CATALOGUE_SCHEMA: dict[str, Any] = {
    "product_id": pl.Utf8,
    "name": pl.Utf8,
    "category": pl.Utf8,
    "department": pl.Utf8,
    "brand": pl.Utf8,
    "size": pl.Utf8,
    "active": pl.Boolean,
}
CUSTOMER_SCHEMA: dict[str, Any] = {
    "customer_id": pl.Utf8,
    "created_at": pl.Datetime("us", "UTC"),
    "age_group": pl.Utf8,
    "income_level": pl.Utf8,
    "household_size": pl.Utf8,
    "household_composition": pl.Utf8,
    "marital_status": pl.Utf8,
    "home_ownership": pl.Utf8,
    "kids_count": pl.Utf8,
}


def _stored(column: Any) -> Any:
    """A time column as the driver gives it, without the ORM's per-row
    conversion: text on SQLite, a datetime on PostgreSQL."""
    return type_coerce(column, String).label(column.key)


_LINE_COLUMNS = (
    PurchaseLine.customer_id,
    PurchaseLine.order_id,
    PurchaseLine.product_id,
    _stored(PurchaseLine.purchased_at),
    PurchaseLine.quantity,
    PurchaseLine.price,
    Product.category,
    Product.department,
    Product.brand,
)


def _as_utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _frame(
    rows: list[Any], schema: dict[str, Any], times: tuple[str, ...]
) -> pl.DataFrame:
    """Rows as a frame; ``times`` columns may come as stored text (see
    ``_stored``) or as datetimes, and end as UTC instants."""
    columns = list(schema)
    if not rows:
        return pl.DataFrame(schema=schema)
    data: dict[str, Any] = {
        name: [row[i] for row in rows] for i, name in enumerate(columns)
    }
    for name in times:
        data[name] = _instants(data[name])
    return pl.DataFrame(data, schema=schema)


def _instants(values: list[Any]) -> pl.Series:
    if all(isinstance(value, str) for value in values):
        # SQLite's text, parsed in one vectorised step: per-value parsing was
        # a tenth of a batch job's time.
        return (
            pl.Series(values, dtype=pl.Utf8)
            .str.to_datetime(time_unit="us")
            .dt.replace_time_zone("UTC")
        )
    return pl.Series(
        [_as_utc(value) for value in values], dtype=pl.Datetime("us", "UTC")
    )


def _lines_query(before: datetime, customer_ids: list[str] | None) -> Any:
    query = (
        select(*_LINE_COLUMNS)
        .join(Product, Product.id == PurchaseLine.product_id)
        .where(PurchaseLine.purchased_at < before)
    )
    if customer_ids is not None:
        query = query.where(PurchaseLine.customer_id.in_(customer_ids))
    return query


async def load_lines(
    session: AsyncSession, before: datetime, customer_ids: list[str] | None = None
) -> pl.DataFrame:
    """Purchase lines strictly before ``before``, for some customers or all."""
    result = await session.execute(_lines_query(before, customer_ids))
    return _frame(list(result.tuples()), LINE_SCHEMA, ("purchased_at",))


_POPULATION_SQL = (
    "SELECT customer_id, order_id, product_id, purchased_at, quantity, price "
    "FROM purchases WHERE purchased_at < {before}"
)


async def load_population_lines(db: Database, before: datetime) -> pl.DataFrame:
    """Every customer's lines before ``before``, with the catalogue's columns.

    Read beside the ORM: its per-row type conversion costs about ten
    microseconds, which for 1.4M lines is the difference between one or two
    seconds and fifteen. PostgreSQL is read through ADBC as Arrow columns.
    SQLite is read with the standard library's driver, never ADBC: the ADBC
    driver links its own copy of SQLite, and two copies of the library in one
    process do not see each other's POSIX locks, so closing one copy's file
    handle drops the other's locks and concurrent writers corrupt the file
    (https://www.sqlite.org/howtocorrupt.html, section 2.2.1).
    """
    before = before.astimezone(UTC)
    lines = await asyncio.to_thread(_read_arrow, db.url, db.dialect, before)
    async with db.session() as session:
        catalogue = await load_catalogue(session)
    stamp = pl.col("purchased_at")
    if lines.schema["purchased_at"] == pl.Utf8:
        stamp = stamp.str.to_datetime(
            time_unit="us", strict=False
        ).dt.replace_time_zone("UTC")
    else:
        stamp = stamp.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    return (
        lines.with_columns(
            stamp.alias("purchased_at"),
            pl.col("customer_id", "order_id", "product_id").cast(pl.Utf8),
            pl.col("quantity", "price").cast(pl.Float64),
        )
        .join(
            catalogue.select("product_id", "category", "department", "brand"),
            on="product_id",
            how="left",
        )
        .select(list(LINE_SCHEMA))
    )


def _read_arrow(url: str, dialect: str, before: datetime) -> pl.DataFrame:
    parsed = make_url(url)
    if dialect == "sqlite":
        return _read_sqlite(str(parsed.database), before)
    import adbc_driver_postgresql.dbapi as adbc_postgres

    uri = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = adbc_postgres.connect(uri)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                _POPULATION_SQL.format(before="$1::timestamptz"), (before.isoformat(),)
            )
            table = cursor.fetch_arrow_table()
    finally:
        connection.close()
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


_SQLITE_TYPES: dict[str, Any] = {
    "customer_id": pl.Utf8,
    "order_id": pl.Utf8,
    "product_id": pl.Utf8,
    "purchased_at": pl.Utf8,
    "quantity": pl.Float64,
    "price": pl.Float64,
}


def _read_sqlite(path: str, before: datetime) -> pl.DataFrame:
    bound = before.replace(tzinfo=None).isoformat(sep=" ")
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        cursor = connection.execute(_POPULATION_SQL.format(before="?"), (bound,))
        names = [str(column[0]) for column in cursor.description]
        rows = cursor.fetchall()
    finally:
        connection.close()
    schema = {name: _SQLITE_TYPES[name] for name in names}
    return pl.DataFrame(rows, schema=schema, orient="row")


async def load_catalogue(session: AsyncSession) -> pl.DataFrame:
    result = await session.execute(
        select(
            Product.id,
            Product.name,
            Product.category,
            Product.department,
            Product.brand,
            Product.size,
            Product.active,
        )
    )
    return _frame(list(result.tuples()), CATALOGUE_SCHEMA, ())


async def load_customers(
    session: AsyncSession, customer_ids: list[str] | None = None
) -> pl.DataFrame:
    query = select(
        Customer.id,
        _stored(Customer.created_at),
        Customer.age_group,
        Customer.income_level,
        Customer.household_size,
        Customer.household_composition,
        Customer.marital_status,
        Customer.home_ownership,
        Customer.kids_count,
    )
    if customer_ids is not None:
        query = query.where(Customer.id.in_(customer_ids))
    rows = [
        (*row[:4], *(None if value is None else str(value) for value in row[4:]))
        for row in (await session.execute(query)).tuples()
    ]
    return _frame(rows, CUSTOMER_SCHEMA, ("created_at",))
