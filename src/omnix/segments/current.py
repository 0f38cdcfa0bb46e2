"""Reading the current assignments (defined in
:func:`omnix.segments.models.current_assignment_select`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Subquery

from omnix.segments.models import (
    RUN_RECOMPUTE,
    SegmentAssignment,
    SegmentRun,
    current_assignment_select,
)


async def latest_full_run(
    session: AsyncSession, *, excluding: int | None = None
) -> SegmentRun | None:
    """The full recomputation with the greatest business time, then id."""
    query = select(SegmentRun).where(SegmentRun.kind == RUN_RECOMPUTE)
    if excluding is not None:
        query = query.where(SegmentRun.id != excluding)
    query = query.order_by(SegmentRun.as_of.desc(), SegmentRun.id.desc()).limit(1)
    return await session.scalar(query)


def current_table(*, excluding_run: int | None = None) -> Subquery:
    """The current assignments as a subquery with the assignment columns."""
    return current_assignment_select(excluding_run).subquery("current")


def as_entity(current: Subquery) -> Any:
    """The subquery mapped as :class:`SegmentAssignment` rows."""
    return aliased(SegmentAssignment, current, name="current_assignment")


async def current_assignment_of(
    session: AsyncSession, customer_id: str
) -> SegmentAssignment | None:
    """One customer's current assignment, or None before any."""
    entity = as_entity(current_table())
    query = (
        select(entity)
        .where(entity.customer_id == customer_id)
        .execution_options(populate_existing=True)
    )
    result: SegmentAssignment | None = await session.scalar(query)
    return result
