"""A generated supermarket: customers, products and purchase lines at scale.

Everything is drawn with NumPy in chunks of customers, turned into Polars
frames and written to PostgreSQL with ``COPY ... FROM STDIN (FORMAT csv)``
and, for the DuckDB comparison, to Parquet files holding the very same rows.

Shape of the data (per buyer): orders ~ 1 + NegBin(mean 4), lines per order
~ 1 + Poisson(3), products by a Zipf-like popularity, prices log-normal in
cents, quantities 1-3. Each customer shops between a first day (uniform over
the two years before the snapshot) and a last day (first + exponential span,
mean 300 days, capped at the snapshot), so recency, frequency and spend all
spread out. About 3% of customers never buy. The line total is adjusted to
exactly the requested number.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

AS_OF = datetime(2018, 1, 1, tzinfo=UTC)
START = datetime(2016, 1, 1, tzinfo=UTC)
DAY_US = 86_400_000_000
PURCHASE_COLUMNS = [
    "customer_id",
    "order_id",
    "product_id",
    "line_no",
    "quantity",
    "price",
    "purchased_at",
]


@dataclass(frozen=True)
class Shape:
    customers: int = 1_000_000
    lines: int = 20_000_000
    products: int = 5_000
    chunk_customers: int = 100_000
    seed: int = 20180101


@dataclass(frozen=True)
class Chunk:
    customers: pl.DataFrame  # id, created_at
    lines: pl.DataFrame  # PURCHASE_COLUMNS


def _line_counts(
    rng: np.random.Generator, orders: int, target: int
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Lines per order, 1 + Poisson(3), nudged to sum to exactly ``target``."""
    counts = 1 + rng.poisson(3.0, orders)
    gap = target - int(counts.sum())
    while gap != 0:
        if gap > 0:
            np.add.at(counts, rng.integers(0, orders, gap), 1)
        else:
            spare = np.flatnonzero(counts > 1)
            take = rng.choice(spare, min(-gap, spare.size), replace=False)
            counts[take] -= 1
        gap = target - int(counts.sum())
    return counts


def _chunk(
    rng: np.random.Generator,
    first_customer: int,
    size: int,
    lines: int,
    first_order: int,
    popularity: np.ndarray[Any, np.dtype[np.float64]],
) -> Chunk:
    start_us = int(START.timestamp() * 1_000_000)
    span_days = (AS_OF - START).days
    ids = np.arange(first_customer, first_customer + size)
    buys = rng.random(size) >= 0.03

    # Orders per buyer: 1 + negative binomial with mean 4.
    orders = np.where(buys, 1 + rng.negative_binomial(1.2, 1.2 / 5.2, size), 0)
    order_owner = np.repeat(np.arange(size), orders)
    first_day = rng.uniform(0, span_days - 1, size)
    last_day = np.minimum(first_day + rng.exponential(300.0, size), span_days - 0.01)
    fraction = rng.random(order_owner.size)
    order_day = first_day[order_owner] + fraction * (
        last_day[order_owner] - first_day[order_owner]
    )
    # Whole seconds between 08:00 and 22:00, on the order's day.
    order_us = (
        start_us
        + np.floor(order_day).astype(np.int64) * DAY_US
        + rng.integers(8 * 3600, 22 * 3600, order_owner.size) * 1_000_000
    )

    per_order = _line_counts(rng, order_owner.size, lines)
    line_order = np.repeat(np.arange(order_owner.size), per_order)
    offsets = np.cumsum(per_order) - per_order
    line_no = np.arange(line_order.size) - np.repeat(offsets, per_order)
    product = rng.choice(popularity.size, line_order.size, p=popularity)
    price = np.maximum(np.round(rng.lognormal(1.0, 0.7, line_order.size), 2), 0.1)

    created_us = np.full(size, start_us, dtype=np.int64)
    created_us += (rng.uniform(0, span_days, size) * DAY_US).astype(np.int64)
    if order_owner.size:
        first_order_us = np.full(size, np.iinfo(np.int64).max)
        np.minimum.at(first_order_us, order_owner, order_us)
        created_us = np.where(buys, first_order_us, created_us)

    customer_ids = pl.Series("id", ids).cast(pl.Utf8).str.zfill(8)
    customers = pl.DataFrame(
        {
            "id": "C" + customer_ids,
            "created_at": pl.Series(created_us).cast(pl.Datetime("us", "UTC")),
        }
    )
    order_ids = pl.Series(first_order + np.arange(order_owner.size)).cast(pl.Utf8)
    purchases = pl.DataFrame(
        {
            "customer_id": customers["id"].gather(order_owner[line_order]),
            "order_id": ("O" + order_ids).gather(line_order),
            "product_id": ("P" + pl.Series(product).cast(pl.Utf8)),
            "line_no": pl.Series(line_no, dtype=pl.Int32),
            "quantity": pl.Series(
                rng.integers(1, 4, line_order.size), dtype=pl.Float64
            ),
            "price": pl.Series(price),
            "purchased_at": pl.Series(order_us[line_order]).cast(
                pl.Datetime("us", "UTC")
            ),
        }
    )
    # Stored in time order, as a shop's history arrives, not customer by customer.
    return Chunk(customers, purchases.sort("purchased_at"))


def generate(shape: Shape) -> Iterator[Chunk]:
    """Chunks of customers with their lines; the same seed, the same data."""
    rng = np.random.default_rng(shape.seed)
    ranks = np.arange(1, shape.products + 1, dtype=np.float64)
    popularity = ranks**-0.9
    popularity /= popularity.sum()
    next_order = 0
    for first in range(0, shape.customers, shape.chunk_customers):
        size = min(shape.chunk_customers, shape.customers - first)
        lines = round(shape.lines * (first + size) / shape.customers) - round(
            shape.lines * first / shape.customers
        )
        chunk = _chunk(rng, first, size, lines, next_order, popularity)
        next_order += int(chunk.lines["order_id"].n_unique())
        yield chunk


def products_frame(shape: Shape) -> pl.DataFrame:
    ids = pl.Series(np.arange(shape.products)).cast(pl.Utf8)
    return pl.DataFrame(
        {
            "id": "P" + ids,
            "name": "Product " + ids,
            "category": "Category "
            + (pl.Series(np.arange(shape.products)) % 200).cast(pl.Utf8),
        }
    )


def _csv(frame: pl.DataFrame) -> io.BytesIO:
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, datetime_format="%Y-%m-%dT%H:%M:%S%z")
    buffer.seek(0)
    return buffer


@dataclass(frozen=True)
class LoadReport:
    customers: int
    lines: int
    generate_seconds: float
    copy_seconds: float
    index_seconds: float


async def load_postgres(connection: Any, shape: Shape, parquet_dir: Path) -> LoadReport:
    """COPY the generated data into an empty OMNIX schema; write Parquet too.

    The purchase table's secondary indexes and foreign keys are dropped for
    the load and rebuilt afterwards, the usual way to bulk-load PostgreSQL.
    """
    stamp = datetime.now(UTC)
    products = products_frame(shape)
    products = products.with_columns(
        pl.lit(True).alias("active"), pl.lit(stamp).alias("updated_at")
    )
    await connection.copy_to_table(
        "products",
        source=_csv(products),
        columns=["id", "name", "category", "active", "updated_at"],
        format="csv",
    )
    indexes = await connection.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'purchases' "
        "AND indexname <> 'pk_purchases'"
    )
    keys = await connection.fetch(
        "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint "
        "WHERE conrelid = 'purchases'::regclass AND contype = 'f'"
    )
    for key in keys:
        await connection.execute(
            f"ALTER TABLE purchases DROP CONSTRAINT {key['conname']}"
        )
    for index in indexes:
        await connection.execute(f"DROP INDEX {index['indexname']}")

    generating = copying = 0.0
    customers = lines = 0
    customer_frames = []
    started = time.perf_counter()
    for number, chunk in enumerate(generate(shape)):
        generated = time.perf_counter()
        generating += generated - started
        accounts = chunk.customers.with_columns(
            pl.col("created_at").alias("updated_at"),
            pl.lit("{}").alias("preferences"),
        )
        await connection.copy_to_table(
            "customers",
            source=_csv(accounts),
            columns=["id", "created_at", "updated_at", "preferences"],
            format="csv",
        )
        await connection.copy_to_table(
            "purchases",
            source=_csv(chunk.lines),
            columns=PURCHASE_COLUMNS,
            format="csv",
        )
        started = time.perf_counter()
        copying += started - generated
        chunk.lines.write_parquet(parquet_dir / f"purchases_{number:03d}.parquet")
        customer_frames.append(chunk.customers)
        customers += chunk.customers.height
        lines += chunk.lines.height
        started = time.perf_counter()
    pl.concat(customer_frames).write_parquet(parquet_dir / "customers.parquet")

    indexing = time.perf_counter()
    for index in indexes:
        await connection.execute(index["indexdef"])
    for key in keys:
        await connection.execute(
            f"ALTER TABLE purchases ADD CONSTRAINT {key['conname']} {key['definition']}"
        )
    await connection.execute("VACUUM ANALYZE")
    return LoadReport(
        customers, lines, generating, copying, time.perf_counter() - indexing
    )
