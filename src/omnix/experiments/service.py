"""A/B tests: creating, listing, deactivating, re-splitting, quick tests."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.analysers.registry import (
    ANTHROPIC_HAIKU_ID,
    ANTHROPIC_SONNET_ID,
    BEDROCK_HAIKU_ID,
    BEDROCK_SONNET_ID,
    INTERVAL_BASELINE_ID,
    LOCAL_ENGINE_ID,
    AnalyserRegistry,
)
from omnix.analysers.runtime import analyser_runtime
from omnix.context import AppContext
from omnix.errors import Conflict, NotFound, field_error
from omnix.experiments import schemas
from omnix.experiments.assignment import status_at
from omnix.experiments.metrics import default_primary, metrics_for
from omnix.experiments.models import ABTest, ABTestPhase
from omnix.schemas import Message

log = structlog.get_logger()

# (fast model, strong model, provider) in order of preference for a quick test.
QUICK_PAIRS = (
    (BEDROCK_HAIKU_ID, BEDROCK_SONNET_ID, "Amazon Bedrock"),
    (ANTHROPIC_HAIKU_ID, ANTHROPIC_SONNET_ID, "the Anthropic API"),
)


async def get_test(session: AsyncSession, test_id: str) -> ABTest:
    test = await session.get(ABTest, test_id)
    if test is None:
        raise NotFound(f"A/B test {test_id} not found")
    return test


async def phases_of(session: AsyncSession, test_id: str) -> list[ABTestPhase]:
    rows = await session.scalars(
        select(ABTestPhase)
        .where(ABTestPhase.test_id == test_id)
        .order_by(ABTestPhase.number)
    )
    return list(rows)


def phase_info(phase: ABTestPhase) -> schemas.ABTestPhaseInfo:
    return schemas.ABTestPhaseInfo(
        phase=phase.number,
        traffic_split=phase.traffic_split,
        started_at=phase.started_at,
    )


def config_of(
    test: ABTest, phases: list[ABTestPhase], now: datetime
) -> schemas.ABTestConfig:
    return schemas.ABTestConfig(
        test_id=test.id,
        test_name=test.name,
        description=test.description,
        model_a=test.model_a,
        model_b=test.model_b,
        analysis_type=test.analysis_type,
        traffic_split=phases[-1].traffic_split,
        start_date=test.start_at,
        end_date=test.end_at,
        duration_days=round((test.end_at - test.start_at) / timedelta(days=1), 4),
        metrics=list(test.metrics),
        primary_metric=test.primary_metric,
        outcome_window_days=test.outcome_window_days,
        status=status_at(test, now),
        current_phase=phases[-1].number,
        phases=[phase_info(p) for p in phases],
        created_at=test.created_at,
        deactivated_at=test.deactivated_at,
    )


def _check_model(
    registry: AnalyserRegistry, field: str, model_id: str, analysis_type: str
) -> None:
    model = registry.get(model_id, f"body.{field}")
    if not model.supports(analysis_type):
        raise field_error(
            f"body.{field}",
            f"{model_id} does not support {analysis_type}; it supports "
            f"{', '.join(model.analysis_types)}",
        )
    if not model.available:
        raise field_error(
            f"body.{field}", f"{model_id} is unavailable: {model.unavailable_reason}"
        )


def _period(body: schemas.CreateABTestDto, now: datetime) -> tuple[datetime, datetime]:
    if body.end_date is not None and body.duration_days is not None:
        raise field_error("body.durationDays", "give endDate or durationDays, not both")
    start = body.start_date or now
    days = body.duration_days or schemas.DEFAULT_DURATION_DAYS
    end = body.end_date or start + timedelta(days=days)
    if end <= start:
        raise field_error("body.endDate", "must be after startDate")
    if end <= now:
        raise field_error("body.endDate", "is already past: the test would never run")
    return start, end


def _metrics(body: schemas.CreateABTestDto) -> tuple[list[str], str]:
    supported = metrics_for(body.analysis_type)
    if body.metrics is None:
        chosen = supported
    else:
        chosen = list(dict.fromkeys(body.metrics))
        wrong = [m for m in chosen if m not in supported]
        if not chosen or wrong:
            raise field_error(
                "body.metrics",
                f"{body.analysis_type} tests can compare {', '.join(supported)}",
            )
    primary = body.primary_metric or default_primary(body.analysis_type)
    if body.primary_metric is None and primary not in chosen:
        primary = chosen[0]
    if primary not in chosen:
        raise field_error("body.primaryMetric", "must be one of the metrics compared")
    return chosen, primary


async def _refuse_overlap(
    session: AsyncSession, analysis_type: str, start: datetime, end: datetime
) -> None:
    """Two tests of one type at once would fight over the same calls."""
    other = await session.scalar(
        select(ABTest).where(
            ABTest.analysis_type == analysis_type,
            ABTest.deactivated_at.is_(None),
            ABTest.start_at < end,
            ABTest.end_at > start,
        )
    )
    if other is not None:
        raise Conflict(
            f"A/B test {other.id} ({other.name}) already tests {analysis_type} "
            f"from {other.start_at.isoformat()} to {other.end_at.isoformat()}; "
            "deactivate it or choose dates that do not overlap"
        )


async def create_test(
    context: AppContext,
    session: AsyncSession,
    body: schemas.CreateABTestDto,
    created_by: str | None,
    test_id: str | None = None,
) -> ABTest:
    """Check the models, dates and metrics, and store the test with phase 1.

    ``test_id`` fixes the id (and so every customer's arm) where a run must be
    reproducible, as in the demo; otherwise a random UUID is drawn.
    """
    if body.model_a == body.model_b:
        raise field_error("body.modelB", "must differ from modelA")
    registry = analyser_runtime(context).registry
    _check_model(registry, "modelA", body.model_a, body.analysis_type)
    _check_model(registry, "modelB", body.model_b, body.analysis_type)
    now = context.clock.now()
    start, end = _period(body, now)
    metrics, primary = _metrics(body)
    await _refuse_overlap(session, body.analysis_type, start, end)

    wall = context.clock.wall()
    test = ABTest(
        id=test_id or str(uuid.uuid4()),
        name=body.test_name,
        description=body.description,
        analysis_type=body.analysis_type,
        model_a=body.model_a,
        model_b=body.model_b,
        start_at=start,
        end_at=end,
        metrics=metrics,
        primary_metric=primary,
        outcome_window_days=body.outcome_window_days,
        created_by=created_by,
        created_at=wall,
    )
    session.add(test)
    session.add(
        ABTestPhase(
            test_id=test.id,
            number=1,
            traffic_split=body.traffic_split,
            started_at=start,
            started_wall=wall,
        )
    )
    await session.flush()
    log.info(
        "ab_test.created", test_id=test.id, model_a=test.model_a, model_b=test.model_b
    )
    return test


def quick_models(
    registry: AnalyserRegistry, analysis_type: str
) -> tuple[str, str, str]:
    """Fast and strong model of the first configured provider, else the two
    local engines; and a sentence saying which and why."""
    for fast, strong, provider in QUICK_PAIRS:
        pair = [registry.find(fast), registry.find(strong)]
        if all(m and m.available and m.supports(analysis_type) for m in pair):
            return (
                fast,
                strong,
                (
                    f"Compares Claude Haiku (A, fast) with Claude Sonnet (B, strong) "
                    f"on {provider}."
                ),
            )
    bedrock = registry.find(BEDROCK_HAIKU_ID)
    reason = bedrock.unavailable_reason if bedrock else "not registered"
    return (
        LOCAL_ENGINE_ID,
        INTERVAL_BASELINE_ID,
        (
            f"No LLM provider is configured (Bedrock: {reason}), so this compares the "
            f"two local engines: {LOCAL_ENGINE_ID} (A) and {INTERVAL_BASELINE_ID} (B)."
        ),
    )


async def quick_test(
    context: AppContext,
    session: AsyncSession,
    body: schemas.QuickTestDto,
    created_by: str | None,
) -> schemas.QuickTestCreated:
    registry = analyser_runtime(context).registry
    model_a, model_b, why = quick_models(registry, body.analysis_type)
    request = schemas.CreateABTestDto(
        test_name=body.test_name,
        description=f"Quick test. {why}",
        model_a=model_a,
        model_b=model_b,
        analysis_type=body.analysis_type,
        traffic_split=body.traffic_split,
        duration_days=body.duration_days,
    )
    test = await create_test(context, session, request, created_by)
    config = request.model_copy(
        update={
            "start_date": test.start_at,
            "end_date": test.end_at,
            "duration_days": None,
            "metrics": list(test.metrics),
            "primary_metric": test.primary_metric,
        }
    )
    return schemas.QuickTestCreated(
        test_id=test.id, config=config, message=f"Quick test created. {why}"
    )


async def list_tests(session: AsyncSession, now: datetime) -> schemas.ABTestList:
    tests = list(
        await session.scalars(select(ABTest).order_by(ABTest.created_at.desc()))
    )
    phases: dict[str, list[ABTestPhase]] = {t.id: [] for t in tests}
    for phase in await session.scalars(
        select(ABTestPhase).order_by(ABTestPhase.test_id, ABTestPhase.number)
    ):
        phases.setdefault(phase.test_id, []).append(phase)
    configs = [config_of(t, phases[t.id], now) for t in tests if phases[t.id]]
    return schemas.ABTestList(
        data=configs,
        total_tests=len(configs),
        active_tests=sum(c.status == "running" for c in configs),
    )


async def deactivate(
    context: AppContext, session: AsyncSession, test_id: str
) -> Message:
    """Stop assigning customers; the results so far stay readable."""
    test = await get_test(session, test_id)
    now = context.clock.now()
    status = status_at(test, now)
    if status == "completed":
        raise Conflict(
            f"A/B test {test_id} completed on {test.end_at.isoformat()}; "
            "there is nothing left to deactivate"
        )
    if status == "paused":
        raise Conflict(f"A/B test {test_id} is already deactivated")
    test.deactivated_at = now
    log.info("ab_test.deactivated", test_id=test_id, was=status)
    return Message(
        message=f"A/B test {test_id} deactivated: customers are no longer "
        "assigned; its results so far remain available"
    )


async def change_split(
    context: AppContext, session: AsyncSession, test_id: str, split: float
) -> schemas.SplitChanged:
    """A new split: a new phase for a running test, an edit for a pending one."""
    test = await get_test(session, test_id)
    now = context.clock.now()
    status = status_at(test, now)
    if status in ("completed", "paused"):
        raise Conflict(
            f"A/B test {test_id} is {status}; its split can no longer change"
        )
    phases = await phases_of(session, test_id)
    current = phases[-1]
    if split == current.traffic_split:
        raise field_error(
            "body.trafficSplit", f"is already the split of phase {current.number}"
        )
    if status == "pending":
        current.traffic_split = split
        message = "Split changed before the start; the test keeps phase 1"
    else:
        current = ABTestPhase(
            test_id=test_id,
            number=current.number + 1,
            traffic_split=split,
            started_at=now,
            started_wall=context.clock.wall(),
        )
        session.add(current)
        message = (
            f"Phase {current.number} started with the new split; results and the "
            "sample-ratio check are read per phase"
        )
    log.info(
        "ab_test.split_changed", test_id=test_id, split=split, phase=current.number
    )
    return schemas.SplitChanged(
        message=message, phase=current.number, traffic_split=split
    )
