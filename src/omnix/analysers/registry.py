"""The registry of analysis models ("analysers"): what can answer an analysis.

Two local engines are always available: the full engine and a deliberately
simple interval baseline, so that an experiment has two real contenders on
any machine. LLM-backed analysers (Claude on Amazon Bedrock and on the
Anthropic API, any OpenAI-compatible model) are listed whatever the
configuration, with the reason they are unavailable until their provider is
configured. Ids are stable names of a role ("bedrock:claude-haiku"), not of a
provider's model version, which is configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from omnix.analysers.answers import ANALYSIS_TYPES
from omnix.analysers.completion import LLMProvider
from omnix.analysers.settings import ProviderSettings
from omnix.errors import BadRequest, NotFound, field_error

FULL_ANALYSIS = "full_analysis"

LOCAL_ENGINE_ID = "local:omnix-v1"
INTERVAL_BASELINE_ID = "local:interval-baseline-v1"
BEDROCK_HAIKU_ID = "bedrock:claude-haiku"
BEDROCK_SONNET_ID = "bedrock:claude-sonnet"
ANTHROPIC_HAIKU_ID = "anthropic:claude-haiku"
ANTHROPIC_SONNET_ID = "anthropic:claude-sonnet"
OPENAI_COMPATIBLE_ID = "openai:compatible"

ANALYSER_IDS = (
    LOCAL_ENGINE_ID,
    INTERVAL_BASELINE_ID,
    BEDROCK_HAIKU_ID,
    BEDROCK_SONNET_ID,
    ANTHROPIC_HAIKU_ID,
    ANTHROPIC_SONNET_ID,
    OPENAI_COMPATIBLE_ID,
)

AnalyserKind = Literal["engine", "interval_baseline", "llm"]


@dataclass(frozen=True)
class AnalyserInfo:
    """One registry entry; ``provider_model_id`` is what an LLM provider bills."""

    id: str
    name: str
    provider: str
    description: str
    analysis_types: tuple[str, ...] = ANALYSIS_TYPES
    available: bool = True
    unavailable_reason: str | None = None
    kind: AnalyserKind = "engine"
    provider_model_id: str | None = None

    @property
    def local(self) -> bool:
        return self.kind != "llm"

    @property
    def price_model_id(self) -> str:
        """The id the price table knows this analyser by."""
        return self.provider_model_id or self.id

    def supports(self, analysis_type: str) -> bool:
        """A full analysis needs every type; other types must be listed."""
        if analysis_type == FULL_ANALYSIS:
            return all(t in self.analysis_types for t in ANALYSIS_TYPES)
        return analysis_type in self.analysis_types


class AnalyserRegistry:
    def __init__(self, analysers: list[AnalyserInfo], default_id: str) -> None:
        self._by_id = {analyser.id: analyser for analyser in analysers}
        if default_id not in self._by_id:
            raise ValueError(f"default analyser {default_id} is not registered")
        self.default_id = default_id

    def all(self) -> list[AnalyserInfo]:
        return list(self._by_id.values())

    def available_ids(self) -> list[str]:
        return sorted(a.id for a in self.all() if a.available)

    def find(self, analyser_id: str) -> AnalyserInfo | None:
        return self._by_id.get(analyser_id)

    def get(self, analyser_id: str, field: str | None = None) -> AnalyserInfo:
        """The entry. An unknown id named by a request's ``field`` (e.g.
        ``query.model``) is that request's mistake, a 400 naming the field;
        otherwise a 404. Both list the available ids."""
        analyser = self._by_id.get(analyser_id)
        if analyser is None:
            known = ", ".join(self.available_ids())
            if field is not None:
                raise field_error(
                    field, f"unknown model {analyser_id!r}; available: {known}"
                )
            raise NotFound(f"Unknown model {analyser_id}; available: {known}")
        return analyser

    def resolve(self, analyser_id: str | None, analysis_type: str) -> AnalyserInfo:
        """The analyser asked for (or the default), checked for this request.

        An explicit choice that cannot answer is the caller's mistake: a 400
        naming ``query.model`` for an unknown id, an unsupported analysis type
        or an unavailable model.
        """
        analyser = (
            self.get(analyser_id, "query.model")
            if analyser_id
            else self.get(self.default_id)
        )
        if not analyser.supports(analysis_type):
            raise BadRequest(
                f"Model {analyser.id} does not support {analysis_type}; it "
                f"supports {', '.join(analyser.analysis_types)}",
                details=[
                    {"field": "query.model", "message": "unsupported analysis type"}
                ],
            )
        if not analyser.available:
            raise BadRequest(
                f"Model {analyser.id} is unavailable: {analyser.unavailable_reason}",
                details=[{"field": "query.model", "message": "model unavailable"}],
            )
        return analyser


def local_engine() -> AnalyserInfo:
    return AnalyserInfo(
        id=LOCAL_ENGINE_ID,
        name="OMNIX local engine v1",
        provider="local",
        description="Log-normal purchase rhythms with a learned repurchase scorer, "
        "a next-basket recommender and BG/NBD activity, fitted on this store's data.",
    )


def interval_baseline() -> AnalyserInfo:
    return AnalyserInfo(
        id=INTERVAL_BASELINE_ID,
        name="Interval baseline v1",
        provider="local",
        description="Last purchase plus the median gap between purchase days; "
        "the household's most frequent products topped up with the store's most "
        "popular ones; a profile from fixed rules. Fits nothing.",
        kind="interval_baseline",
    )


def _llm(
    analyser_id: str,
    name: str,
    provider: LLMProvider | None,
    provider_name: str,
    model_id: str | None,
    analysis_types: tuple[str, ...] = ANALYSIS_TYPES,
) -> AnalyserInfo:
    reason: str | None = f"provider {provider_name} is not installed"
    available = False
    if provider is not None:
        available, reason = provider.availability()
    shown = model_id or "not configured"
    return AnalyserInfo(
        id=analyser_id,
        name=name,
        provider=provider_name,
        description=f"Sends the household's computed features (never personal "
        f"data) to {shown} and validates its JSON answer.",
        analysis_types=analysis_types,
        available=available,
        unavailable_reason=reason,
        kind="llm",
        provider_model_id=model_id,
    )


def build_registry(
    settings: ProviderSettings,
    providers: Mapping[str, LLMProvider],
    default_id: str = LOCAL_ENGINE_ID,
) -> AnalyserRegistry:
    """Every analyser, configured or not, with its availability right now."""
    bedrock, anthropic = providers.get("bedrock"), providers.get("anthropic")
    openai = providers.get("openai")
    return AnalyserRegistry(
        [
            local_engine(),
            interval_baseline(),
            _llm(
                BEDROCK_HAIKU_ID,
                "Claude Haiku on Amazon Bedrock",
                bedrock,
                "bedrock",
                settings.bedrock_haiku_model_id,
            ),
            _llm(
                BEDROCK_SONNET_ID,
                "Claude Sonnet on Amazon Bedrock",
                bedrock,
                "bedrock",
                settings.bedrock_sonnet_model_id,
            ),
            _llm(
                ANTHROPIC_HAIKU_ID,
                "Claude Haiku (Anthropic API)",
                anthropic,
                "anthropic",
                settings.anthropic_haiku_model_id,
            ),
            _llm(
                ANTHROPIC_SONNET_ID,
                "Claude Sonnet (Anthropic API)",
                anthropic,
                "anthropic",
                settings.anthropic_sonnet_model_id,
            ),
            _llm(
                OPENAI_COMPATIBLE_ID,
                f"OpenAI-compatible: {settings.openai_model or 'no model set'}",
                openai,
                "openai",
                settings.openai_model,
                settings.openai_types,
            ),
        ],
        default_id,
    )


def default_registry() -> AnalyserRegistry:
    """The registry of an unconfigured installation (local engines only usable)."""
    from omnix.analysers.providers import build_providers

    settings = ProviderSettings()
    return build_registry(settings, build_providers(settings))
