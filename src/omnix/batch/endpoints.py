"""Section 6 of the guide: batch analysis (staff only).

Every path here starts with ``/customers/batch-analysis``; the router is
included before the ``/customers/{id}/...`` routers, and a test checks that
each path reaches its own route.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import structlog
from fastapi import APIRouter, BackgroundTasks, FastAPI, Path, Query
from fastapi.responses import JSONResponse

from omnix.batch import reports, schemas, service
from omnix.batch.config import batch_settings
from omnix.batch.tasks import batch_queue, close_batch_queue
from omnix.batch.worker import run_worker
from omnix.context import AppContext
from omnix.customers.endpoints import IdempotencyKey
from omnix.deps import ContextDep, ManagerUser, SessionDep
from omnix.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    UnprocessableContent,
    error_responses,
)
from omnix.system.idempotency import run_idempotent

log = structlog.get_logger()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Without Redis, the API process runs the batch workers itself."""
    context: AppContext = app.state.context
    stop = asyncio.Event()
    embedded = None
    if batch_settings(context).embedded_worker and not context.settings.redis_url:
        # The app's own start-up fits the population models; no warm-up here.
        embedded = asyncio.create_task(run_worker(context, stop, warm_up=False))
    try:
        yield
    finally:
        stop.set()
        if embedded is not None:
            await asyncio.gather(embedded, return_exceptions=True)
        await close_batch_queue(context)


router = APIRouter(
    prefix="/customers/batch-analysis", tags=["batch"], lifespan=lifespan
)

BatchId = Annotated[
    str,
    Path(alias="batchId", min_length=1, max_length=64, description="The batch id."),
]
READ_ERRORS = error_responses(BadRequest, Unauthorized, Forbidden, NotFound)


async def _dispatch(context: AppContext, count: int) -> None:
    """After the batch is committed: one queue message per job."""
    try:
        await batch_queue(context).dispatch(count)
    except Exception:
        # The jobs are stored; a worker's sweeper sends their messages later.
        log.exception("batch.dispatch_failed", jobs=count)


@router.post(
    "",
    operation_id="submitBatchAnalysis",
    status_code=202,
    response_model=schemas.BatchSubmitted,
    responses=error_responses(
        BadRequest, Unauthorized, Forbidden, UnprocessableContent
    ),
)
async def submit_batch_analysis(
    body: schemas.BatchRequest,
    staff: ManagerUser,
    session: SessionDep,
    context: ContextDep,
    background: BackgroundTasks,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Queue one analysis job per household and type; answers with the batch id."""
    created: list[int] = []

    async def action() -> tuple[int, object]:
        submitted = await service.submit_batch(
            context, session, body, batch_settings(context), requested_by=staff.user_id
        )
        created.append(submitted.job_count)
        return 202, submitted.model_dump(mode="json", by_alias=True)

    response = await run_idempotent(
        session,
        key=idempotency_key,
        principal=staff.user_id,
        scope="batch-analysis",
        payload=body,
        now=context.clock.wall(),
        action=action,
    )
    if created:
        # Runs after the request's transaction has committed the jobs.
        background.add_task(_dispatch, context, created[0])
    return response


@router.get(
    "/queue/stats",
    operation_id="getBatchQueueStats",
    responses=error_responses(Unauthorized, Forbidden),
)
async def get_queue_stats(
    _staff: ManagerUser, session: SessionDep, context: ContextDep
) -> schemas.QueueStats:
    """Jobs by state across batches, throughput, wait and run times, workers."""
    return await reports.queue_stats(
        session,
        batch_settings(context),
        context.clock.wall(),
        broker="redis" if context.settings.redis_url else "memory",
    )


@router.get("/{batchId}", operation_id="getBatchStatus", responses=READ_ERRORS)
async def get_batch_status(
    batch_id: BatchId,
    _staff: ManagerUser,
    session: SessionDep,
    context: ContextDep,
    offset: Annotated[
        int, Query(ge=0, le=1_000_000, description="Results to skip.")
    ] = 0,
    limit: Annotated[
        int, Query(ge=1, le=1000, description="Results to list (oldest job first).")
    ] = 100,
) -> schemas.BatchStatusResponse:
    """Counts by state, progress, timing, per-job errors and stored results."""
    batch = await service.get_batch(session, batch_id)
    return await reports.batch_status(
        session, batch, context.clock.wall(), offset=offset, limit=limit
    )


@router.post(
    "/{batchId}/cancel",
    operation_id="cancelBatchAnalysis",
    responses=error_responses(BadRequest, Unauthorized, Forbidden, NotFound, Conflict),
)
async def cancel_batch_analysis(
    batch_id: BatchId, staff: ManagerUser, session: SessionDep, context: ContextDep
) -> schemas.BatchStatusResponse:
    """Cancel the jobs not started yet; running ones finish and are kept."""
    batch = await service.cancel_batch(
        context, session, batch_id, cancelled_by=staff.user_id
    )
    return await reports.batch_status(
        session, batch, context.clock.wall(), offset=0, limit=100
    )
