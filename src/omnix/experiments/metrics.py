"""The metrics an A/B test can compare, and which analysis types have them.

The unit of every comparison is the customer, because assignment is sticky
per customer and several analyses of one household are not independent.
Per-call metrics come from the usage ledger (a customer's calls are averaged
first); outcome metrics score the predictions of the customer's first call in
the phase against the purchases made after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from omnix.analysers.answers import ANALYSIS_TYPES
from omnix.analysers.registry import FULL_ANALYSIS

MetricKind = Literal["mean", "rate"]
MetricSource = Literal["call", "outcome"]
MetricId = Literal[
    "success_rate",
    "processing_time",
    "confidence",
    "token_cost",
    "next_purchase_error",
    "recommendation_hit_rate",
    "recommendation_reach",
]

TEST_TYPES: tuple[str, ...] = (*ANALYSIS_TYPES, FULL_ANALYSIS)
_DATES = ("consumption_prediction", FULL_ANALYSIS)
_RECOMMENDATIONS = ("recommendation_generation", FULL_ANALYSIS)


@dataclass(frozen=True)
class MetricSpec:
    """One metric: how a customer's value is made and which way is better.

    ``kind`` picks the test: Welch's t-test for a mean, the two-proportion
    z-test for a rate (a 0/1 value per customer).
    """

    id: MetricId
    label: str
    kind: MetricKind
    unit: str
    higher_is_better: bool
    column: str
    source: MetricSource
    analysis_types: tuple[str, ...]
    description: str


METRICS: dict[str, MetricSpec] = {
    spec.id: spec
    for spec in (
        MetricSpec(
            "success_rate",
            "analysis success rate",
            "rate",
            "share of customers",
            True,
            "success",
            "call",
            TEST_TYPES,
            "Share of customers whose every analysis in the phase succeeded "
            "(a failed LLM call counts against its arm even though the local "
            "engine then answered).",
        ),
        MetricSpec(
            "processing_time",
            "processing time",
            "mean",
            "milliseconds",
            False,
            "latency_ms",
            "call",
            TEST_TYPES,
            "Mean time to answer one analysis, averaged per customer.",
        ),
        MetricSpec(
            "confidence",
            "stated confidence",
            "mean",
            "0-1",
            True,
            "confidence",
            "call",
            TEST_TYPES,
            "The analyser's own confidence in its answer, averaged per customer. "
            "Self-reported: compare it, never decide on it alone.",
        ),
        MetricSpec(
            "token_cost",
            "token cost",
            "mean",
            "USD per analysis",
            False,
            "token_cost",
            "call",
            TEST_TYPES,
            "Provider cost of one analysis, averaged per customer; customers "
            "with an unpriced call are left out (their cost is unknown).",
        ),
        MetricSpec(
            "next_purchase_error",
            "next-purchase date error",
            "mean",
            "days",
            False,
            "date_error_days",
            "outcome",
            _DATES,
            "Mean absolute days between the predicted and the actual next "
            "purchase of each predicted product bought again within the outcome "
            "window, per customer.",
        ),
        MetricSpec(
            "recommendation_hit_rate",
            "recommendation hit rate",
            "mean",
            "share of recommended products",
            True,
            "hit_share",
            "outcome",
            _RECOMMENDATIONS,
            "Share of the recommended products the customer bought within the "
            "outcome window, per customer.",
        ),
        MetricSpec(
            "recommendation_reach",
            "customers buying a recommendation",
            "rate",
            "share of customers",
            True,
            "any_hit",
            "outcome",
            _RECOMMENDATIONS,
            "Share of customers who bought at least one recommended product "
            "within the outcome window.",
        ),
    )
}


def metrics_for(analysis_type: str) -> list[str]:
    """Every metric that applies to a test of this analysis type."""
    return [m.id for m in METRICS.values() if analysis_type in m.analysis_types]


def default_primary(analysis_type: str) -> str:
    """The metric that names the winner unless the test says otherwise.

    An outcome where the type predicts something (what customers did decides);
    for profiling, which predicts nothing checkable, the success rate.
    """
    if analysis_type in _RECOMMENDATIONS:
        return "recommendation_hit_rate"
    if analysis_type in _DATES:
        return "next_purchase_error"
    return "success_rate"
