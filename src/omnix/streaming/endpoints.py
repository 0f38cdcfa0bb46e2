"""Section 5 of the guide: publishing events, the stream, insights.

Who may do what: staff publish any event and manage the stream; a customer
may publish purchase events about their own household only (as the
purchases API lets them add their own purchases) and read their own
insights. Segment updates and consumption predictions are computed
analytics, which customers may not set. See also ``/ws`` (:mod:`.ws`).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.context import AppContext
from omnix.customers.service import get_customer
from omnix.deps import (
    ContextDep,
    CurrentUser,
    ManagerUser,
    Principal,
    SessionDep,
    ensure_customer_access,
)
from omnix.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthorized,
    error_responses,
)
from omnix.streaming import reports, schemas
from omnix.streaming.bus import StreamNotFoundError, describe_error
from omnix.streaming.relay import publish
from omnix.streaming.runtime import StreamingRuntime, streaming_runtime
from omnix.streaming.service import accept_events
from omnix.streaming.ws import router as ws_router

api = APIRouter(prefix="/streaming", tags=["streaming"])

PUBLISH_ERRORS = error_responses(
    BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge
)
READ_ERRORS = error_responses(BadRequest, Unauthorized, Forbidden, NotFound)
STAFF_ERRORS = error_responses(Unauthorized, Forbidden, ServiceUnavailable)
RETRY_AFTER = {"Retry-After": "5"}


async def _runtime(context: ContextDep) -> StreamingRuntime:
    return streaming_runtime(context)


RuntimeDep = Annotated[StreamingRuntime, Depends(_runtime)]


def _message(duplicate: bool, processed: bool, relayed: bool, count: int) -> str:
    if duplicate:
        return "Event already accepted; nothing changed"
    if not relayed:
        return (
            "Event accepted and stored; the stream is unreachable, so it will be "
            "relayed and applied when the stream is back"
        )
    if processed:
        return f"Event applied: {count} insight(s)"
    return (
        "Event accepted; its insights follow on /ws and "
        "GET /v1/streaming/insights/{customerId}"
    )


async def _publish_one(
    event: schemas.AnyEvent,
    session: AsyncSession,
    context: AppContext,
    runtime: StreamingRuntime,
) -> schemas.PublishResponse:
    clock = context.clock
    acceptance = await accept_events(
        session,
        runtime.settings.stream,
        [event],
        business_now=clock.now(),
        wall_now=clock.wall(),
        batch=False,
        published=True,
    )
    # Acknowledging means durable: commit before publishing to the bus, so
    # a consumer never sees an event the database might still roll back.
    await session.commit()
    (event_id,) = acceptance.event_ids
    relayed = True
    if acceptance.fresh:
        wait_s = runtime.settings.response_wait_ms / 1000
        applied = runtime.hub.expect(event_id)
        try:
            relayed = await publish(
                context, runtime, [acceptance.fresh[0].payload], marked=True
            )
            if relayed and wait_s > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(applied), wait_s)
        finally:
            runtime.hub.forget(event_id, applied)
    processed, insights = await reports.event_outcome(session, event_id)
    duplicate = not acceptance.fresh
    return schemas.PublishResponse(
        message=_message(duplicate, processed, relayed, len(insights)),
        insights=insights,
        event_id=event_id,
        duplicate=duplicate,
        processed=processed,
        relayed=relayed,
    )


@api.post(
    "/events/purchase", operation_id="publishPurchaseEvent", responses=PUBLISH_ERRORS
)
async def publish_purchase_event(
    body: schemas.PurchaseEvent,
    principal: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    runtime: RuntimeDep,
) -> schemas.PublishResponse:
    """Publish one purchase line; answers with the insights it produced."""
    ensure_customer_access(principal, body.customer_id)
    return await _publish_one(body, session, context, runtime)


@api.post(
    "/events/segment-update",
    operation_id="publishSegmentUpdateEvent",
    responses=PUBLISH_ERRORS,
)
async def publish_segment_update_event(
    body: schemas.CustomerSegmentUpdateEvent,
    _staff: ManagerUser,
    session: SessionDep,
    context: ContextDep,
    runtime: RuntimeDep,
) -> schemas.PublishResponse:
    """Publish a household's new segment, decided elsewhere (staff)."""
    return await _publish_one(body, session, context, runtime)


@api.post(
    "/events/consumption-prediction",
    operation_id="publishConsumptionPredictionEvent",
    responses=PUBLISH_ERRORS,
)
async def publish_consumption_prediction_event(
    body: schemas.ConsumptionPredictionEvent,
    _staff: ManagerUser,
    session: SessionDep,
    context: ContextDep,
    runtime: RuntimeDep,
) -> schemas.PublishResponse:
    """Publish a predicted next purchase from another model (staff)."""
    return await _publish_one(body, session, context, runtime)


async def _batch_within_cap(request: Request, runtime: RuntimeDep) -> None:
    """413 before validating a batch over the cap (the body is parsed once)."""
    with contextlib.suppress(ValueError):
        body: Any = await request.json()
        cap = runtime.settings.max_batch_events
        if isinstance(body, list) and len(body) > cap:
            raise PayloadTooLarge(
                f"A batch holds at most {cap} events; this one has {len(body)}"
            )


def _check_batch_access(principal: Principal, events: list[schemas.AnyEvent]) -> None:
    if principal.is_staff:
        return
    for index, event in enumerate(events):
        if not isinstance(event, schemas.PurchaseEvent):
            raise Forbidden(f"Item {index}: only staff may publish this kind of event")
        ensure_customer_access(principal, event.customer_id)


@api.post(
    "/events/batch",
    operation_id="publishBatchEvents",
    responses=PUBLISH_ERRORS,
    dependencies=[Depends(_batch_within_cap)],
)
async def publish_batch_events(
    principal: CurrentUser,
    body: list[schemas.StreamEvent],
    session: SessionDep,
    context: ContextDep,
    runtime: RuntimeDep,
) -> schemas.BatchPublishResponse:
    """Publish many events at once: all are stored, or none (a 4xx)."""
    _check_batch_access(principal, body)
    if not body:
        raise BadRequest(
            "A batch needs at least one event",
            details=[{"field": "body", "message": "empty list"}],
        )
    acceptance = await accept_events(
        session,
        runtime.settings.stream,
        body,
        business_now=context.clock.now(),
        wall_now=context.clock.wall(),
        batch=True,
        published=True,
    )
    await session.commit()
    relayed = await publish(
        context, runtime, [e.payload for e in acceptance.fresh], marked=True
    )
    fresh = len(acceptance.fresh)
    message = f"{fresh} event(s) accepted, {len(acceptance.duplicates)} duplicate(s)"
    if not relayed:
        message += "; the stream is unreachable: they will be relayed when it is back"
    return schemas.BatchPublishResponse(
        message=message,
        published_count=fresh,
        duplicate_count=len(acceptance.duplicates),
        event_ids=acceptance.event_ids,
        duplicates=acceptance.duplicates,
        relayed=relayed,
    )


async def _stream_names(runtime: StreamingRuntime) -> list[str]:
    try:
        return await runtime.bus.list_streams()
    except runtime.bus.transient_errors as exc:
        raise ServiceUnavailable(
            f"The stream is unreachable: {describe_error(exc)}", headers=RETRY_AFTER
        ) from exc


@api.get("/stream/status", operation_id="getStreamStatus", responses=STAFF_ERRORS)
async def get_stream_status(
    _staff: ManagerUser, runtime: RuntimeDep
) -> schemas.StreamStatus:
    """The events stream: whether it exists and answers, and its setup (staff)."""
    status: Any = "ACTIVE"
    try:
        if runtime.settings.stream not in await runtime.bus.list_streams():
            status = "NOT_CREATED"
    except runtime.bus.transient_errors:
        status = "UNAVAILABLE"
    return schemas.StreamStatus(
        stream_name=runtime.settings.stream,
        status=status,
        config=reports.stream_config(runtime),
    )


@api.get(
    "/stream/metrics",
    operation_id="getStreamMetrics",
    responses={**STAFF_ERRORS, **error_responses(NotFound)},
)
async def get_stream_metrics(
    _staff: ManagerUser,
    session: SessionDep,
    context: ContextDep,
    runtime: RuntimeDep,
) -> schemas.KinesisStreamMetrics:
    """Length, pending, lag, consumers, throughput, latency, dead letters (staff)."""
    try:
        return await reports.stream_metrics(session, runtime, context.clock.wall())
    except StreamNotFoundError as exc:
        raise NotFound(
            f"Stream {runtime.settings.stream} has not been created yet"
        ) from exc
    except runtime.bus.transient_errors as exc:
        raise ServiceUnavailable(
            f"The stream is unreachable: {describe_error(exc)}", headers=RETRY_AFTER
        ) from exc


@api.get("/streams", operation_id="listStreams", responses=STAFF_ERRORS)
async def list_streams(_staff: ManagerUser, runtime: RuntimeDep) -> schemas.StreamList:
    """Every stream of the bus (staff)."""
    return schemas.StreamList(streams=await _stream_names(runtime))


@api.post(
    "/stream/create",
    operation_id="createStream",
    status_code=201,
    responses={
        **STAFF_ERRORS,
        **error_responses(BadRequest),
        200: {
            "model": schemas.CreateStreamResponse,
            "description": "Already existed; unchanged.",
        },
    },
)
async def create_stream(
    _staff: ManagerUser,
    runtime: RuntimeDep,
    response: Response,
    body: schemas.CreateStreamRequest | None = None,
) -> schemas.CreateStreamResponse:
    """Create a stream and the insight consumers' group on it (staff)."""
    name = (body.stream_name if body else None) or runtime.settings.stream
    existed = name in await _stream_names(runtime)
    try:
        await runtime.bus.create_stream(name, group=runtime.settings.group)
    except runtime.bus.transient_errors as exc:
        raise ServiceUnavailable(
            f"The stream is unreachable: {describe_error(exc)}", headers=RETRY_AFTER
        ) from exc
    if existed:
        response.status_code = 200
    return schemas.CreateStreamResponse(
        message=f"Stream {name} {'already exists' if existed else 'created'}",
        stream_name=name,
        created=not existed,
    )


@api.get(
    "/insights/system/overview",
    operation_id="getSystemInsightsOverview",
    responses=error_responses(Unauthorized, Forbidden),
)
async def get_system_insights_overview(
    _staff: ManagerUser,
    session: SessionDep,
    context: ContextDep,
    runtime: RuntimeDep,
) -> schemas.SystemInsightsOverview:
    """Insights by type and priority, and how processing is doing (staff)."""
    return await reports.overview(session, runtime, context.clock.wall())


@api.get(
    "/insights/{customerId}", operation_id="getCustomerInsights", responses=READ_ERRORS
)
async def get_customer_insights(
    customer_id: Annotated[str, Path(alias="customerId", min_length=1, max_length=64)],
    principal: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    hours: Annotated[int, Query(ge=1, le=8760)] = 24,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> schemas.CustomerInsights:
    """A household's insights whose event time is within the last ``hours``."""
    ensure_customer_access(principal, customer_id)
    await get_customer(session, customer_id)
    return await reports.customer_insights(
        session, customer_id, hours=hours, limit=limit, now=context.clock.now()
    )


router = APIRouter()
router.include_router(api, prefix="/v1")
router.include_router(ws_router)
