"""Ledger rows: what one analysis call consumed and cost.

The cost comes from the price table at the price in force on the call's UTC
date (wall clock: that is when a provider bills), and the price version is
stored with it. Without a price the cost stays unknown (``cost_usd`` None,
``unpriced`` True); only a priced zero (the local engines) is free.
"""

from __future__ import annotations

from datetime import datetime

from omnix.analysers.completion import NO_USAGE, CompletionUsage
from omnix.analysers.pricing import Cost, PriceTable
from omnix.analysers.registry import AnalyserInfo
from omnix.costs.models import AnalysisUsage

MAX_ERROR_MESSAGE = 500


def usage_row(
    prices: PriceTable,
    *,
    customer_id: str,
    analyser: AnalyserInfo,
    analysis_type: str,
    created_at: datetime,
    latency_ms: float,
    success: bool,
    usage: CompletionUsage = NO_USAGE,
    confidence: float | None = None,
    provider_model_id: str | None = None,
    error_kind: str | None = None,
    error_message: str | None = None,
    fallback_for: str | None = None,
    experiment_id: str | None = None,
    batch_id: str | None = None,
) -> AnalysisUsage:
    """The ledger row of one call, priced."""
    cost = prices.cost_of(analyser.price_model_id, usage, created_at)
    cost_usd: float | None = None
    if isinstance(cost, Cost):
        cost_usd = float(cost.total_usd)
    elif usage.total_tokens == 0:
        # Nothing was billed (the provider was never reached): a known zero
        # whatever the price, not an unknown.
        cost_usd = 0.0
    if error_message is not None and len(error_message) > MAX_ERROR_MESSAGE:
        error_message = error_message[: MAX_ERROR_MESSAGE - 1] + "…"
    return AnalysisUsage(
        customer_id=customer_id,
        analyser_id=analyser.id,
        provider_model_id=provider_model_id or analyser.provider_model_id,
        analysis_type=analysis_type,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cached_tokens=usage.cached_tokens,
        cost_usd=cost_usd,
        unpriced=cost_usd is None,
        price_version=cost.price_version if isinstance(cost, Cost) else None,
        latency_ms=round(latency_ms, 2),
        success=success,
        error_kind=error_kind,
        error_message=error_message,
        fallback_for=fallback_for,
        confidence=None if confidence is None else round(confidence, 4),
        experiment_id=experiment_id,
        batch_id=batch_id,
        created_at=created_at,
    )
