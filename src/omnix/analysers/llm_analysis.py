"""One analysis by an LLM-backed analyser: prompts out, validated answers in.

A full analysis asks the three analysis types at once (three concurrent
completions, each within the deadline) and succeeds only if all three do;
otherwise the whole analysis falls back, and the tokens of every completion,
answered or not, are reported as billed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from omnix.analysers.answers import ANALYSIS_TYPES, AnalysisType
from omnix.analysers.completion import (
    NO_USAGE,
    CompletionUsage,
    JsonCompletion,
    LLMProvider,
    ProviderError,
)
from omnix.analysers.features import CustomerFeatures
from omnix.analysers.llm_results import (
    consumption_results,
    profile_result,
    recommendation_results,
)
from omnix.analysers.prompts import InsufficientFeaturesError, build_prompt
from omnix.analysers.registry import FULL_ANALYSIS
from omnix.engine.population import CustomerAnalysis


class AnalyserFailure(Exception):
    """An analyser could not answer; the caller records it and falls back.

    ``kind`` is a provider error kind (``timeout``, ``http``, ``malformed``,
    ``unavailable``) or ``insufficient_data`` when the household's features
    held nothing to ask about (no call was made).
    """

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        usage: CompletionUsage = NO_USAGE,
        provider_model_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.usage = usage
        self.provider_model_id = provider_model_id


@dataclass(frozen=True)
class LLMAnswer:
    analysis: CustomerAnalysis
    usage: CompletionUsage
    provider_model_id: str
    confidence: float
    attempts: int


def types_of(analysis_type: str) -> tuple[AnalysisType, ...]:
    if analysis_type == FULL_ANALYSIS:
        return ANALYSIS_TYPES
    for known in ANALYSIS_TYPES:
        if known == analysis_type:
            return (known,)
    raise ValueError(f"unknown analysis_type {analysis_type!r}")


async def analyse_with_llm(
    provider: LLMProvider,
    model_id: str,
    analysis_type: str,
    features: CustomerFeatures,
    local: CustomerAnalysis,
    *,
    deadline_s: float,
    k: int,
    horizon_days: int,
) -> LLMAnswer:
    """Ask ``model_id`` for ``analysis_type`` and fold the answers into ``local``.

    Parts not asked for (categories, activity, and every other analysis
    type) are the local engine's.

    Raises
    ------
    AnalyserFailure
        On any provider error or when there is nothing to ask.
    """
    wanted = types_of(analysis_type)
    try:
        prompts = [build_prompt(t, features, max_recommendations=k) for t in wanted]
    except InsufficientFeaturesError as empty:
        raise AnalyserFailure(
            "insufficient_data", str(empty), provider_model_id=model_id
        ) from empty

    outcomes = await asyncio.gather(
        *(
            provider.complete_json(
                model_id=model_id,
                system=prompt.system,
                prompt=prompt.prompt,
                answer_schema=prompt.answer_schema,
                deadline_s=deadline_s,
            )
            for prompt in prompts
        ),
        return_exceptions=True,
    )
    usage, answers, failure = NO_USAGE, {}, None
    for analysis, outcome in zip(wanted, outcomes, strict=True):
        if isinstance(outcome, ProviderError):
            usage = usage + outcome.usage
            failure = failure or outcome
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            usage = usage + outcome.usage
            answers[analysis] = outcome
    if failure is not None:
        raise AnalyserFailure(
            failure.kind, str(failure), usage=usage, provider_model_id=model_id
        )
    return _fold(local, features, answers, usage, horizon_days)


def _fold(
    local: CustomerAnalysis,
    features: CustomerFeatures,
    answers: dict[AnalysisType, JsonCompletion],
    usage: CompletionUsage,
    horizon_days: int,
) -> LLMAnswer:
    analysis, confidences = local, []
    customer_id = local.customer_id
    if "consumption_prediction" in answers:
        content = answers["consumption_prediction"].content
        patterns, alerts, confidence = consumption_results(
            customer_id, features, content, horizon_days
        )
        analysis = replace(
            analysis, product_patterns=tuple(patterns), alerts=tuple(alerts)
        )
        confidences.append(confidence)
    if "recommendation_generation" in answers:
        content = answers["recommendation_generation"].content
        items, confidence = recommendation_results(customer_id, features, content)
        analysis = replace(analysis, recommendations=tuple(items))
        confidences.append(confidence)
    if "customer_profiling" in answers:
        content = answers["customer_profiling"].content
        profile, confidence = profile_result(local.profile, features, content)
        analysis = replace(analysis, profile=profile)
        confidences.append(confidence)
    first = next(iter(answers.values()))
    return LLMAnswer(
        analysis=analysis,
        usage=usage,
        provider_model_id=first.provider_model_id,
        confidence=round(sum(confidences) / len(confidences), 4),
        attempts=sum(a.attempts for a in answers.values()),
    )
