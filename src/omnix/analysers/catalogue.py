"""The analysers as the API shows them, and what a batch of analyses may cost.

``available_models`` is the body of ``GET /v1/ab-tests/models/available``
(the experiments domain serves it); ``estimate_cost`` is the estimate a batch
submission returns.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import Field

from omnix.analysers.completion import CompletionUsage
from omnix.analysers.pricing import Cost, PriceTable
from omnix.analysers.registry import FULL_ANALYSIS, AnalyserInfo
from omnix.analysers.runtime import analyser_runtime
from omnix.context import AppContext
from omnix.errors import BadRequest
from omnix.schemas import ApiModel

# Typical tokens of one completion per analysis type, as (input, output).
# Measured on 150 random households of the Complete Journey demo at
# 2018-01-01: median prompt (system and user text) of 15,836, 28,832 and
# 5,729 characters, and answers in the schemas of about 9,955, 1,387 and 435
# characters (a prediction for every rhythm sent, ten recommendations, one
# profile), at 3 characters per token. JSON full of ids and numbers splits
# into more tokens than prose does; no tokenizer is available offline, so
# these are estimates, good to perhaps a quarter either way.
TYPICAL_TOKENS: dict[str, tuple[int, int]] = {
    "consumption_prediction": (5_300, 3_300),
    "recommendation_generation": (9_600, 460),
    "customer_profiling": (1_900, 150),
}


class ModelPricing(ApiModel):
    """Price in force today, in US dollars per million tokens."""

    input_per_million_tokens: float
    output_per_million_tokens: float
    cached_input_per_million_tokens: float
    currency: str = "USD"
    version: str
    effective_from: date


class AvailableModel(ApiModel):
    """An analysis model, whether it can be used now, and what it costs."""

    id: str
    name: str
    provider: str = Field(description="local, bedrock, anthropic or openai.")
    description: str
    analysis_types: list[str]
    available: bool
    unavailable_reason: str | None = None
    local: bool
    default: bool = Field(description="Answers when no model is chosen.")
    provider_model_id: str | None = Field(
        default=None, description="The provider's model id (LLM models)."
    )
    pricing: ModelPricing | None = Field(
        description="null when the model has no price: its cost is unknown, never zero."
    )


def available_models(context: AppContext) -> list[AvailableModel]:
    """Every registered model, available or not, with today's price."""
    runtime = analyser_runtime(context)
    today = context.clock.wall().date()
    return [
        AvailableModel(
            id=analyser.id,
            name=analyser.name,
            provider=analyser.provider,
            description=analyser.description,
            analysis_types=list(analyser.analysis_types),
            available=analyser.available,
            unavailable_reason=analyser.unavailable_reason,
            local=analyser.local,
            default=analyser.id == runtime.registry.default_id,
            provider_model_id=analyser.provider_model_id,
            pricing=_pricing(runtime.prices, analyser, today),
        )
        for analyser in runtime.registry.all()
    ]


def _pricing(
    prices: PriceTable, analyser: AnalyserInfo, today: date
) -> ModelPricing | None:
    price = prices.price_at(analyser.price_model_id, today)
    if price is None:
        return None
    return ModelPricing(
        input_per_million_tokens=float(price.input_usd_per_mtok),
        output_per_million_tokens=float(price.output_usd_per_mtok),
        cached_input_per_million_tokens=float(price.cached_read_usd_per_mtok),
        version=price.version,
        effective_from=price.effective_from,
    )


def typical_usage(analysis_type: str) -> CompletionUsage:
    """Tokens one analysis of this type typically uses (a full one: all three)."""
    if analysis_type == FULL_ANALYSIS:
        kinds = list(TYPICAL_TOKENS)
    elif analysis_type in TYPICAL_TOKENS:
        kinds = [analysis_type]
    else:
        raise ValueError(f"unknown analysis type {analysis_type!r}")
    return CompletionUsage(
        input_tokens=sum(TYPICAL_TOKENS[k][0] for k in kinds),
        output_tokens=sum(TYPICAL_TOKENS[k][1] for k in kinds),
        cached_tokens=0,
    )


def estimate_cost(
    context: AppContext, analyser_id: str, analysis_type: str, jobs: int
) -> tuple[float | None, str]:
    """US dollars ``jobs`` analyses would cost, and how the figure was made.

    Local engines cost nothing (and the note says so). An LLM model costs its
    typical tokens per analysis type (``TYPICAL_TOKENS``) at today's price;
    without a price the amount is None: unknown, not zero.

    Raises
    ------
    NotFound
        Unknown model (the message lists the available ones).
    BadRequest
        The model does not support the analysis type.
    ValueError
        ``jobs`` is negative.
    """
    if jobs < 0:
        raise ValueError("jobs must not be negative")
    runtime = analyser_runtime(context)
    analyser = runtime.registry.get(analyser_id)
    if not analyser.supports(analysis_type):
        raise BadRequest(
            f"Model {analyser.id} does not support {analysis_type}",
            details=[{"field": "body.analysisType", "message": "unsupported"}],
        )
    caveat = (
        ""
        if analyser.available
        else f" Model is unavailable now ({analyser.unavailable_reason}); analyses "
        "would be answered by the local engine at no token cost."
    )
    if analyser.local:
        return 0.0, "Local engine: runs in-process and uses no tokens, so costs 0."
    usage = typical_usage(analysis_type)
    cost = runtime.prices.cost_of(analyser.price_model_id, usage, context.clock.wall())
    if not isinstance(cost, Cost):
        return None, f"Unpriced: {cost.reason}; the cost is unknown.{caveat}"
    total = cost.total_usd * Decimal(jobs)
    note = (
        f"{jobs} × about {usage.input_tokens:,} input and {usage.output_tokens:,} "
        f"output tokens per {analysis_type} at price {cost.price_version} "
        f"(${cost.total_usd:.6f} each); an estimate, actual use varies with each "
        f"household's history.{caveat}"
    )
    return round(float(total), 6), note
