"""Sentences a manager can act on, derived from a test's comparisons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from omnix.engine.experiment_stats import sample_size_per_arm
from omnix.experiments.schemas import (
    MetricComparison,
    SampleRatioInfo,
    TestStatus,
    WinnerArm,
)

# The effect a test should be able to see: 0.2 standard deviations ("small"
# in Cohen's terms) at 80% power needs this many customers per arm.
SMALL_EFFECT = 0.2
CUSTOMERS_FOR_SMALL_EFFECT = sample_size_per_arm(SMALL_EFFECT)


@dataclass(frozen=True)
class Reading:
    """What the sentences are made from."""

    status: TestStatus
    end_date: datetime
    name_a: str
    name_b: str
    primary: MetricComparison
    comparisons: list[MetricComparison]
    sample_ratio: SampleRatioInfo
    pending_outcomes: int
    outcome_window_days: int

    @property
    def mismatch(self) -> bool:
        return bool(self.sample_ratio.mismatch)

    @property
    def winner(self) -> WinnerArm:
        return "tie" if self.mismatch else self.primary.winner


def value_text(unit: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if unit.startswith("share"):
        return f"{value:.1%}"
    if unit == "milliseconds":
        return f"{value:.1f} ms"
    if unit == "days":
        return f"{value:.2f} days"
    if unit.startswith("USD"):
        return f"${value:.6f}"
    return f"{value:.3f}"


def difference_text(c: MetricComparison) -> str:
    """ "B against A (difference, 95% CI, p)" in the metric's own unit."""
    scale, suffix = 1.0, ""
    if c.unit.startswith("share"):
        scale, suffix = 100.0, " points"
    elif c.unit in ("milliseconds", "days"):
        suffix = " ms" if c.unit == "milliseconds" else " days"
    elif c.unit.startswith("USD"):
        suffix = " USD"
    if c.difference is None or c.ci_low is None or c.ci_high is None:
        return "no comparison"
    return (
        f"{value_text(c.unit, c.model_b.mean)} with B against "
        f"{value_text(c.unit, c.model_a.mean)} with A (difference "
        f"{c.difference * scale:+.3g}{suffix}, 95% CI {c.ci_low * scale:.3g} to "
        f"{c.ci_high * scale:.3g}, p = {c.p_value:.2g})"
    )


def _sample_ratio(reading: Reading) -> list[str]:
    srm = reading.sample_ratio
    a, b = srm.observed
    if srm.mismatch:
        return [
            f"Do not trust this result: {a} customers reached A and {b} reached B, "
            f"far from the configured split (p = {srm.p_value:.2g} < "
            f"{srm.threshold:g}). Find the cause (assignment, calls failing or not "
            "recorded in one arm) before reading any metric."
        ]
    if srm.status == "insufficient_data":
        return [f"Too few customers to check the split yet: {srm.reason}."]
    return []


def _primary(reading: Reading) -> list[str]:
    c = reading.primary
    if c.status == "insufficient_data":
        if reading.status in ("pending", "running"):
            return [f"Keep the test running: {c.label} cannot be compared yet "
                    f"({c.reason})."]  # fmt: skip
        return [
            f"The test ended without enough data on {c.label} ({c.reason}); run it "
            f"again with more customers: about {CUSTOMERS_FOR_SMALL_EFFECT} per arm "
            f"detect a difference of {SMALL_EFFECT} standard deviations at 80% power."
        ]
    if reading.mismatch:
        return []
    if c.significant and c.winner == "B":
        return [f"Switch to {reading.name_b}: {c.label} {difference_text(c)}."]
    if c.significant:
        return [
            f"Keep {reading.name_a}: {reading.name_b} did worse on {c.label}, "
            f"{difference_text(c)}."
        ]
    smaller = min(c.model_a.n, c.model_b.n)
    sentence = f"No significant difference in {c.label}: {difference_text(c)}."
    if smaller < CUSTOMERS_FOR_SMALL_EFFECT:
        sentence += (
            f" With {smaller} customers in the smaller arm only large differences "
            f"show; about {CUSTOMERS_FOR_SMALL_EFFECT} per arm are needed to see "
            f"{SMALL_EFFECT} standard deviations at 80% power."
        )
    else:
        sentence += (
            " The test was large enough to see a small difference: the models are "
            "close on this metric, so prefer the cheaper or faster one."
        )
    return [sentence]


def _side_effects(reading: Reading) -> list[str]:
    lines = []
    for c in reading.comparisons:
        if c is reading.primary or not c.significant or reading.mismatch:
            continue
        better = reading.name_b if c.winner == "B" else reading.name_a
        lines.append(f"Also weigh {c.label}: {better} is better, {difference_text(c)}.")
    return lines


def _timing(reading: Reading) -> list[str]:
    lines = []
    if reading.status == "running":
        lines.append(
            f"The test runs until {reading.end_date.date().isoformat()}: decide "
            "then, at the planned size; stopping the first time p falls below 0.05 "
            "produces false winners."
        )
    elif reading.status == "pending":
        lines.append("The test has not started: no customer is assigned yet.")
    elif reading.status == "paused":
        lines.append(
            "The test was deactivated before its end: the result covers only the "
            "customers seen until then."
        )
    if reading.pending_outcomes:
        lines.append(
            f"{reading.pending_outcomes} customers' {reading.outcome_window_days}-day "
            "outcome windows are still open; outcome metrics will change as their "
            "purchases arrive."
        )
    return lines


def recommendations(reading: Reading) -> list[str]:
    return [
        *_sample_ratio(reading),
        *_primary(reading),
        *_side_effects(reading),
        *_timing(reading),
    ]


def headline(reading: Reading) -> str:
    c = reading.primary
    if reading.mismatch:
        return "Sample ratio mismatch: the result cannot be trusted"
    if c.status == "insufficient_data":
        return f"Not enough data on {c.label} yet"
    if c.significant:
        name = reading.name_b if c.winner == "B" else reading.name_a
        return f"{name} (model {c.winner}) wins on {c.label}, p = {c.p_value:.2g}"
    return f"No significant difference in {c.label} (p = {c.p_value:.2g})"


def ready_to_decide(reading: Reading) -> bool:
    return (
        reading.status in ("completed", "paused")
        and reading.sample_ratio.status == "ok"
        and not reading.mismatch
        and reading.primary.status == "ok"
        and reading.pending_outcomes == 0
    )
