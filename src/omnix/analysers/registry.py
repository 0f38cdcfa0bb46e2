"""The registry of analysis models ("analysers"): what can answer an analysis.

Local engines are always available. LLM-backed analysers are listed with the
reason they are unavailable until their provider is configured.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from omnix.errors import BadRequest, NotFound

ANALYSIS_TYPES = (
    "consumption_prediction",
    "customer_profiling",
    "recommendation_generation",
)
FULL_ANALYSIS = "full_analysis"
LOCAL_ENGINE_ID = "local:omnix-v1"


@dataclass(frozen=True)
class AnalyserInfo:
    id: str
    name: str
    provider: str
    description: str
    analysis_types: tuple[str, ...] = ANALYSIS_TYPES
    available: bool = True
    unavailable_reason: str | None = None
    local: bool = True
    tags: tuple[str, ...] = field(default=())


class AnalyserRegistry:
    def __init__(self, analysers: list[AnalyserInfo], default_id: str) -> None:
        self._by_id = {analyser.id: analyser for analyser in analysers}
        if default_id not in self._by_id:
            raise ValueError(f"default analyser {default_id} is not registered")
        self.default_id = default_id

    def all(self) -> list[AnalyserInfo]:
        return list(self._by_id.values())

    def get(self, analyser_id: str) -> AnalyserInfo:
        analyser = self._by_id.get(analyser_id)
        if analyser is None:
            known = ", ".join(sorted(a.id for a in self.all() if a.available))
            raise NotFound(f"Unknown model {analyser_id}; available: {known}")
        return analyser

    def resolve(self, analyser_id: str | None, analysis_type: str) -> AnalyserInfo:
        """The analyser to use: the one asked for, or the default."""
        analyser = self.get(analyser_id or self.default_id)
        if (
            analysis_type != FULL_ANALYSIS
            and analysis_type not in analyser.analysis_types
        ):
            raise BadRequest(
                f"Model {analyser.id} does not support {analysis_type}",
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


def default_registry() -> AnalyserRegistry:
    return AnalyserRegistry([local_engine()], LOCAL_ENGINE_ID)
