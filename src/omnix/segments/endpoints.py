"""Section 3 of the guide: customer segmentation.

The fixed paths (``/customers/segments/...``, ``/customers/segmentation/batch``)
are declared before the ``/customers/{id}/...`` ones; their depths differ
anyway, and a test checks that each path reaches its own route.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from omnix.deps import (
    ClockDep,
    ContextDep,
    CurrentUser,
    ManagerUser,
    SessionDep,
    ensure_customer_access,
)
from omnix.engine.segments_catalogue import SEGMENTS_BY_ID
from omnix.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    error_responses,
)
from omnix.schemas import Message
from omnix.segments import reports, schemas, segmentation, service
from omnix.segments.segmentation import Policy

router = APIRouter(prefix="/customers", tags=["segments"])

CustomerId = Annotated[
    str,
    Path(alias="id", min_length=1, max_length=64, description="The customer's id."),
]
SegmentIdPath = Annotated[
    str,
    Path(
        alias="segmentId",
        min_length=1,
        max_length=64,
        description=f"One of: {', '.join(SEGMENTS_BY_ID)}.",
    ),
]
READ_ERRORS = error_responses(BadRequest, Unauthorized, Forbidden, NotFound)
WRITE_ERRORS = error_responses(BadRequest, Unauthorized, Forbidden, NotFound, Conflict)


def _known_segment(segment_id: str) -> str:
    if segment_id not in SEGMENTS_BY_ID:
        raise NotFound(
            f"Segment {segment_id!r} not found; valid segment ids: "
            f"{', '.join(SEGMENTS_BY_ID)}"
        )
    return segment_id


@router.get(
    "/segments/overview", operation_id="getSegmentOverview", responses=READ_ERRORS
)
async def get_segment_overview(
    _staff: ManagerUser, session: SessionDep, context: ContextDep
) -> schemas.SegmentOverview:
    """Every segment with its current customers and strategy, plus statistics."""
    return await reports.overview(
        session,
        now=context.clock.now(),
        new_customer_days=Policy.of(context).new_customer_days,
    )


@router.get(
    "/segments/{segmentId}/performance",
    operation_id="getSegmentPerformance",
    responses=READ_ERRORS,
)
async def get_segment_performance(
    segment_id: SegmentIdPath,
    _staff: ManagerUser,
    session: SessionDep,
    clock: ClockDep,
    period_days: Annotated[
        int,
        Query(
            alias="periodDays",
            ge=1,
            le=730,
            description="Length of the period ending now.",
        ),
    ] = 90,
) -> schemas.SegmentPerformanceMetrics:
    """Revenue, order value, frequency, retention, migrations and trend (staff)."""
    return await reports.performance(
        session, _known_segment(segment_id), now=clock.now(), period_days=period_days
    )


@router.post(
    "/segments/migrate", operation_id="migrateCustomerSegment", responses=WRITE_ERRORS
)
async def migrate_customer_segment(
    body: schemas.ManualMigrationRequest,
    staff: ManagerUser,
    session: SessionDep,
    context: ContextDep,
) -> Message:
    """Move a customer to another segment by hand and record why (staff)."""
    policy = Policy.of(context)
    migration = await service.migrate_manually(
        session,
        customer_id=body.customer_id,
        from_segment=body.from_segment,
        to_segment=body.to_segment,
        reason=body.reason,
        impact_score=body.impact_score,
        as_of=context.clock.now(),
        recorded_by=staff.user_id,
        timezone=policy.timezone,
        new_customer_days=policy.new_customer_days,
    )
    return Message(
        message=f"Customer {body.customer_id} moved from {body.from_segment} to "
        f"{body.to_segment} (impact {migration.impact_score:+.2f})."
    )


@router.post(
    "/segmentation/batch",
    operation_id="segmentCustomersBatch",
    responses=WRITE_ERRORS,
)
async def segment_customers_batch(
    body: schemas.SegmentationRequest,
    staff: ManagerUser,
    session: SessionDep,
    context: ContextDep,
) -> schemas.SegmentationResponse:
    """Segments of many customers; unknown ids are listed in notFound (staff)."""
    return await segmentation.segment_customers(
        session,
        body.customer_ids,
        body,
        now=context.clock.now(),
        policy=Policy.of(context),
        triggered_by=staff.user_id,
    )


@router.post(
    "/{id}/segmentation", operation_id="segmentCustomer", responses=WRITE_ERRORS
)
async def segment_customer(
    customer_id: CustomerId,
    body: schemas.SegmentationOptions,
    principal: CurrentUser,
    session: SessionDep,
    context: ContextDep,
) -> schemas.SegmentationResponse:
    """A customer's segment, recomputed when asked or never computed before."""
    ensure_customer_access(principal, customer_id)
    await segmentation.ensure_customer(session, customer_id)
    return await segmentation.segment_customers(
        session,
        [customer_id],
        body,
        now=context.clock.now(),
        policy=Policy.of(context),
        triggered_by=principal.user_id,
    )


@router.get("/{id}/segment", operation_id="getCustomerSegment", responses=READ_ERRORS)
async def get_customer_segment(
    customer_id: CustomerId,
    principal: CurrentUser,
    session: SessionDep,
    context: ContextDep,
) -> schemas.CurrentSegmentResponse:
    """The customer's current segment; `assignments[0]` is the same assignment."""
    ensure_customer_access(principal, customer_id)
    return await segmentation.current_segment(
        session, customer_id, now=context.clock.now(), policy=Policy.of(context)
    )


@router.get(
    "/{id}/segment-recommendations",
    operation_id="getSegmentRecommendations",
    responses=READ_ERRORS,
)
async def get_segment_recommendations(
    customer_id: CustomerId,
    principal: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    include_strategy: Annotated[
        bool,
        Query(alias="includeStrategy", description="Add the segment's strategy."),
    ] = False,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> schemas.SegmentRecommendationsResponse:
    """Products popular in the customer's segment lately, with its strategy."""
    ensure_customer_access(principal, customer_id)
    return await segmentation.segment_recommendations(
        session,
        customer_id,
        now=context.clock.now(),
        policy=Policy.of(context),
        include_strategy=include_strategy,
        limit=limit,
    )
