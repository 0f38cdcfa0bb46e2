"""Segmentation benchmarks.

1. Every Complete Journey household of the demo database (SQLite, a copy of
   ``data/bench``): a back-dated snapshot as of 2017-10-01, then snapshots as
   of 2018-01-01 (features, scores, assignments, totals, migrations), timed
   end to end. Target: at most 1 s.
2. A generated population (1,000,000 customers, 20,000,000 purchase lines)
   loaded into a throw-away PostgreSQL database with ``COPY``, segmented end
   to end through ``recompute_all``. Target: at most 120 s. In the same run,
   DuckDB computes the same RFM features and scores from the same rows
   written to Parquet; the ratio and a checksum of both results are printed.

``OMNIX_BENCH_SEGMENT_SCALE`` (a fraction, default 1) shrinks part 2 for a
quick try; ``OMNIX_BENCH_POSTGRES_URL`` names another server.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.common import BENCH_DATA, ensure_demo_database
from bench.segments_data import AS_OF, Shape, load_postgres
from omnix.db.models import Base
from omnix.db.session import Database
from omnix.segments import models as segment_models
from omnix.segments.features import Population, load_population
from omnix.segments.service import recompute_all

ROUNDS = 3
POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
SEGMENT_TABLES = [
    model.__table__
    for model in (
        segment_models.SegmentRun,
        segment_models.SegmentAssignment,
        segment_models.SegmentRunTotal,
        segment_models.SegmentMigration,
    )
]


async def _create_segment_tables(db: Database) -> None:
    # The demo database may predate the segment tables' migration.
    async with db.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all, tables=SEGMENT_TABLES)


async def _recompute(
    db: Database, as_of: datetime, **options: Any
) -> tuple[float, Any]:
    started = time.perf_counter()
    async with db.transaction() as session:
        summary = await recompute_all(session, as_of, **options)
    return time.perf_counter() - started, summary


async def _complete_journey(url: str) -> None:
    db = Database(url)
    await _create_segment_tables(db)
    october = datetime(2017, 10, 1, tzinfo=UTC)
    back_dated, first = await _recompute(db, october, back_dated=True)
    runs = [await _recompute(db, AS_OF) for _ in range(ROUNDS)]
    await db.dispose()

    seconds = [run[0] for run in runs]
    summary = runs[0][1]
    print("Segment every Complete Journey household (SQLite, end to end)")
    print(
        f"  as of 2017-10-01 (back-dated): {back_dated:.2f} s for "
        f"{first.customer_count:,} households"
    )
    print(
        f"  as of 2018-01-01: median {statistics.median(seconds):.2f} s over "
        f"{ROUNDS} runs (min {min(seconds):.2f}, max {max(seconds):.2f}) for "
        f"{summary.customer_count:,} households, {summary.migration_count:,} "
        f"migrations on the first   (target <= 1 s)"
    )
    counts = ", ".join(f"{k} {v}" for k, v in sorted(summary.counts.items()))
    print(f"  segments: {counts}")


def complete_journey() -> None:
    source = BENCH_DATA / "omnix.db"
    if not source.exists():
        ensure_demo_database()
    with tempfile.TemporaryDirectory() as directory:
        target = Path(directory) / "omnix.db"
        # The backup API copies a consistent database, WAL included.
        with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
            live.backup(copy)
        asyncio.run(_complete_journey(f"sqlite+aiosqlite:///{target}"))


DUCKDB_RFM = """
WITH buyers AS (
    SELECT customer_id,
           count(DISTINCT order_id) AS order_count,
           round(sum(quantity * price), 2) AS total_spend,
           min(purchased_at) AS first_at,
           max(purchased_at) AS last_at
    FROM read_parquet('{purchases}')
    WHERE purchased_at <= TIMESTAMPTZ '{as_of}'
    GROUP BY customer_id
), features AS (
    SELECT c.id AS customer_id,
           CASE WHEN b.customer_id IS NULL THEN 0 ELSE 1 END AS has_purchases,
           date_diff('day', CAST(b.last_at AS DATE), DATE '{day}') AS recency_days,
           coalesce(b.order_count, 0) AS order_count,
           coalesce(b.total_spend, 0) AS total_spend,
           date_diff('day', CAST(coalesce(b.first_at, c.created_at) AS DATE),
                     DATE '{day}') AS tenure_days
    FROM read_parquet('{customers}') AS c
    LEFT JOIN buyers AS b ON b.customer_id = c.id
)
SELECT customer_id, has_purchases, recency_days, order_count, total_spend,
       tenure_days,
       1 + (5 * (rank() OVER (PARTITION BY has_purchases
                              ORDER BY recency_days DESC) - 1))
           // count(*) OVER (PARTITION BY has_purchases) AS r,
       1 + (5 * (rank() OVER (PARTITION BY has_purchases
                              ORDER BY order_count) - 1))
           // count(*) OVER (PARTITION BY has_purchases) AS f,
       1 + (5 * (rank() OVER (PARTITION BY has_purchases
                              ORDER BY total_spend) - 1))
           // count(*) OVER (PARTITION BY has_purchases) AS m
FROM features
"""


def _duckdb_rfm(parquet_dir: Path) -> tuple[float, dict[str, float]]:
    import duckdb

    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("SET enable_progress_bar = false")
    query = DUCKDB_RFM.format(
        purchases=parquet_dir / "purchases_*.parquet",
        customers=parquet_dir / "customers.parquet",
        as_of=AS_OF.isoformat(),
        day=AS_OF.date().isoformat(),
    )
    started = time.perf_counter()
    result = connection.execute(query).fetchnumpy()
    seconds = time.perf_counter() - started
    connection.close()
    bought = result["has_purchases"] == 1
    return seconds, {
        "buyers": float(bought.sum()),
        "recency": float(result["recency_days"][bought].sum()),
        "orders": float(result["order_count"].sum()),
        "spend": round(float(result["total_spend"].sum()), 2),
        "rfm": float(
            (result["r"] * 100 + result["f"] * 10 + result["m"])[bought].sum()
        ),
    }


def _checksum(population: Population) -> dict[str, float]:
    bought = population.has_purchases
    p = population.positions
    assert p is not None
    return {
        "buyers": float(bought.sum()),
        "recency": float(population.recency_days[bought].sum()),
        "orders": float(population.order_count.sum()),
        "spend": round(float(population.total_spend.sum()), 2),
        "rfm": float((p.r * 100 + p.f * 10 + p.m)[bought].sum()),
    }


async def _admin(server: str, statement: str) -> None:
    import asyncpg

    url = make_url(server).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _scale(shape: Shape, server: str, parquet_dir: Path) -> None:
    import asyncpg

    name = f"omnix_bench_segments_{uuid.uuid4().hex[:8]}"
    await _admin(server, f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name)
    db = Database(url.render_as_string(hide_password=False))
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        raw = await asyncpg.connect(
            url.set(drivername="postgresql").render_as_string(hide_password=False)
        )
        try:
            load = await load_postgres(raw, shape, parquet_dir)
        finally:
            await raw.close()
        print(
            f"  loaded {load.customers:,} customers and {load.lines:,} lines: "
            f"generate {load.generate_seconds:.1f} s, COPY {load.copy_seconds:.1f} s, "
            f"indexes + keys + analyze {load.index_seconds:.1f} s"
        )

        async with db.session() as session:
            await session.execute(text("SET work_mem = '256MB'"))
            started = time.perf_counter()
            population = await load_population(session, AS_OF)
            features_seconds = time.perf_counter() - started
        end_to_end, summary = await _recompute(db, AS_OF)
        later, moved = await _recompute(db, AS_OF + timedelta(days=30))
        duck_seconds, duck = _duckdb_rfm(parquet_dir)
    finally:
        await db.dispose()
        await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    ours = _checksum(population)
    print(
        f"  PostgreSQL features + scores (one SQL statement, rows fetched): "
        f"{features_seconds:.1f} s"
    )
    print(
        f"  PostgreSQL end to end (features, scores, segments, "
        f"{summary.customer_count:,} assignments written, migrations): "
        f"{end_to_end:.1f} s   (target <= 120 s)"
    )
    print(
        f"  again 30 days later, with {moved.migration_count:,} migrations recorded: "
        f"{later:.1f} s"
    )
    print(f"  DuckDB, same features + scores from Parquet: {duck_seconds:.1f} s")
    print(
        f"  ratio PostgreSQL / DuckDB: features {features_seconds / duck_seconds:.1f}x,"
        f" end to end {end_to_end / duck_seconds:.1f}x"
    )
    same = "identical" if ours == duck else f"DIFFERENT: {ours} vs {duck}"
    print(f"  checksums of both results: {same}")
    counts = np.array(sorted(summary.counts.items(), key=lambda item: -item[1]))
    print("  segments: " + ", ".join(f"{k} {int(v):,}" for k, v in counts))


def scale() -> None:
    fraction = float(os.environ.get("OMNIX_BENCH_SEGMENT_SCALE", "1"))
    shape = Shape(
        customers=round(1_000_000 * fraction), lines=round(20_000_000 * fraction)
    )
    server = os.environ.get("OMNIX_BENCH_POSTGRES_URL", POSTGRES)
    print(
        f"Segment a generated population in PostgreSQL ({shape.customers:,} "
        f"customers, {shape.lines:,} lines)"
    )
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(_scale(shape, server, Path(directory)))


def main() -> None:
    complete_journey()
    print()
    scale()


if __name__ == "__main__":
    main()
