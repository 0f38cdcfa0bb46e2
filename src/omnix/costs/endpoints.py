"""Section 6 of the guide: what the analyses cost, per customer and overall."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from omnix.analysers.runtime import analyser_runtime
from omnix.costs import schemas, service
from omnix.customers.endpoints import READ_ERRORS, CustomerId
from omnix.deps import (
    ContextDep,
    CurrentUser,
    ManagerUser,
    SessionDep,
    ensure_customer_access,
)

# Included before the customers router: "/customers/cost-analytics/..." must
# never be read as a customer whose id is "cost-analytics".
router = APIRouter(prefix="/customers", tags=["costs"])

Days = Annotated[
    int,
    Query(ge=1, le=service.MAX_DAYS, description="Window: the last this many days."),
]


@router.get(
    "/cost-analytics/overview",
    operation_id="getCostOverview",
    responses=READ_ERRORS,
)
async def cost_overview(
    _staff: ManagerUser,
    session: SessionDep,
    context: ContextDep,
    time_range: Annotated[
        schemas.TimeRange,
        Query(
            alias="timeRange",
            description="day: the last 24 hours; week: 7 days; month: 30 days.",
        ),
    ] = "day",
) -> schemas.CostAnalytics:
    """Cost of every analysis in the window, by model, analysis type and segment."""
    return await service.cost_analytics(
        session,
        analyser_runtime(context).registry,
        context.clock,
        days=service.TIME_RANGE_DAYS[time_range],
        time_range=time_range,
    )


@router.get(
    "/cost-analytics/top-customers",
    operation_id="getTopCustomersByCost",
    responses=READ_ERRORS,
)
async def top_customers(
    _staff: ManagerUser,
    session: SessionDep,
    context: ContextDep,
    limit: Annotated[
        int, Query(ge=1, le=service.MAX_TOP_CUSTOMERS, description="At most 100.")
    ] = 10,
    days: Days = 30,
) -> list[schemas.TopCustomerCost]:
    """The customers whose analyses cost most in the window, dearest first."""
    return await service.top_customers(session, context.clock, limit=limit, days=days)


@router.get(
    "/{id}/cost-analytics",
    operation_id="getCustomerCostAnalytics",
    responses=READ_ERRORS,
)
async def customer_cost_analytics(
    customer_id: CustomerId,
    principal: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    days: Days = 30,
) -> schemas.CostAnalytics:
    """Cost of one customer's analyses, compared with their spend."""
    ensure_customer_access(principal, customer_id)
    return await service.cost_analytics(
        session,
        analyser_runtime(context).registry,
        context.clock,
        days=days,
        customer_id=customer_id,
    )
