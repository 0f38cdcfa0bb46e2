"""Which analyser answers a call, how an LLM analyser is asked, what is recorded.

The analytics service (``omnix.analytics.service.run_analysis``) drives a
call; the pieces here keep it short: the choice between an explicit model,
an experiment's assignment and the configured default; the features and
completions of an LLM analyser; and the ledger rows every call writes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

import polars as pl
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.analysers.household import household_features
from omnix.analysers.llm_analysis import AnalyserFailure, LLMAnswer, analyse_with_llm
from omnix.analysers.registry import LOCAL_ENGINE_ID, AnalyserInfo, AnalyserRegistry
from omnix.analysers.runtime import AnalyserRuntime
from omnix.costs.ledger import usage_row
from omnix.costs.models import AnalysisUsage
from omnix.engine.population import CustomerAnalysis, PopulationModels
from omnix.engine.segments_catalogue import SEGMENTS_BY_ID
from omnix.segments.views import current_rows

log = structlog.get_logger()


def pick_analyser(
    registry: AnalyserRegistry,
    analysis_type: str,
    *,
    explicit: str | None,
    assigned: str | None,
) -> AnalyserInfo:
    """An explicit choice (checked: 404/400), else the experiment's, else the
    default; implicit choices that cannot do the analysis type are skipped."""
    if explicit is not None:
        return registry.resolve(explicit, analysis_type)
    for candidate in (assigned, registry.default_id):
        if candidate is None:
            continue
        analyser = registry.find(candidate)
        if analyser is not None and analyser.supports(analysis_type):
            return analyser
        log.warning(
            "analysis.analyser_skipped", analyser=candidate, analysis_type=analysis_type
        )
    return registry.get(LOCAL_ENGINE_ID)


async def segment_name(session: AsyncSession, customer_id: str) -> str | None:
    """The name of the household's current segment, if it has one."""
    current = (await current_rows(session, [customer_id])).get(customer_id)
    if current is None:
        return None
    segment = SEGMENTS_BY_ID.get(current.assignment.segment_id)
    return segment.name if segment is not None else None


async def ask_llm(
    runtime: AnalyserRuntime,
    analyser: AnalyserInfo,
    analysis_type: str,
    models: PopulationModels,
    lines: pl.DataFrame,
    customer: pl.DataFrame,
    local: CustomerAnalysis,
    *,
    segment: str | None,
    k: int,
    horizon_days: int,
) -> LLMAnswer:
    """Features, prompts and the provider's validated answers.

    Raises
    ------
    AnalyserFailure
        The analyser is unavailable, had nothing to ask, or its provider
        failed (timeout, HTTP error, malformed answers).
    """
    if not analyser.available or analyser.provider_model_id is None:
        raise AnalyserFailure(
            "unavailable", analyser.unavailable_reason or "no model configured"
        )
    features = await asyncio.to_thread(
        household_features,
        models,
        lines,
        local.customer_id,
        as_of=local.as_of,
        customer=customer,
        segment=segment,
    )
    return await analyse_with_llm(
        runtime.provider_for(analyser),
        analyser.provider_model_id,
        analysis_type,
        features,
        local,
        deadline_s=runtime.deadline_s,
        k=k,
        horizon_days=horizon_days,
    )


def rhythm_confidence(analysis: CustomerAnalysis) -> float:
    """Mean confidence of the product rhythms (0.05 without any)."""
    patterns = [p.confidence for p in analysis.product_patterns]
    return round(sum(patterns) / len(patterns), 4) if patterns else 0.05


@dataclass(frozen=True)
class CallLedger:
    """The ledger rows of one call, which share customer, type and time."""

    runtime: AnalyserRuntime
    customer_id: str
    analysis_type: str
    at: datetime
    batch_id: str | None = None

    def answered(
        self, analyser: AnalyserInfo, answer: LLMAnswer, latency_ms: float
    ) -> AnalysisUsage:
        return self._row(
            analyser,
            latency_ms=latency_ms,
            success=True,
            usage=answer.usage,
            confidence=answer.confidence,
            provider_model_id=answer.provider_model_id,
        )

    def failed(
        self, analyser: AnalyserInfo, failure: AnalyserFailure, latency_ms: float
    ) -> AnalysisUsage:
        return self._row(
            analyser,
            latency_ms=latency_ms,
            success=False,
            usage=failure.usage,
            provider_model_id=failure.provider_model_id,
            error_kind=failure.kind,
            error_message=failure.message,
        )

    def local(
        self,
        analyser: AnalyserInfo,
        latency_ms: float,
        confidence: float,
        fallback_for: str | None,
    ) -> AnalysisUsage:
        return self._row(
            analyser,
            latency_ms=latency_ms,
            success=True,
            confidence=confidence,
            fallback_for=fallback_for,
        )

    def _row(
        self,
        analyser: AnalyserInfo,
        *,
        latency_ms: float,
        success: bool,
        **optional: object,
    ) -> AnalysisUsage:
        return usage_row(
            self.runtime.prices,
            customer_id=self.customer_id,
            analyser=analyser,
            analysis_type=self.analysis_type,
            created_at=self.at,
            latency_ms=latency_ms,
            success=success,
            batch_id=self.batch_id,
            **optional,  # type: ignore[arg-type]
        )
