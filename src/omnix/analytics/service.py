"""Runs analyses: loads a household's history, calls the engine, records usage."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

import polars as pl
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.analysers.registry import FULL_ANALYSIS, AnalyserInfo, AnalyserRegistry
from omnix.analytics import mapping, schemas
from omnix.analytics.data import load_customers, load_lines
from omnix.analytics.models import StoredAnalysis
from omnix.analytics.population import FittedPopulation, PopulationCache
from omnix.catalogue.models import Product
from omnix.context import AppContext
from omnix.costs.models import AnalysisUsage
from omnix.customers.service import get_customer
from omnix.engine.activity import ActivityScore
from omnix.engine.population import CustomerAnalysis, analyse_customer
from omnix.errors import NotFound

log = structlog.get_logger()

MAX_RECOMMENDATIONS = 50
MAX_HORIZON_DAYS = 90


@dataclass(frozen=True)
class AnalysisRun:
    customer_id: str
    analyser: AnalyserInfo
    analysis: CustomerAnalysis
    activity: ActivityScore | None
    data_cutoff: datetime
    computed_at: datetime
    processing_ms: float
    brands: dict[str, str | None]


def population_cache(context: AppContext) -> PopulationCache:
    cache = context.extras.get("population")
    if cache is None:
        cache = PopulationCache(
            context.db,
            context.settings.timezone,
            refit_seconds=context.settings.population_refit_seconds,
        )
        context.extras["population"] = cache
    return cache


async def prefit_population(context: AppContext) -> None:
    """Fit the population models at business "now" ahead of the first request."""
    try:
        await population_cache(context).get(context.clock.now())
    except Exception:  # a failed warm-up is retried by the first request
        log.exception("analytics.prefit_failed")


def analyser_registry(context: AppContext) -> AnalyserRegistry:
    from omnix.analysers.registry import default_registry

    registry = context.extras.get("registry")
    if registry is None:
        registry = default_registry()
        context.extras["registry"] = registry
    return registry


async def _brands(
    session: AsyncSession, product_ids: list[str]
) -> dict[str, str | None]:
    if not product_ids:
        return {}
    rows = await session.execute(
        select(Product.id, Product.brand).where(Product.id.in_(product_ids))
    )
    return dict(rows.tuples().all())


def _analyse(
    fitted: FittedPopulation,
    lines: pl.DataFrame,
    customer: pl.DataFrame,
    customer_id: str,
    as_of: datetime,
    k: int,
    horizon_days: int,
) -> tuple[CustomerAnalysis, ActivityScore | None]:
    analysis = analyse_customer(
        fitted.models,
        lines,
        customer_id,
        as_of=as_of,
        customer=customer,
        k=k,
        horizon_days=horizon_days,
    )
    activity = fitted.activity.score_customer(customer_id) if fitted.activity else None
    return analysis, activity


async def run_analysis(
    context: AppContext,
    session: AsyncSession,
    customer_id: str,
    *,
    analysis_type: str,
    analyser_id: str | None = None,
    k: int = 10,
    horizon_days: int = 7,
    ledger: AsyncSession | None = None,
) -> AnalysisRun:
    """Analyse one household at business "now" and record the call's usage.

    The usage row goes into ``ledger`` when the caller already writes (and
    commits) there; otherwise into a short transaction of its own, so a read
    request never holds the write lock while the engine computes.
    """
    await get_customer(session, customer_id)
    analyser = analyser_registry(context).resolve(analyser_id, analysis_type)
    as_of = context.clock.now()
    started = time.perf_counter()
    fitted = await population_cache(context).get(as_of)
    lines = await load_lines(session, as_of, [customer_id])
    customer = await load_customers(session, [customer_id])
    analysis, activity = await asyncio.to_thread(
        _analyse, fitted, lines, customer, customer_id, as_of, k, horizon_days
    )
    brands = await _brands(session, [r.product_id for r in analysis.recommendations])
    run = AnalysisRun(
        customer_id=customer_id,
        analyser=analyser,
        analysis=analysis,
        activity=activity,
        data_cutoff=as_of,
        computed_at=context.clock.wall(),
        processing_ms=round((time.perf_counter() - started) * 1000, 2),
        brands=brands,
    )
    if ledger is not None:
        ledger.add(usage_row(run, analysis_type))
    else:
        async with context.db.transaction() as own:
            own.add(usage_row(run, analysis_type))
    return run


def usage_row(run: AnalysisRun, analysis_type: str) -> AnalysisUsage:
    """The ledger row of one analysis call."""
    return AnalysisUsage(
        customer_id=run.customer_id,
        analyser_id=run.analyser.id,
        analysis_type=analysis_type,
        cost_usd=0.0 if run.analyser.local else None,
        price_version="local" if run.analyser.local else None,
        latency_ms=run.processing_ms,
        success=True,
        confidence=overall_confidence(run),
        created_at=run.computed_at,
    )


def overall_confidence(run: AnalysisRun) -> float:
    """Mean confidence of the product rhythms, damped when activity is unknown."""
    patterns = [p.confidence for p in run.analysis.product_patterns]
    if not patterns:
        return 0.05
    rhythm = sum(patterns) / len(patterns)
    return round(
        rhythm
        * (0.5 if run.activity is None or run.activity.insufficient_data else 1.0),
        4,
    )


def recommendations(run: AnalysisRun, limit: int) -> list[schemas.Recommendation]:
    return [
        mapping.recommendation_dto(item, run.brands.get(item.product_id))
        for item in run.analysis.recommendations[:limit]
    ]


def full_result(
    run: AnalysisRun, analysis_id: str | None = None
) -> schemas.AIAnalysisResult:
    analysis = run.analysis
    return schemas.AIAnalysisResult(
        analysis_id=analysis_id,
        customer_id=run.customer_id,
        model_id=run.analyser.id,
        model_name=run.analyser.name,
        consumption_patterns=[
            mapping.pattern_dto(p) for p in analysis.product_patterns
        ],
        category_patterns=[mapping.category_dto(p) for p in analysis.category_patterns],
        customer_profile=mapping.profile_dto(analysis.profile),
        recommendations=recommendations(run, MAX_RECOMMENDATIONS),
        replenishment_alerts=[mapping.alert_dto(a) for a in analysis.alerts],
        activity=mapping.activity_dto(run.activity),
        confidence=overall_confidence(run),
        computed_at=run.computed_at,
        data_cutoff=run.data_cutoff,
        processing_time_ms=run.processing_ms,
    )


def purchase_prediction(
    run: AnalysisRun, product: Product
) -> schemas.PurchasePrediction:
    """When the household will next buy ``product``."""
    as_of_day = run.data_cutoff.date()
    for pattern in run.analysis.product_patterns:
        if pattern.product_id == product.id:
            reason = (
                f"Bought on {pattern.purchase_days} days, about every "
                f"{pattern.median_days_between_purchases:.0f} days; last on "
                f"{pattern.last_purchase_date.isoformat()}"
            )
            return schemas.PurchasePrediction(
                product_id=product.id,
                predicted_date=pattern.predicted_next_purchase_date,
                confidence=round(pattern.confidence, 4),
                reason=reason,
            )
    for pattern in run.analysis.category_patterns:
        if product.category and pattern.category == product.category:
            return schemas.PurchasePrediction(
                product_id=product.id,
                predicted_date=pattern.predicted_next_purchase_date,
                confidence=round(pattern.confidence * 0.3, 4),
                reason=f"Never bought; its category {pattern.category} is bought "
                f"about every {pattern.median_days_between_purchases:.0f} days",
            )
    return schemas.PurchasePrediction(
        product_id=product.id,
        predicted_date=as_of_day,
        confidence=0.0,
        reason="No purchase of this product or its category: no rhythm to predict",
    )


async def get_product(session: AsyncSession, product_id: str) -> Product:
    product = await session.get(Product, product_id)
    if product is None:
        raise NotFound(f"Product {product_id} not found")
    return product


async def store_analysis(
    session: AsyncSession, run: AnalysisRun, batch_id: str | None = None
) -> schemas.AIAnalysisResult:
    analysis_id = str(uuid.uuid4())
    result = full_result(run, analysis_id)
    session.add(
        StoredAnalysis(
            id=analysis_id,
            customer_id=run.customer_id,
            analyser_id=run.analyser.id,
            data_cutoff=run.data_cutoff,
            computed_at=run.computed_at,
            confidence=result.confidence,
            processing_ms=run.processing_ms,
            result=result.model_dump(mode="json", by_alias=True),
            batch_id=batch_id,
        )
    )
    return result


async def analysis_history(
    session: AsyncSession, customer_id: str, limit: int
) -> list[schemas.AIAnalysisResult]:
    await get_customer(session, customer_id)
    rows = await session.scalars(
        select(StoredAnalysis)
        .where(StoredAnalysis.customer_id == customer_id)
        .order_by(StoredAnalysis.computed_at.desc(), StoredAnalysis.id)
        .limit(limit)
    )
    return [schemas.AIAnalysisResult.model_validate(row.result) for row in rows]


__all__ = ["FULL_ANALYSIS", "AnalysisRun", "run_analysis"]
