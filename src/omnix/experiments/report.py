"""Reading a test: the phase's ledger rows, predictions and later purchases,
into an ``ABTestResult``."""

from __future__ import annotations

from datetime import datetime

import polars as pl
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.analysers.runtime import analyser_runtime
from omnix.context import AppContext
from omnix.costs.models import AnalysisUsage
from omnix.customers.models import PurchaseLine
from omnix.errors import NotFound
from omnix.experiments import advice, schemas
from omnix.experiments.assignment import status_at
from omnix.experiments.models import ABTest, ABTestCall, ABTestPhase
from omnix.experiments.outcomes import (
    PURCHASE_SCHEMA,
    prediction_frames,
    score_outcomes,
    window_bounds,
)
from omnix.experiments.results import (
    ALPHA,
    CALL_SCHEMA,
    compare_units,
    performance,
    sample_ratio,
    units_frame,
)
from omnix.experiments.service import get_test, phase_info, phases_of

# Bound parameters per IN list, well under SQLite's and asyncpg's limits.
CHUNK = 1000
MAX_RAW_ROWS = 10_000


async def _ledger_calls(
    session: AsyncSession, test: ABTest, start: datetime, end: datetime | None
) -> pl.DataFrame:
    """The test's ledger rows stamped within the phase, each with its arm.

    A fallback row belongs to the arm of the analyser it stood in for.
    """
    query = select(
        AnalysisUsage.customer_id,
        AnalysisUsage.analyser_id,
        AnalysisUsage.fallback_for,
        AnalysisUsage.success,
        AnalysisUsage.latency_ms,
        AnalysisUsage.confidence,
        AnalysisUsage.cost_usd,
        AnalysisUsage.unpriced,
    ).where(AnalysisUsage.experiment_id == test.id, AnalysisUsage.created_at >= start)
    if end is not None:
        query = query.where(AnalysisUsage.created_at < end)
    arms = {test.model_a: "A", test.model_b: "B"}
    rows = []
    for customer, analyser, fallback_for, *values in await session.execute(query):
        arm = arms.get(fallback_for or analyser)
        if arm is not None:
            success, latency, confidence, cost, unpriced = values
            rows.append(
                (customer, arm, fallback_for is None, success, latency,
                 confidence, cost, unpriced)
            )  # fmt: skip
    return pl.DataFrame(rows, schema=CALL_SCHEMA, orient="row")


async def _purchases(
    session: AsyncSession, customers: list[str], low: datetime, high: datetime
) -> pl.DataFrame:
    rows: list[tuple[str, str, datetime]] = []
    for i in range(0, len(customers), CHUNK):
        result = await session.execute(
            select(
                PurchaseLine.customer_id,
                PurchaseLine.product_id,
                PurchaseLine.purchased_at,
            ).where(
                PurchaseLine.customer_id.in_(customers[i : i + CHUNK]),
                PurchaseLine.purchased_at > low,
                PurchaseLine.purchased_at <= high,
            )
        )
        rows.extend(result.tuples().all())
    return pl.DataFrame(rows, schema=PURCHASE_SCHEMA, orient="row")


def _pick_phase(phases: list[ABTestPhase], number: int | None) -> ABTestPhase:
    if number is None:
        return phases[-1]
    for phase in phases:
        if phase.number == number:
            return phase
    raise NotFound(f"Phase {number} not found; the test has phases 1 to {len(phases)}")


def _raw(units: pl.DataFrame) -> list[schemas.CustomerOutcomeRow]:
    return [
        schemas.CustomerOutcomeRow.model_validate(row)
        for row in units.head(MAX_RAW_ROWS).iter_rows(named=True)
    ]


async def read_results(
    context: AppContext,
    session: AsyncSession,
    test_id: str,
    *,
    phase_number: int | None = None,
    include_raw_data: bool = False,
) -> schemas.ABTestResults:
    """The comparison of one phase (the current one by default) at business now."""
    test = await get_test(session, test_id)
    phases = await phases_of(session, test_id)
    phase = _pick_phase(phases, phase_number)
    following = next((p for p in phases if p.number == phase.number + 1), None)
    now = context.clock.now()

    calls = await _ledger_calls(
        session, test, phase.started_wall, following.started_wall if following else None
    )
    predictions = await session.scalars(
        select(ABTestCall).where(
            ABTestCall.test_id == test.id, ABTestCall.phase == phase.number
        )
    )
    first_calls, dates, recommended = prediction_frames(predictions)
    bounds = window_bounds(first_calls, test.outcome_window_days)
    purchases = (
        await _purchases(
            session, first_calls.get_column("customer_id").to_list(), *bounds
        )
        if bounds
        else pl.DataFrame(schema=PURCHASE_SCHEMA)
    )
    outcomes, pending = score_outcomes(
        first_calls,
        dates,
        recommended,
        purchases,
        window_days=test.outcome_window_days,
        now=now,
        timezone=context.settings.timezone,
    )
    units = units_frame(calls, outcomes)
    comparisons = compare_units(units, test.metrics, alpha=ALPHA)
    counts = units.get_column("arm").value_counts()
    per_arm = dict(zip(counts["arm"], counts["count"], strict=True))
    srm = sample_ratio(per_arm.get("A", 0), per_arm.get("B", 0), phase.traffic_split)

    registry = analyser_runtime(context).registry
    names = {
        model: (found.name if (found := registry.find(model)) else model)
        for model in (test.model_a, test.model_b)
    }
    reading = advice.Reading(
        status=status_at(test, now),
        end_date=test.end_at,
        name_a=names[test.model_a],
        name_b=names[test.model_b],
        primary=next(c for c in comparisons if c.metric == test.primary_metric),
        comparisons=comparisons,
        sample_ratio=srm,
        pending_outcomes=pending,
        outcome_window_days=test.outcome_window_days,
    )
    significance = (
        0.0 if reading.primary.p_value is None else 1.0 - reading.primary.p_value
    )
    result = schemas.ABTestResult(
        test_id=test.id,
        test_name=test.name,
        status=reading.status,
        analysis_type=test.analysis_type,
        model_a=schemas.ArmPerformance(
            id=test.model_a, name=reading.name_a, metrics=performance(calls, "A")
        ),
        model_b=schemas.ArmPerformance(
            id=test.model_b, name=reading.name_b, metrics=performance(calls, "B")
        ),
        winner=reading.winner,
        significance=significance,
        recommendations=advice.recommendations(reading),
        start_date=test.start_at,
        end_date=test.end_at,
        phase=phase_info(phase),
        phases=[phase_info(p) for p in phases],
        primary_metric=test.primary_metric,
        confidence_level=1.0 - ALPHA,
        outcome_window_days=test.outcome_window_days,
        pending_outcomes=pending,
        sample_ratio=srm,
        comparisons=comparisons,
        raw_data=_raw(units) if include_raw_data else None,
    )
    winner_model = {"A": test.model_a, "B": test.model_b}.get(reading.winner)
    summary = schemas.TestResultsSummary(
        headline=advice.headline(reading),
        primary_metric=test.primary_metric,
        winner=reading.winner,
        winner_model=winner_model,
        significance=significance,
        significant=reading.winner != "tie",
        customers_a=per_arm.get("A", 0),
        customers_b=per_arm.get("B", 0),
        sample_ratio_mismatch=srm.mismatch,
        ready_to_decide=advice.ready_to_decide(reading),
    )
    return schemas.ABTestResults(data=result, summary=summary)


async def read_status(
    context: AppContext, session: AsyncSession, test_id: str
) -> schemas.ABTestStatusInfo:
    """Status and the current phase's winner on the primary metric."""
    results = await read_results(context, session, test_id)
    data = results.data
    return schemas.ABTestStatusInfo(
        test_id=data.test_id,
        test_name=data.test_name,
        status=data.status,
        models_compared=[data.model_a.id, data.model_b.id],
        current_winner=results.summary.winner_model or "tie",
        significance=data.significance,
    )
