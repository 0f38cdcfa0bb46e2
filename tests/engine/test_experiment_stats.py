"""Experiment statistics against gbstats goldens, scipy, published figures and
seeded simulations."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from omnix.engine.experiment_stats import (
    ComparisonResult,
    ProportionStats,
    SampleStats,
    decide,
    sample_ratio_mismatch,
    sample_size_per_arm,
    two_proportion_z_test,
    welch_power,
    welch_t_test,
)

GOLDEN = json.loads(
    (Path(__file__).parent / "golden" / "gbstats_ttest.json").read_text()
)
DECIMALS = 1e-6


def _arms(case: dict[str, Any]) -> tuple[Any, Any]:
    if case["kind"] == "mean":
        return SampleStats(**case["a"]), SampleStats(**case["b"])
    return ProportionStats(**case["a"]), ProportionStats(**case["b"])


def _binomial_band(p: float, trials: int, level: float = 0.999) -> tuple[float, float]:
    """Central interval for an observed rate when the true rate is p."""
    low, high = stats.binom.interval(level, trials, p)
    return low / trials, high / trials


def _assert_no_nan(result: ComparisonResult) -> None:
    for field in dataclasses.fields(result):
        value = getattr(result, field.name)
        if isinstance(value, float):
            assert math.isfinite(value), field.name


# --- golden values from gbstats 0.8.0 -------------------------------------


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=lambda c: c["name"])
@pytest.mark.parametrize("effect", ["relative", "absolute"])
def test_welch_matches_gbstats(case: dict[str, Any], effect: str) -> None:
    control, treatment = _arms(case)
    expected = case[effect]
    ours = welch_t_test(control, treatment, relative=effect == "relative")

    if expected["error_message"] is not None:
        # gbstats refuses every comparison with a zero control mean; we refuse
        # the relative one (undefined) and still report the absolute difference.
        if effect == "relative":
            assert ours.status == "insufficient_data"
            assert ours.reason is not None
            assert ours.estimate is None
        else:
            assert ours.status == "ok"
        return

    assert ours.status == "ok"
    assert ours.estimate == pytest.approx(expected["expected"], abs=DECIMALS, rel=0)
    assert ours.ci_low == pytest.approx(expected["ci"][0], abs=DECIMALS, rel=0)
    assert ours.ci_high == pytest.approx(expected["ci"][1], abs=DECIMALS, rel=0)
    assert ours.p_value == pytest.approx(expected["p_value"], abs=DECIMALS, rel=0)
    assert ours.standard_error == pytest.approx(
        expected["uplift_stddev"], abs=DECIMALS, rel=0
    )


@pytest.mark.parametrize(
    "case",
    [c for c in GOLDEN["cases"] if c["kind"] == "proportion"],
    ids=lambda c: c["name"],
)
def test_relative_z_test_shares_gbstats_delta_method(case: dict[str, Any]) -> None:
    control, treatment = _arms(case)
    expected = case["relative"]
    ours = two_proportion_z_test(control, treatment, relative=True)
    z = stats.norm.ppf(0.975)

    assert ours.estimate == pytest.approx(expected["expected"], abs=DECIMALS, rel=0)
    assert ours.standard_error == pytest.approx(
        expected["uplift_stddev"], abs=DECIMALS, rel=0
    )
    assert ours.ci_low == pytest.approx(
        expected["expected"] - z * expected["uplift_stddev"], abs=DECIMALS, rel=0
    )
    # Normal quantiles are narrower than gbstats' t quantiles.
    assert expected["ci"][0] < ours.ci_low < ours.ci_high < expected["ci"][1]


@pytest.mark.parametrize("case", GOLDEN["srm"], ids=lambda c: c["name"])
def test_srm_matches_gbstats_and_scipy(case: dict[str, Any]) -> None:
    check = sample_ratio_mismatch(case["observed"], case["weights"])

    if min(check.expected) < 5:
        assert check.status == "insufficient_data"
        assert check.p_value is None
        assert check.mismatch is None
        return
    weights = np.asarray(case["weights"]) / sum(case["weights"])
    scipy_p = stats.chisquare(case["observed"], weights * sum(case["observed"])).pvalue
    assert check.status == "ok"
    assert check.p_value == pytest.approx(case["p_value"], abs=DECIMALS, rel=1e-9)
    assert check.p_value == pytest.approx(scipy_p, rel=1e-9)
    assert check.mismatch == (case["p_value"] < 0.001)


def test_srm_flags_the_seventy_thirty_split_but_not_noise() -> None:
    assert sample_ratio_mismatch([720, 280], [0.5, 0.5]).mismatch is True
    assert sample_ratio_mismatch([505, 495], [0.5, 0.5]).mismatch is False


# --- other references --------------------------------------------------------


@pytest.mark.parametrize(
    ("n_a", "n_b", "shift", "sd_b"), [(30, 45, 0.4, 2.0), (7, 300, -1.0, 0.5)]
)
def test_absolute_welch_agrees_with_scipy(
    n_a: int, n_b: int, shift: float, sd_b: float
) -> None:
    rng = np.random.default_rng(7)
    a = rng.normal(10.0, 1.0, n_a)
    b = rng.normal(10.0 + shift, sd_b, n_b)
    reference = stats.ttest_ind(b, a, equal_var=False)
    interval = reference.confidence_interval(0.95)

    ours = welch_t_test(SampleStats.from_values(a), SampleStats.from_values(b))

    assert ours.statistic == pytest.approx(reference.statistic, rel=1e-9)
    assert ours.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert ours.dof == pytest.approx(reference.df, rel=1e-9)
    assert ours.ci_low == pytest.approx(interval.low, rel=1e-9)
    assert ours.ci_high == pytest.approx(interval.high, rel=1e-9)


@pytest.mark.parametrize(
    ("a", "b", "low", "high"),
    # Newcombe (1998), worked examples (a) and (b), method 1 (simple asymptotic).
    [((80, 48), (70, 56), 0.0575, 0.3425), ((10, 3), (10, 9), 0.2605, 0.9395)],
)
def test_z_interval_matches_newcombe(
    a: tuple[int, int], b: tuple[int, int], low: float, high: float
) -> None:
    ours = two_proportion_z_test(ProportionStats(*a), ProportionStats(*b))

    assert round(ours.ci_low, 4) == low
    assert round(ours.ci_high, 4) == high


def test_z_p_value_equals_uncorrected_chi_squared() -> None:
    control, treatment = ProportionStats(500, 30), ProportionStats(510, 45)
    table = [[30, 470], [45, 465]]
    reference = stats.chi2_contingency(table, correction=False)

    ours = two_proportion_z_test(control, treatment)

    assert ours.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert ours.statistic**2 == pytest.approx(reference.statistic, rel=1e-9)


@pytest.mark.parametrize(("effect_size", "n"), [(0.2, 394), (0.5, 64), (0.8, 26)])
def test_sample_size_matches_gpower(effect_size: float, n: int) -> None:
    # G*Power 3 (Faul et al. 2007), two independent means, alpha 0.05, power 0.8:
    # total sample sizes 788, 128 and 52.
    assert sample_size_per_arm(effect_size) == n


# --- sufficient statistics, insufficient data and validation -----------------


def test_sufficient_statistics_add_like_the_raw_data() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.gamma(2.0, 15.0, 400), rng.gamma(2.0, 15.0, 250)

    combined = SampleStats.from_values(x) + SampleStats.from_values(y)
    whole = SampleStats.from_values(np.concatenate([x, y]))

    assert combined.n == whole.n
    assert combined.mean == pytest.approx(whole.mean, rel=1e-12)
    assert combined.variance == pytest.approx(np.var(np.r_[x, y], ddof=1), rel=1e-9)
    rates = ProportionStats.from_outcomes([1, 0, 1]) + ProportionStats(2, 1)
    assert rates == ProportionStats(5, 3)


@pytest.mark.parametrize(
    ("control", "treatment", "relative"),
    [
        (SampleStats(1, 4.0, 16.0), SampleStats(1, 5.0, 25.0), False),
        (SampleStats(0, 0.0, 0.0), SampleStats(10, 20.0, 50.0), False),
        (SampleStats(5, 10.0, 20.0), SampleStats(5, 15.0, 45.0), False),
        (SampleStats(5, 0.0, 10.0), SampleStats(5, 5.0, 15.0), True),
        (SampleStats(5, 5.0, 15.0), SampleStats(5, 0.0, 0.0), True),
        (ProportionStats(0, 0), ProportionStats(10, 3), False),
        (ProportionStats(10, 0), ProportionStats(10, 4), True),
    ],
)
def test_degenerate_arms_are_insufficient_not_errors(
    control: Any, treatment: Any, relative: bool
) -> None:
    result = welch_t_test(control, treatment, relative=relative)

    assert result.status == "insufficient_data"
    assert result.reason
    assert result.p_value is None
    assert result.ci_low is None
    _assert_no_nan(result)


@pytest.mark.parametrize(
    ("control", "treatment"),
    [
        (ProportionStats(0, 0), ProportionStats(10, 3)),
        (ProportionStats(10, 0), ProportionStats(12, 0)),
        (ProportionStats(10, 10), ProportionStats(12, 12)),
    ],
)
def test_degenerate_rates_are_insufficient(control: Any, treatment: Any) -> None:
    for relative in (False, True):
        result = two_proportion_z_test(control, treatment, relative=relative)
        assert result.status == "insufficient_data"
        assert result.reason


def test_zero_successes_in_one_arm_is_still_testable() -> None:
    result = two_proportion_z_test(ProportionStats(400, 0), ProportionStats(400, 12))

    assert result.status == "ok"
    assert result.p_value < 0.001


@st.composite
def _sample_stats(draw: st.DrawFn) -> SampleStats:
    n = draw(st.integers(0, 10_000))
    if n == 0:
        return SampleStats(0, 0.0, 0.0)
    mean = draw(st.floats(-1e6, 1e6))
    sd = draw(st.floats(0.0, 1e6))
    return SampleStats(n, n * mean, max(n - 1, 0) * sd**2 + n * mean**2)


@given(_sample_stats(), _sample_stats(), st.booleans())
def test_results_never_contain_nan(a: SampleStats, b: SampleStats, rel: bool) -> None:
    result = welch_t_test(a, b, relative=rel)

    _assert_no_nan(result)
    assert (result.status == "ok") == (result.p_value is not None)
    if result.status == "ok":
        assert 0.0 <= result.p_value <= 1.0
        assert result.ci_low <= result.estimate <= result.ci_high


@given(
    st.integers(0, 500).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))),
    st.integers(0, 500).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))),
)
def test_rates_never_contain_nan(a: tuple[int, int], b: tuple[int, int]) -> None:
    for relative in (False, True):
        result = two_proportion_z_test(
            ProportionStats(*a), ProportionStats(*b), relative=relative
        )
        _assert_no_nan(result)


@pytest.mark.parametrize(
    "build",
    [
        lambda: SampleStats(-1, 0.0, 0.0),
        lambda: SampleStats(3, 6.0, 1.0),
        lambda: SampleStats(3, math.nan, 1.0),
        lambda: SampleStats(0, 1.0, 1.0),
        lambda: ProportionStats(5, 6),
        lambda: ProportionStats.from_outcomes([0, 2]),
        lambda: welch_t_test(SampleStats(3, 3, 5), SampleStats(3, 3, 5), alpha=1.5),
        lambda: sample_ratio_mismatch([10], [1.0]),
        lambda: sample_ratio_mismatch([10, 10], [0.5, 0.0]),
        lambda: sample_ratio_mismatch([10, -1], [0.5, 0.5]),
    ],
)
def test_bad_input_raises_value_error(build: Any) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        build()


# --- decision ---------------------------------------------------------------


def test_decision_names_the_better_arm() -> None:
    control, treatment = (
        SampleStats.from_values([1, 2, 3] * 50),
        SampleStats.from_values([2, 3, 4] * 50),
    )
    result = welch_t_test(control, treatment)

    assert decide(result).winner == "B"
    assert decide(result, higher_is_better=False).winner == "A"
    assert decide(result).significance == pytest.approx(1.0 - result.p_value)
    assert decide(result).significant


def test_decision_is_a_tie_without_evidence() -> None:
    close = welch_t_test(
        SampleStats(100, 500.0, 2600.0), SampleStats(100, 505.0, 2660.0)
    )
    empty = welch_t_test(SampleStats(1, 5.0, 25.0), SampleStats(100, 505.0, 2660.0))

    assert decide(close).winner == "tie"
    assert 0.0 < decide(close).significance < 0.95
    assert decide(empty) == decide(empty, higher_is_better=False)
    assert decide(empty).winner == "tie"
    assert decide(empty).significance == 0.0


# --- seeded simulations -----------------------------------------------------


def _simulated_arms(
    rng: np.random.Generator, reps: int, n: int, mean: float, sd: float
) -> list[SampleStats]:
    x = rng.normal(mean, sd, size=(reps, n))
    totals, squares = x.sum(axis=1), np.einsum("ij,ij->i", x, x)
    return [
        SampleStats(n, float(t), float(s)) for t, s in zip(totals, squares, strict=True)
    ]


def test_welch_detects_a_true_difference_at_the_stated_power() -> None:
    reps, n, sd, delta = 1000, 200, 4.0, 1.0
    power = welch_power(n, delta / sd)
    rng = np.random.default_rng(20240501)
    control = _simulated_arms(rng, reps, n, 30.0, sd)
    treatment = _simulated_arms(rng, reps, n, 30.0 + delta, sd)

    detected = [
        decide(welch_t_test(a, b)).winner == "B"
        for a, b in zip(control, treatment, strict=True)
    ]

    low, high = _binomial_band(power, reps)
    assert 0.6 < power < 0.8
    assert low <= np.mean(detected) <= high


def test_welch_aa_test_rejects_at_alpha() -> None:
    reps, n = 2000, 60
    rng = np.random.default_rng(11)
    control = _simulated_arms(rng, reps, n, 12.0, 3.0)
    treatment = _simulated_arms(rng, reps, n, 12.0, 3.0)

    p_values = np.array(
        [welch_t_test(a, b).p_value for a, b in zip(control, treatment, strict=True)]
    )

    low, high = _binomial_band(0.05, reps)
    assert low <= np.mean(p_values < 0.05) <= high


def test_z_test_aa_and_power() -> None:
    reps, n, base, lifted = 2000, 1500, 0.10, 0.13
    rng = np.random.default_rng(5)
    a = rng.binomial(n, base, size=reps)
    b_null = rng.binomial(n, base, size=reps)
    b_lift = rng.binomial(n, lifted, size=reps)
    # Normal-theory power of the pooled z-test: null SE for the critical value,
    # alternative SE for the spread of the observed difference.
    pooled = (base + lifted) / 2
    se0 = math.sqrt(2 * pooled * (1 - pooled) / n)
    se1 = math.sqrt((base * (1 - base) + lifted * (1 - lifted)) / n)
    power = stats.norm.sf((1.96 * se0 - (lifted - base)) / se1)

    null_p = [
        two_proportion_z_test(
            ProportionStats(n, int(x)), ProportionStats(n, int(y))
        ).p_value
        for x, y in zip(a, b_null, strict=True)
    ]
    lift_p = [
        two_proportion_z_test(
            ProportionStats(n, int(x)), ProportionStats(n, int(y))
        ).p_value
        for x, y in zip(a, b_lift, strict=True)
    ]

    low, high = _binomial_band(0.05, reps)
    assert low <= np.mean(np.array(null_p) < 0.05) <= high
    low, high = _binomial_band(power, reps)
    assert low <= np.mean(np.array(lift_p) < 0.05) <= high


def test_relative_interval_covers_the_true_uplift() -> None:
    reps, n, base_mean, uplift = 1000, 400, 50.0, 0.04
    rng = np.random.default_rng(99)
    control = _simulated_arms(rng, reps, n, base_mean, 15.0)
    treatment = _simulated_arms(rng, reps, n, base_mean * (1 + uplift), 15.0)

    covered = [
        r.ci_low <= uplift <= r.ci_high
        for r in (
            welch_t_test(a, b, relative=True)
            for a, b in zip(control, treatment, strict=True)
        )
    ]

    low, high = _binomial_band(0.95, reps)
    assert low <= np.mean(covered) <= high


def test_srm_false_alarm_rate_under_the_right_split() -> None:
    reps, units = 2000, 3000
    rng = np.random.default_rng(42)
    counts = rng.multinomial(units, [0.3, 0.7], size=reps)

    p_values = np.array(
        [sample_ratio_mismatch(row.tolist(), [0.3, 0.7]).p_value for row in counts]
    )

    low, high = _binomial_band(0.05, reps)
    assert low <= np.mean(p_values < 0.05) <= high
