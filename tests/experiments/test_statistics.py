"""The results code against gbstats goldens and scipy, and seeded simulations:
a known true difference is found at the stated power, an A/A test rejects at
alpha."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy import stats

from omnix.engine.experiment_stats import (
    ProportionStats,
    SampleStats,
    sample_size_per_arm,
    welch_power,
)
from omnix.experiments.metrics import METRICS
from omnix.experiments.results import (
    ALPHA,
    arm_statistics,
    compare_metric,
    sample_ratio,
    stats_of,
)

GOLDEN = json.loads(
    (Path(__file__).parents[1] / "engine" / "golden" / "gbstats_ttest.json").read_text()
)
DECIMALS = 1e-6
MEAN_CASES = [c for c in GOLDEN["cases"] if c["kind"] == "mean"]
TWO_ARM_SRM = [c for c in GOLDEN["srm"] if len(c["observed"]) == 2]
DATE_ERROR = METRICS["next_purchase_error"]  # a mean, lower is better
REACH = METRICS["recommendation_reach"]  # a rate, higher is better


def _close(ours: float | None, theirs: float | None) -> bool:
    return ours is not None and theirs is not None and abs(ours - theirs) < DECIMALS


# --- gbstats 0.8.0 on the same summary statistics -------------------------------


@pytest.mark.parametrize("case", MEAN_CASES, ids=lambda c: c["name"])
def test_mean_metrics_agree_with_gbstats(case: dict[str, Any]) -> None:
    a, b = SampleStats(**case["a"]), SampleStats(**case["b"])
    result = compare_metric(DATE_ERROR, a, b)
    absolute, relative = case["absolute"], case["relative"]

    assert result.test == "welch_t"
    assert result.status == "ok"
    if absolute["error_message"] is not None:
        # gbstats refuses any comparison with a zero control mean; only the
        # relative uplift is undefined then, so we still report the difference.
        assert result.difference == pytest.approx(b.mean - a.mean, rel=1e-12)
        assert (result.relative_uplift, result.relative_ci_low) == (None, None)
        return
    assert _close(result.difference, absolute["expected"])
    assert _close(result.ci_low, absolute["ci"][0])
    assert _close(result.ci_high, absolute["ci"][1])
    assert _close(result.p_value, absolute["p_value"])
    assert _close(result.relative_uplift, relative["expected"])
    assert _close(result.relative_ci_low, relative["ci"][0])
    assert _close(result.relative_ci_high, relative["ci"][1])
    assert result.model_a.mean == pytest.approx(a.mean, rel=1e-12)
    assert result.model_b.variance == pytest.approx(b.variance, rel=1e-12)
    # Lower is better for a date error: a significant rise makes A the winner.
    if absolute["p_value"] < ALPHA:
        assert result.winner == ("A" if absolute["expected"] > 0 else "B")
    else:
        assert (result.winner, result.significant) == ("tie", False)


@pytest.mark.parametrize("case", TWO_ARM_SRM, ids=lambda c: c["name"])
def test_sample_ratio_check_agrees_with_gbstats(case: dict[str, Any]) -> None:
    weights = case["weights"]
    split = weights[1] / sum(weights)
    check = sample_ratio(*case["observed"], split)
    if case["name"] == "tiny":
        # gbstats answers even with 3.5 customers expected per arm; the
        # chi-squared approximation needs 5, so we say so instead.
        assert check.status == "insufficient_data"
        assert check.p_value is None
        return
    assert _close(check.p_value, case["p_value"])
    assert check.mismatch == (case["p_value"] < 0.001)


def test_rate_metrics_use_the_two_proportion_z_test() -> None:
    a, b = ProportionStats(n=480, successes=132), ProportionStats(n=510, successes=171)
    result = compare_metric(REACH, a, b)
    table = [[132, 480 - 132], [171, 510 - 171]]
    chi2, p_value, _, _ = stats.chi2_contingency(table, correction=False)
    assert result.test == "two_proportion_z"
    assert result.p_value == pytest.approx(p_value, rel=1e-9)
    assert result.difference == pytest.approx(171 / 510 - 132 / 480, rel=1e-12)
    wald = stats.norm.ppf(0.975) * np.sqrt(
        a.mean * (1 - a.mean) / a.n + b.mean * (1 - b.mean) / b.n
    )
    assert result.ci_high - result.difference == pytest.approx(wald, rel=1e-9)
    assert (result.winner, result.significant) == ("B", True)
    assert result.model_a.variance == pytest.approx(a.mean * (1 - a.mean))


def test_insufficient_data_is_explicit_never_nan() -> None:
    one = SampleStats.from_values([3.0])
    flat = SampleStats.from_values([2.0, 2.0, 2.0])
    for a, b, reason in (
        (one, SampleStats.from_values([1.0, 2.0]), "at least 2 units"),
        (flat, SampleStats.from_values([2.0, 2.0]), "no variation"),
        (SampleStats(0, 0.0, 0.0), flat, "at least 2 units"),
    ):
        result = compare_metric(DATE_ERROR, a, b)
        assert result.status == "insufficient_data"
        assert reason in (result.reason or "")
        assert (result.difference, result.p_value, result.ci_low) == (None,) * 3
        assert (result.winner, result.significant) == ("tie", False)
    assert compare_metric(DATE_ERROR, one, flat).model_a.variance is None
    empty = compare_metric(REACH, ProportionStats(0, 0), ProportionStats(4, 2))
    assert (empty.status, empty.model_a.mean) == ("insufficient_data", None)


def test_a_rate_metric_refuses_sample_statistics() -> None:
    with pytest.raises(ValueError, match="recommendation_reach is a rate"):
        compare_metric(REACH, SampleStats(2, 1.0, 1.0), SampleStats(2, 1.0, 1.0))


# --- simulations through the results code ----------------------------------------


def _experiments(
    rng: np.random.Generator, runs: int, n: int, draw_a: Any, draw_b: Any
) -> pl.DataFrame:
    """``runs`` experiments with n customers per arm, as one units frame."""
    values = np.concatenate([draw_a(rng, (runs, n)), draw_b(rng, (runs, n))], axis=1)
    return pl.DataFrame(
        {
            "run": np.repeat(np.arange(runs), 2 * n),
            "arm": np.tile(np.repeat(["A", "B"], n), runs),
            "value": values.ravel(),
        }
    )


def _verdicts(units: pl.DataFrame, spec: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per run: significant, and the winning arm."""
    table = arm_statistics(
        units.rename({"value": spec.column}), [spec.column], by=["run"]
    )
    by_run: dict[int, dict[str, dict[str, Any]]] = {}
    for row in table.iter_rows(named=True):
        by_run.setdefault(row["run"], {})[row["arm"]] = row
    results = [
        compare_metric(spec, stats_of(spec, arms["A"]), stats_of(spec, arms["B"]))
        for _, arms in sorted(by_run.items())
    ]
    return (
        np.array([r.significant for r in results]),
        np.array([r.winner for r in results]),
    )


def _band(p: float, runs: int) -> tuple[float, float]:
    """Where the observed rate falls 99.9% of the time if the true rate is p."""
    low, high = stats.binom.interval(0.999, runs, p)
    return low / runs, high / runs


def test_a_true_difference_is_found_at_the_stated_power() -> None:
    effect = 0.5  # B's date error is half a standard deviation lower
    n = sample_size_per_arm(effect)
    power = welch_power(n, effect)
    runs = 2000
    units = _experiments(
        np.random.default_rng(20171101), runs, n,
        lambda rng, shape: rng.normal(20.0, 8.0, shape),
        lambda rng, shape: rng.normal(20.0 - effect * 8.0, 8.0, shape),
    )  # fmt: skip
    significant, winner = _verdicts(units, DATE_ERROR)

    assert n == 64
    assert power == pytest.approx(0.80, abs=0.01)
    detected = np.mean(significant & (winner == "B"))
    low, high = _band(power, runs)
    assert low <= detected <= high
    assert np.mean(winner == "A") < 0.001  # the wrong arm almost never wins


@pytest.mark.parametrize("spec", [DATE_ERROR, REACH], ids=lambda s: s.id)
def test_an_a_a_test_rejects_at_alpha(spec: Any) -> None:
    runs, n = 2000, 150
    if spec.kind == "rate":

        def draw(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
            return (rng.random(shape) < 0.3).astype(float)
    else:

        def draw(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
            # Skewed like real date errors: the test relies on the CLT.
            return rng.gamma(2.0, 6.0, shape)

    significant, winner = _verdicts(
        _experiments(np.random.default_rng(7), runs, n, draw, draw), spec
    )
    low, high = _band(ALPHA, runs)
    assert low <= significant.mean() <= high
    # Both directions err about equally often.
    assert abs(np.mean(winner == "A") - np.mean(winner == "B")) < 0.02
