"""Writing a run: assignments, per-segment totals, migrations.

A full recomputation inserts its snapshot with one ``INSERT ... SELECT``
(:func:`insert_snapshot`); smaller runs write rows placed in Python, and
migrations are written, through ``COPY`` on PostgreSQL and one
``executemany`` on SQLite. Everything happens in the caller's transaction;
nothing here commits.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import (
    Insert,
    Integer,
    Table,
    bindparam,
    case,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from omnix.db.base import UtcDateTime
from omnix.engine.rfm import RfmFeatures, describe_migration
from omnix.segments.current import current_table
from omnix.segments.features import (
    Population,
    population_query,
    snapshot_parameters,
)
from omnix.segments.models import (
    SegmentAssignment,
    SegmentMigration,
    SegmentRun,
    SegmentRunTotal,
)
from omnix.segments.sql_rules import (
    confidence_expression,
    segment_expression,
    with_gaps,
)

# Any instant: the statement is built with it, then run with the real one.
SHAPE_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)
ASSIGNMENT_COLUMNS = (
    "run_id",
    "customer_id",
    "segment_id",
    "confidence",
    "as_of",
    "computed_at",
    "has_purchases",
    "recency_days",
    "order_count",
    "total_spend",
    "tenure_days",
    "first_purchase_at",
    "last_purchase_at",
    "r",
    "f",
    "m",
    "r_pct",
    "f_pct",
    "m_pct",
)
MIGRATION_COLUMNS = (
    "customer_id",
    "run_id",
    "from_segment_id",
    "to_segment_id",
    "reason",
    "impact_score",
    "as_of",
    "recorded_at",
    "manual",
    "recorded_by",
)


@dataclass(frozen=True)
class Placed:
    """A population with its segments: what one run stores."""

    population: Population
    segment_ids: NDArray[np.str_]
    confidence: NDArray[np.float64]


async def bulk_insert(
    session: AsyncSession,
    table: Table,
    columns: Sequence[str],
    records: list[tuple[Any, ...]],
) -> None:
    """Insert plain Python rows: ``COPY`` on PostgreSQL, executemany elsewhere."""
    if not records:
        return
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        raw = await connection.get_raw_connection()
        # The driver connection is already inside the session's transaction.
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            table.name, records=records, columns=list(columns)
        )
    else:
        await session.execute(
            insert(table), [dict(zip(columns, row, strict=True)) for row in records]
        )


def _nullable(values: NDArray[Any], mask: NDArray[np.bool_]) -> list[Any]:
    return [
        value if keep else None
        for value, keep in zip(values.tolist(), mask.tolist(), strict=True)
    ]


def assignment_records(run: SegmentRun, placed: Placed) -> list[tuple[Any, ...]]:
    """One tuple per customer in ``ASSIGNMENT_COLUMNS`` order."""
    p = placed.population
    bought = p.has_purchases
    n = p.size
    positions = p.positions
    scores: list[list[Any]] = []
    if positions is None:
        scores = [[None] * n for _ in range(6)]
    else:
        for array in (
            positions.r, positions.f, positions.m,
            positions.r_pct, positions.f_pct, positions.m_pct,
        ):  # fmt: skip
            scores.append(_nullable(array, bought))
    return list(
        zip(
            [run.id] * n,
            p.customer_ids,
            placed.segment_ids.tolist(),
            placed.confidence.tolist(),
            [run.as_of] * n,
            [run.computed_at] * n,
            bought.tolist(),
            _nullable(p.recency_days, bought),
            p.order_count.tolist(),
            p.total_spend.tolist(),
            p.tenure_days.tolist(),
            p.first_purchase_at,
            p.last_purchase_at,
            *scores,
            strict=True,
        )
    )


async def write_totals(session: AsyncSession, run_id: int) -> dict[str, int]:
    """Per-segment sums of one run, aggregated in the database; returns the
    customer count of each segment."""
    a = SegmentAssignment
    sums = (
        select(
            a.run_id,
            a.segment_id,
            func.count(),
            func.sum(a.order_count),
            func.sum(a.total_spend),
            func.sum(a.tenure_days),
            func.sum(a.confidence),
        )
        .where(a.run_id == run_id)
        .group_by(a.run_id, a.segment_id)
    )
    columns = ["run_id", "segment_id", "customer_count", "order_count",
               "total_spend", "tenure_days", "confidence_sum"]  # fmt: skip
    await session.execute(insert(SegmentRunTotal).from_select(columns, sums))
    counts = await session.execute(
        select(SegmentRunTotal.segment_id, SegmentRunTotal.customer_count).where(
            SegmentRunTotal.run_id == run_id
        )
    )
    return {segment_id: count for segment_id, count in counts.all()}


async def insert_snapshot(
    session: AsyncSession,
    run: SegmentRun,
    *,
    timezone: str,
    back_dated: bool,
    new_customer_days: int,
) -> None:
    """Compute and insert every customer's assignment in one statement.

    PostgreSQL's JIT compiler must stay off for it: LLVM takes minutes (and
    gigabytes) to optimise the 125-branch expressions it would otherwise
    compile, while the interpreter evaluates them in well under a second.
    """
    connection = await session.connection()
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        await session.execute(text("SET LOCAL jit = off"))
    statement = _snapshot_statement(postgres, back_dated, new_customer_days)
    parameters = snapshot_parameters(run.as_of, timezone)
    parameters.update(
        run_id=run.id, run_as_of=run.as_of, run_computed_at=run.computed_at
    )
    await session.execute(statement, parameters)


@functools.lru_cache(maxsize=16)
def _snapshot_statement(
    postgres: bool, back_dated: bool, new_customer_days: int
) -> Insert:
    """The INSERT ... SELECT of a snapshot, built once per shape: the
    expression tree of the 125 cells takes longer to build than a small
    population takes to place."""
    population = population_query(
        SHAPE_INSTANT,
        back_dated=back_dated,
        group_orders_first=postgres,
    ).subquery("population")
    g = with_gaps(population)
    c = g.c
    bought = c.has_purchases == 1

    def scored(column: Any) -> Any:
        return case((bought, column), else_=None)

    rows = select(
        bindparam("run_id", type_=Integer),
        c.customer_id,
        segment_expression(g, new_customer_days),
        confidence_expression(g, new_customer_days),
        bindparam("run_as_of", type_=UtcDateTime()),
        bindparam("run_computed_at", type_=UtcDateTime()),
        bought,
        scored(c.recency_days),
        c.order_count,
        c.total_spend,
        c.tenure_days,
        c.first_purchase_at,
        c.last_purchase_at,
        *(scored(c[name]) for name in ("r", "f", "m", "r_pct", "f_pct", "m_pct")),
    )
    # The Core table, not the ORM class: parameters then bind, not bulk-insert.
    table: Table = SegmentAssignment.__table__  # type: ignore[assignment]
    return insert(table).from_select(list(ASSIGNMENT_COLUMNS), rows)


def _features(row: Any, prefix: str) -> RfmFeatures:
    return RfmFeatures(
        days_since_last_order=getattr(row, f"{prefix}recency_days"),
        order_count=getattr(row, f"{prefix}order_count"),
        total_spend=getattr(row, f"{prefix}total_spend"),
        tenure_days=getattr(row, f"{prefix}tenure_days"),
        r=getattr(row, f"{prefix}r"),
        f=getattr(row, f"{prefix}f"),
        m=getattr(row, f"{prefix}m"),
    )


async def record_migrations(
    session: AsyncSession,
    run: SegmentRun,
    *,
    new_customer_days: int,
    recorded_by: str | None = None,
) -> int:
    """Compare the run with each customer's current assignment; store moves.

    Only customers whose segment changed come back from the database. A run
    older than a customer's current assignment (a back-dated snapshot) moves
    nobody.
    """
    new = aliased(SegmentAssignment)
    previous = current_table(excluding_run=run.id)
    old = previous.c
    fields = (
        "recency_days",
        "order_count",
        "total_spend",
        "tenure_days",
        "r",
        "f",
        "m",
    )
    query = (
        select(
            new.customer_id,
            old.segment_id.label("from_id"),
            new.segment_id.label("to_id"),
            *(old[name].label(f"old_{name}") for name in fields),
            *(getattr(new, name).label(f"new_{name}") for name in fields),
        )
        .join(previous, old.customer_id == new.customer_id)
        .where(
            new.run_id == run.id,
            old.segment_id != new.segment_id,
            old.as_of <= run.as_of,
        )
    )
    records = []
    for row in (await session.execute(query)).all():
        reason, impact = describe_migration(
            row.from_id,
            row.to_id,
            _features(row, "old_"),
            _features(row, "new_"),
            new_customer_days=new_customer_days,
        )
        records.append(
            (row.customer_id, run.id, row.from_id, row.to_id, reason,
             round(impact, 4), run.as_of, run.computed_at, False, recorded_by)
        )  # fmt: skip
    await bulk_insert(session, SegmentMigration.__table__, MIGRATION_COLUMNS, records)  # type: ignore[arg-type]
    return len(records)


async def store_run(
    session: AsyncSession,
    run: SegmentRun,
    placed: Placed,
    *,
    new_customer_days: int,
    recorded_by: str | None = None,
) -> int:
    """Write the assignments of placed customers and their migrations;
    return the number of moves."""
    await bulk_insert(
        session,
        SegmentAssignment.__table__,  # type: ignore[arg-type]
        ASSIGNMENT_COLUMNS,
        assignment_records(run, placed),
    )
    moves = await record_migrations(
        session, run, new_customer_days=new_customer_days, recorded_by=recorded_by
    )
    return moves
