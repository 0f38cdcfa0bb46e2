"""Submitting and cancelling batches: which households, which analyses, what
they may cost. Everything happens in the caller's transaction; queue messages
are sent only after it commits (``tasks.BatchQueue.dispatch``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.analysers.catalogue import estimate_cost
from omnix.analysers.registry import AnalyserInfo
from omnix.analytics.service import analyser_registry
from omnix.batch import leases
from omnix.batch.config import BatchSettings
from omnix.batch.models import OPEN_STATES, PRIORITIES, QUEUED, Batch, BatchJob
from omnix.batch.schemas import BatchRequest, BatchSubmitted
from omnix.context import AppContext
from omnix.customers.models import Customer
from omnix.errors import BadRequest, Conflict, NotFound, field_error
from omnix.segments.current import current_table
from omnix.segments.service import check_segment_id

SHOWN_UNKNOWN = 20
# Rows per INSERT; well below the bind-parameter limits of both engines.
INSERT_CHUNK = 2_000


def status_url(batch_id: str) -> str:
    return f"/v1/customers/batch-analysis/{batch_id}"


def _selection(body: BatchRequest) -> str:
    given = [
        name
        for name, present in (
            ("customerIds", body.customer_ids is not None),
            ("segmentId", body.segment_id is not None),
            ("allCustomers", body.all_customers),
        )
        if present
    ]
    if len(given) != 1:
        problem = "none was given" if not given else f"got {', '.join(given)}"
        raise BadRequest(
            "Name the households exactly one way: customerIds, segmentId or "
            f"allCustomers; {problem}",
            details=[
                {"field": f"body.{name}", "message": "give exactly one of these"}
                for name in ("customerIds", "segmentId", "allCustomers")
            ],
        )
    return {"customerIds": "customers", "segmentId": "segment"}.get(given[0], "all")


def _analyser(
    context: AppContext, model: str | None, analysis_types: Sequence[str]
) -> AnalyserInfo:
    """The model every job asks for (checked now, not once per job), or the
    default one the estimate is made for when none is named."""
    registry = analyser_registry(context)
    if model is None:
        return registry.get(registry.default_id)
    analyser = registry.get(model, "body.model")
    unsupported = [t for t in analysis_types if not analyser.supports(t)]
    if unsupported:
        raise field_error(
            "body.analysisTypes",
            f"model {model} does not support {', '.join(unsupported)}",
        )
    if not analyser.available:
        raise field_error(
            "body.model", f"model {model} is unavailable: {analyser.unavailable_reason}"
        )
    return analyser


async def _listed_customers(
    session: AsyncSession, ids: list[str], settings: BatchSettings
) -> list[str]:
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        raise field_error("body.customerIds", "is empty; name at least one household")
    if len(wanted) > settings.max_customer_ids:
        raise field_error(
            "body.customerIds",
            f"{len(wanted)} households, more than the {settings.max_customer_ids} "
            "a list may name; use segmentId or allCustomers",
        )
    known: set[str] = set()
    for first in range(0, len(wanted), INSERT_CHUNK):
        chunk = wanted[first : first + INSERT_CHUNK]
        found = await session.scalars(select(Customer.id).where(Customer.id.in_(chunk)))
        known.update(found)
    unknown = [i for i in wanted if i not in known]
    if unknown:
        shown = ", ".join(unknown[:SHOWN_UNKNOWN])
        hidden = len(unknown) - SHOWN_UNKNOWN
        more = f" and {hidden} more" if hidden > 0 else ""
        raise BadRequest(
            f"Unknown customers: {shown}{more}",
            details=[
                {"field": "body.customerIds", "message": f"unknown customer {i}"}
                for i in unknown[:SHOWN_UNKNOWN]
            ],
        )
    return wanted


async def _segment_customers(session: AsyncSession, segment_id: str) -> list[str]:
    check_segment_id("body.segmentId", segment_id)
    current = current_table()
    members = await session.scalars(
        select(current.c.customer_id)
        .where(current.c.segment_id == segment_id)
        .order_by(current.c.customer_id)
    )
    found = list(members)
    if not found:
        raise field_error(
            "body.segmentId",
            f"segment {segment_id} has no customers now (or segments were never "
            "computed)",
        )
    return found


async def _all_customers(session: AsyncSession) -> list[str]:
    found = list(await session.scalars(select(Customer.id).order_by(Customer.id)))
    if not found:
        raise field_error("body.allCustomers", "there are no customers to analyse")
    return found


def _estimate(
    context: AppContext, analyser: AnalyserInfo, types: list[str], households: int
) -> tuple[float | None, str]:
    """The sum of the per-type estimates; unknown if any part is unknown."""
    total: float | None = 0.0
    notes = []
    for analysis_type in types:
        amount, note = estimate_cost(context, analyser.id, analysis_type, households)
        total = None if amount is None or total is None else total + amount
        if note not in notes:
            notes.append(note)
    return (None if total is None else round(total, 6)), " ".join(notes)


async def submit_batch(
    context: AppContext,
    session: AsyncSession,
    body: BatchRequest,
    settings: BatchSettings,
    *,
    requested_by: str,
) -> BatchSubmitted:
    """Store a batch and its queued jobs, one per household and analysis type."""
    selection = _selection(body)
    types: list[str] = list(dict.fromkeys(body.analysis_types))
    analyser = _analyser(context, body.model, types)
    if selection == "customers":
        assert body.customer_ids is not None
        customers = await _listed_customers(session, body.customer_ids, settings)
    elif selection == "segment":
        assert body.segment_id is not None
        customers = await _segment_customers(session, body.segment_id)
    else:
        customers = await _all_customers(session)
    job_count = len(customers) * len(types)
    if job_count > settings.max_jobs:
        raise BadRequest(
            f"{len(customers)} households × {len(types)} analysis types = "
            f"{job_count} jobs, more than the {settings.max_jobs} a batch may hold",
            details=[
                {"field": "body.analysisTypes", "message": "too many jobs"},
                {"field": _SELECTION_FIELDS[selection], "message": "too many jobs"},
            ],
        )
    amount, note = _estimate(context, analyser, types, len(customers))
    if body.model is None:
        note += (
            " Without a model, each household's experiment assignment may pick "
            "another one."
        )
    now = context.clock.wall()
    batch = Batch(
        id=str(uuid.uuid4()),
        requested_by=requested_by,
        selection=selection,
        segment_id=body.segment_id,
        analysis_types=types,
        analyser_id=body.model,
        priority=PRIORITIES[body.priority],
        job_count=job_count,
        estimated_cost_usd=amount,
        cost_note=note[:1000],
        as_of=context.clock.now(),
        created_at=now,
    )
    session.add(batch)
    await session.flush()
    await _insert_jobs(session, batch, customers, types, now)
    return BatchSubmitted(
        batch_id=batch.id,
        job_count=job_count,
        customer_count=len(customers),
        analysis_types=types,
        estimated_cost=amount,
        cost_note=batch.cost_note,
        model=analyser.id,
        priority=body.priority,
        status="queued",
        created_at=now,
        status_url=status_url(batch.id),
    )


_SELECTION_FIELDS = {
    "customers": "body.customerIds",
    "segment": "body.segmentId",
    "all": "body.allCustomers",
}


async def _insert_jobs(
    session: AsyncSession,
    batch: Batch,
    customers: list[str],
    types: list[str],
    now: datetime,
) -> None:
    rows: list[dict[str, Any]] = [
        {
            "batch_id": batch.id,
            "customer_id": customer_id,
            "analysis_type": analysis_type,
            "priority": batch.priority,
            "state": QUEUED,
            "attempts": 0,
            "retries": 0,
            "queued_at": now,
            "due_at": now,
            "dispatched_at": now,
        }
        for customer_id in customers
        for analysis_type in types
    ]
    for first in range(0, len(rows), INSERT_CHUNK):
        await session.execute(insert(BatchJob), rows[first : first + INSERT_CHUNK])


async def get_batch(session: AsyncSession, batch_id: str) -> Batch:
    batch = await session.get(Batch, batch_id)
    if batch is None:
        raise NotFound(f"Batch {batch_id} not found")
    return batch


async def cancel_batch(
    context: AppContext, session: AsyncSession, batch_id: str, *, cancelled_by: str
) -> Batch:
    """Cancel the queued jobs of a batch; jobs already running finish.

    Cancelling a cancelled batch changes nothing; a batch with no open job
    left cannot be cancelled (409).
    """
    batch = await get_batch(session, batch_id)
    if batch.cancelled_at is not None:
        return batch
    open_jobs = await session.scalar(
        select(func.count()).where(
            BatchJob.batch_id == batch_id, BatchJob.state.in_(OPEN_STATES)
        )
    )
    if not open_jobs:
        raise Conflict(f"Batch {batch_id} has finished; there is nothing to cancel")
    now = context.clock.wall()
    batch.cancelled_at = now
    batch.cancelled_by = cancelled_by
    await leases.cancel_queued(session, batch_id, now)
    await session.flush()
    return batch
