"""Store-wide figures for managers: revenue against target, inventory outlook.

The manager dashboard's two panels the guide draws without naming an
endpoint; the household analyses of section 2 are in ``endpoints``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from omnix.analytics import revenue, schemas
from omnix.analytics.inventory import inventory_forecast
from omnix.analytics.service import MAX_HORIZON_DAYS
from omnix.deps import ContextDep, ManagerUser, SessionDep
from omnix.errors import BadRequest, Forbidden, NotFound, Unauthorized, error_responses
from omnix.schemas import StoreDate

router = APIRouter(prefix="/analytics", tags=["analytics"])

STAFF_ERRORS = error_responses(BadRequest, Unauthorized, Forbidden)
TARGET_ERRORS = error_responses(BadRequest, Unauthorized, Forbidden, NotFound)
MAX_FORECAST_PRODUCTS = 200

GranularityParam = Literal["day", "week", "month"]
TargetGranularity = Annotated[
    GranularityParam, Path(description="The series the target belongs to.")
]
TargetStart = Annotated[
    StoreDate,
    Path(
        alias="periodStart",
        description="Store-local first day of the period (a Monday for a week, "
        "the 1st for a month).",
    ),
]


@router.get("/revenue", operation_id="getRevenueSeries", responses=STAFF_ERRORS)
async def revenue_series(
    _staff: ManagerUser,
    session: SessionDep,
    context: ContextDep,
    granularity: Annotated[
        GranularityParam, Query(description="Length of one period.")
    ] = "week",
    periods: Annotated[
        int | None,
        Query(
            ge=1,
            le=revenue.MAX_PERIODS,
            description="How many periods up to now (default: 90 days, 52 weeks "
            "or 24 months); none before the first sale.",
        ),
    ] = None,
) -> schemas.RevenueSeries:
    """Revenue of all households per period, against the target (staff)."""
    settings = context.settings
    points = await revenue.revenue_series(
        session,
        now=context.clock.now(),
        timezone=settings.timezone,
        granularity=granularity,
        periods=periods or revenue.DEFAULT_PERIODS[granularity],
        growth_goal=settings.revenue_growth_goal,
    )
    return schemas.RevenueSeries(
        granularity=granularity,
        timezone=settings.timezone,
        growth_goal=settings.revenue_growth_goal,
        points=[
            schemas.RevenuePoint.model_validate(point, from_attributes=True)
            for point in points
        ],
    )


@router.put(
    "/revenue-targets/{granularity}/{periodStart}",
    operation_id="putRevenueTarget",
    responses=TARGET_ERRORS,
)
async def put_revenue_target(
    granularity: TargetGranularity,
    start: TargetStart,
    body: schemas.RevenueTargetBody,
    staff: ManagerUser,
    session: SessionDep,
    context: ContextDep,
) -> schemas.RevenueTarget:
    """Set one period's revenue target; sending it again changes nothing (staff)."""
    revenue.check_period_start(granularity, start, "path.periodStart")
    target = await revenue.put_target(
        session,
        granularity=granularity,
        start=start,
        amount=body.amount,
        user_id=staff.user_id,
        at=context.clock.wall(),
    )
    return schemas.RevenueTarget.model_validate(target, from_attributes=True)


@router.delete(
    "/revenue-targets/{granularity}/{periodStart}",
    operation_id="deleteRevenueTarget",
    status_code=204,
    responses=TARGET_ERRORS,
)
async def delete_revenue_target(
    granularity: TargetGranularity,
    start: TargetStart,
    _staff: ManagerUser,
    session: SessionDep,
) -> Response:
    """Remove a period's target: it is derived from past revenue again (staff)."""
    # No check that the day starts a period: no target can start elsewhere,
    # so such a day is simply not found.
    await revenue.delete_target(session, granularity, start)
    return Response(status_code=204)


@router.get(
    "/inventory-forecast",
    operation_id="getInventoryForecast",
    responses=STAFF_ERRORS,
)
async def get_inventory_forecast(
    _staff: ManagerUser,
    session: SessionDep,
    context: ContextDep,
    days: Annotated[
        int,
        Query(ge=1, le=MAX_HORIZON_DAYS, description="Horizon from business now."),
    ] = 7,
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=MAX_FORECAST_PRODUCTS,
            description="Products (and categories) listed, most units first.",
        ),
    ] = 20,
) -> schemas.InventoryForecast:
    """Units the replenishment predictions expect households to buy (staff)."""
    return await inventory_forecast(context, session, days, limit)
