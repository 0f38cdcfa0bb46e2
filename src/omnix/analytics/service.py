"""Runs analyses: loads a household's history, asks the chosen analyser, records
what each call consumed in the usage ledger."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import polars as pl
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.analysers.dispatch import (
    CallLedger,
    ask_llm,
    pick_analyser,
    rhythm_confidence,
    segment_name,
)
from omnix.analysers.interval_baseline import interval_baseline_analysis
from omnix.analysers.llm_analysis import AnalyserFailure
from omnix.analysers.pricing import build_price_table
from omnix.analysers.registry import (
    FULL_ANALYSIS,
    LOCAL_ENGINE_ID,
    AnalyserInfo,
    AnalyserRegistry,
)
from omnix.analysers.runtime import analyser_runtime
from omnix.analytics import mapping, schemas
from omnix.analytics.data import load_customers, load_lines
from omnix.analytics.models import StoredAnalysis
from omnix.analytics.population import FittedPopulation, PopulationCache
from omnix.catalogue.models import Product
from omnix.context import AppContext
from omnix.costs.ledger import usage_row as ledger_row
from omnix.costs.models import AnalysisUsage
from omnix.customers.service import get_customer
from omnix.engine.activity import ActivityScore
from omnix.engine.population import CustomerAnalysis, analyse_customer
from omnix.errors import NotFound
from omnix.experiments.assignment import assign_customer, call_record, take_assignment
from omnix.experiments.models import ABTestCall

log = structlog.get_logger()

MAX_RECOMMENDATIONS = 50
MAX_HORIZON_DAYS = 90


@dataclass(frozen=True)
class AnalysisRun:
    """One answered analysis; ``analyser`` is the one that answered.

    ``fallback_for`` names the analyser that was chosen but failed (the local
    engine then answered). ``confidence`` is the answering analyser's own
    confidence when it states one (LLMs, the interval baseline); otherwise
    it is derived from the rhythms (``overall_confidence``).
    """

    customer_id: str
    analyser: AnalyserInfo
    analysis: CustomerAnalysis
    activity: ActivityScore | None
    data_cutoff: datetime
    computed_at: datetime
    processing_ms: float
    brands: dict[str, str | None]
    fallback_for: str | None = None
    confidence: float | None = None


@dataclass(frozen=True)
class HouseholdFrames:
    """A household's purchase lines (before the analysis instant) and its
    customer row, as ``load_lines`` and ``load_customers`` return them; a
    batch loads many households' in one query each."""

    lines: pl.DataFrame
    customer: pl.DataFrame


class LedgerSink(Protocol):
    """Where a run's usage rows go: a writing session, or a batch's list."""

    def add_all(self, instances: Iterable[object]) -> None: ...


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
    """The analysers this process can run, built from its settings."""
    return analyser_runtime(context).registry


async def choose_analyser(
    context: AppContext, session: AsyncSession, customer_id: str, analysis_type: str
) -> str | None:
    """The analyser an experiment assigns to this customer, or None.

    The id of the model of the customer's arm (sticky: a hash of test and
    customer ids against the phase's split) in the test running at business
    "now" for ``analysis_type``. None, when no test runs, leaves the choice to
    ``OMNIX_DEFAULT_ANALYSER``. An id that is unknown or does not support the
    analysis type is ignored with a warning; one that is unavailable is
    tried, recorded as failed, and answered by the local engine. The
    assignment is noted in the session so the call's ledger rows carry the
    test's id (``take_assignment``).
    """
    assignment = await assign_customer(
        session, customer_id, analysis_type, context.clock.now()
    )
    return None if assignment is None else assignment.analyser_id


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
    ledger: LedgerSink | None = None,
    batch_id: str | None = None,
    frames: HouseholdFrames | None = None,
) -> AnalysisRun:
    """Analyse one household at business "now" and record the call's usage.

    ``analyser_id`` is an explicit (staff) choice; without it an experiment's
    assignment (``choose_analyser``) or the configured default answers. An
    LLM analyser that fails is recorded as a failed call and the local engine
    answers instead. The usage rows go into ``ledger`` when the caller
    already writes (and commits) there; otherwise into a short transaction of
    their own, so a read request never holds the write lock while the engine
    computes. ``frames`` are the household's data when the caller loaded
    them already.
    """
    await get_customer(session, customer_id)
    runtime = analyser_runtime(context)
    assigned = (
        None
        if analyser_id is not None
        else await choose_analyser(context, session, customer_id, analysis_type)
    )
    analyser = pick_analyser(
        runtime.registry, analysis_type, explicit=analyser_id, assigned=assigned
    )
    experiment = (
        None
        if assigned is None
        else take_assignment(session, customer_id, analysis_type, analyser.id)
    )
    as_of = context.clock.now()
    started = time.perf_counter()
    fitted = await population_cache(context).get(as_of)
    if frames is None:
        lines = await load_lines(session, as_of, [customer_id])
        customer = await load_customers(session, [customer_id])
    else:
        lines, customer = frames.lines, frames.customer
    analysis, activity = await asyncio.to_thread(
        _analyse, fitted, lines, customer, customer_id, as_of, k, horizon_days
    )
    local_ms = _elapsed_ms(started)
    calls = CallLedger(
        runtime, customer_id, analysis_type, context.clock.wall(), batch_id
    )
    rows: list[AnalysisUsage] = []
    answered_by, confidence, fallback_for = analyser, None, None

    if analyser.kind == "interval_baseline":
        analysis = await asyncio.to_thread(
            interval_baseline_analysis,
            fitted.models,
            lines,
            customer_id,
            as_of=as_of,
            customer=customer,
            k=k,
            horizon_days=horizon_days,
        )
        # The baseline estimates no activity and states its own confidence.
        activity, confidence = None, rhythm_confidence(analysis)
    elif analyser.kind == "llm":
        try:
            answer = await ask_llm(
                runtime,
                analyser,
                analysis_type,
                fitted.models,
                lines,
                customer,
                analysis,
                segment=await segment_name(session, customer_id),
                k=k,
                horizon_days=horizon_days,
            )
        except AnalyserFailure as failure:
            log.warning(
                "analysis.analyser_failed",
                analyser=analyser.id,
                kind=failure.kind,
                customer_id=customer_id,
            )
            rows.append(calls.failed(analyser, failure, _elapsed_ms(started)))
            answered_by = runtime.registry.get(LOCAL_ENGINE_ID)
            fallback_for = analyser.id
        else:
            analysis, confidence = answer.analysis, answer.confidence
            rows.append(calls.answered(analyser, answer, _elapsed_ms(started)))

    brands = await _brands(session, [r.product_id for r in analysis.recommendations])
    run = AnalysisRun(
        customer_id=customer_id,
        analyser=answered_by,
        analysis=analysis,
        activity=activity,
        data_cutoff=as_of,
        computed_at=calls.at,
        processing_ms=_elapsed_ms(started),
        brands=brands,
        fallback_for=fallback_for,
        confidence=confidence,
    )
    if answered_by.local:
        # A fallback answer was computed before the LLM was asked.
        latency = local_ms if fallback_for else run.processing_ms
        rows.append(
            calls.local(answered_by, latency, overall_confidence(run), fallback_for)
        )
    records: list[AnalysisUsage | ABTestCall] = list(rows)
    if experiment is not None:
        for row in rows:
            row.experiment_id = experiment.test_id
        records.append(
            call_record(
                experiment,
                analysis_type,
                analysis,
                answered_by=answered_by.id,
                data_cutoff=as_of,
                called_at=calls.at,
            )
        )
    if ledger is not None:
        ledger.add_all(records)
    else:
        async with context.db.transaction() as own:
            own.add_all(records)
    return run


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def usage_row(run: AnalysisRun, analysis_type: str) -> AnalysisUsage:
    """The ledger row of a call answered by a local engine (no tokens)."""
    return ledger_row(
        build_price_table(),
        customer_id=run.customer_id,
        analyser=run.analyser,
        analysis_type=analysis_type,
        created_at=run.computed_at,
        latency_ms=run.processing_ms,
        success=True,
        confidence=overall_confidence(run),
        fallback_for=run.fallback_for,
    )


def overall_confidence(run: AnalysisRun) -> float:
    """The analyser's own confidence, or for the full engine the mean confidence
    of the product rhythms, damped when activity is unknown."""
    if run.confidence is not None:
        return run.confidence
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


def stored_row(
    run: AnalysisRun, batch_id: str | None = None
) -> tuple[StoredAnalysis, schemas.AIAnalysisResult]:
    """The history row of an analysis (not yet added to a session) and the
    result it stores."""
    analysis_id = str(uuid.uuid4())
    result = full_result(run, analysis_id)
    row = StoredAnalysis(
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
    return row, result


async def store_analysis(
    session: AsyncSession, run: AnalysisRun, batch_id: str | None = None
) -> schemas.AIAnalysisResult:
    row, result = stored_row(run, batch_id)
    session.add(row)
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
