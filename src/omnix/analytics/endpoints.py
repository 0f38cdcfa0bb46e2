"""Section 2 of the guide: analyses of one household."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from omnix.analysers.registry import FULL_ANALYSIS
from omnix.analytics import mapping, schemas, service
from omnix.customers.endpoints import MAX_PAGE, READ_ERRORS, CustomerId
from omnix.deps import (
    ContextDep,
    CurrentUser,
    Principal,
    SessionDep,
    ensure_customer_access,
)
from omnix.errors import Forbidden

router = APIRouter(prefix="/customers", tags=["analytics"])

ModelParam = Annotated[
    str | None,
    Query(
        max_length=120,
        description="Analysis model id (staff only); the default when absent.",
    ),
]
Horizon = Annotated[
    int,
    Query(
        alias="horizonDays",
        ge=1,
        le=service.MAX_HORIZON_DAYS,
        description="Alert for products expected to run out within this many days.",
    ),
]


def _check(principal: Principal, customer_id: str, model: str | None) -> None:
    ensure_customer_access(principal, customer_id)
    if model is not None and not principal.is_staff:
        raise Forbidden("Only staff may choose the analysis model")


@router.get("/{id}/ai-analysis", operation_id="getAiAnalysis", responses=READ_ERRORS)
async def ai_analysis(
    customer_id: CustomerId,
    principal: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    model: ModelParam = None,
) -> schemas.AIAnalysisResult:
    """A complete analysis: rhythms, profile, recommendations, alerts, activity."""
    _check(principal, customer_id, model)
    run = await service.run_analysis(
        context, session, customer_id, analysis_type=FULL_ANALYSIS, analyser_id=model
    )
    return service.full_result(run)


@router.get(
    "/{id}/consumption-predictions",
    operation_id="getConsumptionPredictions",
    responses=READ_ERRORS,
)
async def consumption_predictions(
    customer_id: CustomerId,
    principal: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    limit: Annotated[
        int, Query(ge=1, le=1000, description="Most confident patterns first.")
    ] = 100,
    min_purchase_days: Annotated[
        int,
        Query(
            alias="minPurchaseDays",
            ge=1,
            le=365,
            description="Leave out products bought on fewer distinct days.",
        ),
    ] = 1,
    model: ModelParam = None,
) -> list[schemas.ConsumptionPattern]:
    """Per-product purchase rhythms with the predicted next purchase date."""
    _check(principal, customer_id, model)
    run = await service.run_analysis(
        context,
        session,
        customer_id,
        analysis_type="consumption_prediction",
        analyser_id=model,
    )
    patterns = [
        p for p in run.analysis.product_patterns if p.purchase_days >= min_purchase_days
    ]
    patterns.sort(key=lambda p: (-p.confidence, p.predicted_next_purchase_date))
    return [mapping.pattern_dto(p) for p in patterns[:limit]]


@router.get(
    "/{id}/customer-profile-analysis",
    operation_id="getCustomerProfileAnalysis",
    responses=READ_ERRORS,
)
async def customer_profile_analysis(
    customer_id: CustomerId,
    principal: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    model: ModelParam = None,
) -> schemas.CustomerProfile:
    """Spending patterns, behaviour flags and demographic estimates."""
    _check(principal, customer_id, model)
    run = await service.run_analysis(
        context,
        session,
        customer_id,
        analysis_type="customer_profiling",
        analyser_id=model,
    )
    return mapping.profile_dto(run.analysis.profile)


@router.get(
    "/{id}/ai-recommendations",
    operation_id="getAiRecommendations",
    responses=READ_ERRORS,
)
async def ai_recommendations(
    customer_id: CustomerId,
    principal: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    limit: Annotated[int, Query(ge=1, le=service.MAX_RECOMMENDATIONS)] = 5,
    model: ModelParam = None,
) -> schemas.RecommendationList:
    """Products to buy again and to discover, each with a reason."""
    _check(principal, customer_id, model)
    run = await service.run_analysis(
        context,
        session,
        customer_id,
        analysis_type="recommendation_generation",
        analyser_id=model,
        k=limit,
    )
    items = service.recommendations(run, limit)
    return schemas.RecommendationList(
        recommendations=items,
        confidence=service.overall_confidence(run),
        model_id=run.analyser.id,
    )


@router.get(
    "/{id}/replenishment-alerts",
    operation_id="getReplenishmentAlerts",
    responses=READ_ERRORS,
)
async def replenishment_alerts(
    customer_id: CustomerId,
    principal: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    horizon_days: Horizon = 7,
    model: ModelParam = None,
) -> list[schemas.ReplenishmentAlert]:
    """Products likely to run out within the horizon, most urgent first."""
    _check(principal, customer_id, model)
    run = await service.run_analysis(
        context,
        session,
        customer_id,
        analysis_type="consumption_prediction",
        analyser_id=model,
        horizon_days=horizon_days,
    )
    return [mapping.alert_dto(a) for a in run.analysis.alerts]


@router.get(
    "/{id}/purchase-prediction/{productId}",
    operation_id="getPurchasePrediction",
    responses=READ_ERRORS,
)
async def purchase_prediction(
    customer_id: CustomerId,
    product_id: Annotated[str, Path(alias="productId", min_length=1, max_length=64)],
    principal: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    model: ModelParam = None,
) -> schemas.PurchasePrediction:
    """When the household will next buy one product."""
    _check(principal, customer_id, model)
    product = await service.get_product(session, product_id)
    run = await service.run_analysis(
        context,
        session,
        customer_id,
        analysis_type="consumption_prediction",
        analyser_id=model,
    )
    return service.purchase_prediction(run, product)


@router.post("/{id}/analyze", operation_id="analyzeCustomer", responses=READ_ERRORS)
async def analyze(
    customer_id: CustomerId,
    principal: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    model: ModelParam = None,
) -> schemas.AIAnalysisResult:
    """Run a complete analysis now and store it in the household's history."""
    _check(principal, customer_id, model)
    run = await service.run_analysis(
        context,
        session,
        customer_id,
        analysis_type=FULL_ANALYSIS,
        analyser_id=model,
        ledger=session,
    )
    return await service.store_analysis(session, run)


@router.get(
    "/{id}/analysis-history", operation_id="getAnalysisHistory", responses=READ_ERRORS
)
async def analysis_history(
    customer_id: CustomerId,
    principal: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 10,
) -> list[schemas.AIAnalysisResult]:
    """Stored analyses, newest first."""
    ensure_customer_access(principal, customer_id)
    return await service.analysis_history(session, customer_id, limit)
