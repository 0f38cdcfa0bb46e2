"""Fast, idempotent writes of many purchase lines.

SQLite: the standard library's ``executemany`` inside one transaction, with
``INSERT OR IGNORE`` against the unique line key. PostgreSQL: ``COPY`` into a
temporary table, then one ``INSERT … ON CONFLICT DO NOTHING``. Either way the
whole file lands or nothing does.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy.engine import make_url

PURCHASE_COLUMNS = (
    "customer_id",
    "order_id",
    "product_id",
    "line_no",
    "store_id",
    "quantity",
    "price",
    "purchased_at",
)
PRODUCT_COLUMNS = ("id", "name", "category", "department", "brand", "size")
CUSTOMER_DEMOGRAPHICS = (
    "age_group",
    "income_level",
    "household_size",
    "household_composition",
    "marital_status",
    "home_ownership",
    "kids_count",
)
# A purchase line fills gaps in the catalogue and never overwrites what it
# knows: lines come from any household (or an import file), and one line must
# not rename a product in everyone's history. A placeholder name ("Product
# <id>", given to a product first seen without one) is a gap.
PRODUCT_MERGE = (
    "(id) DO UPDATE SET name = CASE WHEN products.name = 'Product ' || products.id "
    "THEN excluded.name ELSE products.name END, "
    "category = coalesce(products.category, excluded.category), "
    "department = coalesce(products.department, excluded.department), "
    "brand = coalesce(products.brand, excluded.brand), "
    "size = coalesce(products.size, excluded.size), "
    "updated_at = excluded.updated_at"
)
# Secondary indexes dropped during a first load and built once at the end.
PURCHASE_INDEXES = {
    "ix_purchases_customer_time": "CREATE INDEX ix_purchases_customer_time "
    "ON purchases (customer_id, purchased_at)",
    "ix_purchases_product": "CREATE INDEX ix_purchases_product "
    "ON purchases (product_id)",
}


@dataclass(frozen=True)
class WriteResult:
    customers_added: int
    products_upserted: int
    lines_added: int
    lines_already_stored: int


def _sqlite_path(database_url: str) -> str:
    database = make_url(database_url).database
    if not database:
        raise ValueError("an in-memory SQLite database cannot be bulk loaded")
    return database


def _sqlite_timestamp(series: pl.Series) -> pl.Series:
    # The ORM stores SQLite timestamps as naive UTC text; match it exactly so
    # comparisons and the unique line key agree with rows written by the API.
    return (
        series.dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
        .dt.strftime("%Y-%m-%d %H:%M:%S.%6f")
    )


def write_sqlite(
    database_url: str,
    *,
    customers: pl.DataFrame,
    products: pl.DataFrame,
    lines: pl.DataFrame,
    now: datetime,
    first_load: bool = False,
) -> WriteResult:
    """Write customers (new only), products (upsert) and lines in one transaction."""
    stamp = now.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    connection = sqlite3.connect(
        _sqlite_path(database_url), timeout=60, isolation_level=None
    )
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("BEGIN IMMEDIATE")
        before = connection.execute("SELECT count(*) FROM customers").fetchone()[0]
        customer_rows = customers.with_columns(
            _sqlite_timestamp(customers["created_at"]).alias("created_at")
        ).select("id", "created_at", *CUSTOMER_DEMOGRAPHICS)
        connection.executemany(
            "INSERT OR IGNORE INTO customers (id, created_at, updated_at, preferences, "
            + ", ".join(CUSTOMER_DEMOGRAPHICS)
            + ") VALUES (?, ?, ?, '{}', "
            + ", ".join("?" for _ in CUSTOMER_DEMOGRAPHICS)
            + ")",
            ((row[0], row[1], stamp, *row[2:]) for row in customer_rows.iter_rows()),
        )
        customers_added = (
            connection.execute("SELECT count(*) FROM customers").fetchone()[0] - before
        )
        connection.executemany(
            "INSERT INTO products (id, name, category, department, brand, size, "
            "active, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT "
            + PRODUCT_MERGE,
            ((*row, stamp) for row in products.select(PRODUCT_COLUMNS).iter_rows()),
        )
        if first_load:
            for name in PURCHASE_INDEXES:
                connection.execute(f"DROP INDEX IF EXISTS {name}")
        before_lines = (
            connection.execute("SELECT max(rowid) FROM purchases").fetchone()[0] or 0
        )
        rows = lines.with_columns(
            _sqlite_timestamp(lines["purchased_at"]).alias("purchased_at")
        ).select(PURCHASE_COLUMNS)
        connection.executemany(
            f"INSERT OR IGNORE INTO purchases ({', '.join(PURCHASE_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in PURCHASE_COLUMNS)})",
            rows.iter_rows(),
        )
        added = connection.execute(
            "SELECT count(*) FROM purchases WHERE rowid > ?", (before_lines,)
        ).fetchone()[0]
        if first_load:
            for ddl in PURCHASE_INDEXES.values():
                connection.execute(ddl)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    finally:
        connection.close()
    return WriteResult(customers_added, products.height, added, lines.height - added)


async def write_postgres(
    database_url: str,
    *,
    customers: pl.DataFrame,
    products: pl.DataFrame,
    lines: pl.DataFrame,
    now: datetime,
) -> WriteResult:
    """The same as :func:`write_sqlite`, through ``COPY`` on PostgreSQL."""
    import asyncpg

    url = make_url(database_url).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        async with connection.transaction():
            customers_added = await _copy_merge(
                connection,
                "customers",
                ("id", "created_at", *CUSTOMER_DEMOGRAPHICS),
                customers.select("id", "created_at", *CUSTOMER_DEMOGRAPHICS).rows(),
                extra={"updated_at": now, "preferences": "{}"},
                conflict="(id) DO NOTHING",
            )
            await _copy_merge(
                connection,
                "products",
                PRODUCT_COLUMNS,
                products.select(PRODUCT_COLUMNS).rows(),
                extra={"updated_at": now, "active": True},
                conflict=PRODUCT_MERGE,
            )
            added = await _copy_merge(
                connection,
                "purchases",
                PURCHASE_COLUMNS,
                lines.select(PURCHASE_COLUMNS).rows(),
                extra={},
                conflict="DO NOTHING",
            )
    finally:
        await connection.close()
    return WriteResult(customers_added, products.height, added, lines.height - added)


async def _copy_merge(
    connection: Any,
    table: str,
    columns: tuple[str, ...],
    records: list[tuple[Any, ...]],
    *,
    extra: dict[str, Any],
    conflict: str,
) -> int:
    staging = f"staging_{table}"
    column_list = ", ".join(columns)
    # CREATE ... AS copies the column types but none of the NOT NULL rules,
    # which the constant columns only meet at the final INSERT.
    await connection.execute(
        f"CREATE TEMP TABLE {staging} ON COMMIT DROP AS "
        f"SELECT {column_list} FROM {table} WITH NO DATA"
    )
    await connection.copy_records_to_table(
        staging, records=records, columns=list(columns)
    )
    constants = ", ".join(f"${i + 1}" for i in range(len(extra)))
    target = ", ".join((*columns, *extra))
    source = ", ".join(filter(None, (column_list, constants)))
    status = await connection.execute(
        f"INSERT INTO {table} ({target}) SELECT {source} FROM {staging} "
        f"ON CONFLICT {conflict}",
        *extra.values(),
    )
    return int(status.split()[-1])


def new_customers_from_lines(lines: pl.DataFrame) -> pl.DataFrame:
    """Customers named by lines, created at their first purchase."""
    return (
        lines.group_by("customer_id")
        .agg(pl.col("purchased_at").min().alias("created_at"))
        .rename({"customer_id": "id"})
        .with_columns(*(pl.lit(None).alias(column) for column in CUSTOMER_DEMOGRAPHICS))
    )


def products_from_lines(lines: pl.DataFrame) -> pl.DataFrame:
    return (
        lines.group_by("product_id")
        .agg(
            pl.col("product_name").drop_nulls().last().alias("name"),
            *(
                pl.col(c).drop_nulls().last()
                for c in ("category", "department", "brand", "size")
            ),
        )
        .rename({"product_id": "id"})
        .with_columns(
            pl.col("name").fill_null(pl.concat_str(pl.lit("Product "), pl.col("id")))
        )
    )
