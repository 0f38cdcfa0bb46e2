"""Frequentist statistics for A/B tests of analysis models.

Each arm is summarised by sufficient statistics that add together, so the
service can aggregate them per day or per shard and combine them later:
:class:`SampleStats` (n, sum, sum of squares) for a mean outcome such as the
value of the next basket or an analysis' latency, and :class:`ProportionStats`
(n, successes) for a rate such as "the predicted product was bought".

Arm A is the control, arm B the treatment. Every comparison returns a
:class:`ComparisonResult` whose ``status`` is ``"ok"`` or
``"insufficient_data"`` (with a ``reason``); its numbers are then ``None``,
never NaN, and no input that passes validation raises ZeroDivisionError.
Invalid input (negative counts, impossible sums of squares, alpha outside
(0, 1)) raises ``ValueError`` naming the problem.

The Welch t-test follows the conventions of GrowthBook's ``gbstats``
(``frequentist.tests.TwoSidedTTest``, version 0.8.0) exactly; the golden test
compares the two to six decimals. One deliberate difference: gbstats refuses
any arm with zero variance, we refuse only when the standard error of the
difference is zero, because "no conversions at all in A" is a legitimate,
testable outcome.

References
----------
Welch, B. L. (1947). The generalization of "Student's" problem when several
different population variances are involved. Biometrika 34(1/2), 28-35.
Satterthwaite, F. E. (1946). An approximate distribution of estimates of
variance components. Biometrics Bulletin 2(6), 110-114.
Newcombe, R. G. (1998). Interval estimation for the difference between
independent proportions. Statistics in Medicine 17, 873-890 (method 1).
Cohen, J. (1988). Statistical Power Analysis for the Behavioral Sciences,
2nd ed., chapter 2.
GrowthBook gbstats 0.8.0, ``frequentist_variance`` (delta method for the
ratio of two independent means).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

Status = Literal["ok", "insufficient_data"]
Effect = Literal["absolute", "relative"]
TestName = Literal["welch_t", "two_proportion_z"]
Winner = Literal["A", "B", "tie"]

#: GrowthBook's default p-value threshold for a sample-ratio mismatch.
SRM_THRESHOLD = 0.001
#: Pearson's rule of thumb for the chi-squared approximation.
MIN_EXPECTED_PER_ARM = 5.0


@dataclass(frozen=True)
class SampleStats:
    r"""Sufficient statistics of a real-valued outcome in one arm.

    Parameters
    ----------
    n : int
        Units (customers) in the arm.
    total : float
        Sum of the outcome, :math:`\sum x_i`.
    sum_squares : float
        Sum of squared outcomes, :math:`\sum x_i^2`.
    """

    n: int
    total: float
    sum_squares: float

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int | np.integer):
            raise ValueError(f"n must be an integer, got {self.n!r}")
        if self.n < 0:
            raise ValueError(f"n must be >= 0, got {self.n}")
        if not (math.isfinite(self.total) and math.isfinite(self.sum_squares)):
            raise ValueError("total and sum_squares must be finite numbers")
        if not math.isfinite(self.total * self.total):
            raise ValueError("total is too large to square in floating point")
        if self.n == 0 and (self.total != 0 or self.sum_squares != 0):
            raise ValueError("an empty arm must have total = sum_squares = 0")
        # Cauchy-Schwarz: sum(x^2) >= (sum x)^2 / n; allow rounding slack.
        if self.n > 0:
            floor = self.total * self.total / self.n
            if self.sum_squares < floor - 1e-9 * max(abs(floor), 1.0):
                raise ValueError("sum_squares is smaller than total**2 / n")

    @classmethod
    def from_values(cls, values: ArrayLike) -> SampleStats:
        """Summarise raw outcomes (one per unit)."""
        x = np.asarray(values, dtype=np.float64).ravel()
        return cls(n=int(x.size), total=float(x.sum()), sum_squares=float(x @ x))

    def __add__(self, other: SampleStats) -> SampleStats:
        return SampleStats(
            self.n + other.n,
            self.total + other.total,
            self.sum_squares + other.sum_squares,
        )

    @property
    def mean(self) -> float:
        """Sample mean; 0.0 for an empty arm (callers check ``n`` first)."""
        return self.total / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        r"""Unbiased sample variance :math:`(\sum x^2 - (\sum x)^2/n)/(n-1)`.

        0.0 when n < 2, and clipped at 0 against cancellation error.
        """
        if self.n < 2:
            return 0.0
        centred = self.sum_squares - self.total * self.total / self.n
        return max(centred / (self.n - 1), 0.0)


@dataclass(frozen=True)
class ProportionStats:
    """Sufficient statistics of a 0/1 outcome in one arm: units and successes."""

    n: int
    successes: int

    def __post_init__(self) -> None:
        for name in ("n", "successes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        if self.n < 0 or not 0 <= self.successes <= self.n:
            raise ValueError(f"need 0 <= successes <= n, got {self.successes}/{self.n}")

    @classmethod
    def from_outcomes(cls, outcomes: ArrayLike) -> ProportionStats:
        """Summarise 0/1 (or boolean) outcomes, one per unit."""
        x = np.asarray(outcomes).ravel()
        if x.size and not np.isin(x, (0, 1)).all():
            raise ValueError("outcomes must be 0/1 or boolean")
        return cls(n=int(x.size), successes=int(np.count_nonzero(x)))

    def __add__(self, other: ProportionStats) -> ProportionStats:
        return ProportionStats(self.n + other.n, self.successes + other.successes)

    @property
    def mean(self) -> float:
        """Success rate; 0.0 for an empty arm."""
        return self.successes / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """Bernoulli variance p(1 - p), the convention of gbstats."""
        return self.mean * (1.0 - self.mean)


class ArmMoments(Protocol):
    """What the Welch test needs from an arm."""

    @property
    def n(self) -> int: ...
    @property
    def mean(self) -> float: ...
    @property
    def variance(self) -> float: ...


@dataclass(frozen=True)
class ComparisonResult:
    """Outcome of comparing treatment B with control A.

    ``estimate`` is B - A (absolute) or B / A - 1 (relative). When ``status``
    is ``"insufficient_data"`` every statistic is ``None`` and ``reason``
    says why. ``standard_error`` is the one the interval is built from.
    """

    status: Status
    reason: str | None
    test: TestName
    effect: Effect
    alpha: float
    n_a: int
    n_b: int
    mean_a: float | None
    mean_b: float | None
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    standard_error: float | None = None
    statistic: float | None = None
    dof: float | None = None


@dataclass(frozen=True)
class SampleRatioCheck:
    """Chi-squared goodness of fit of the arm counts to the configured split."""

    status: Status
    reason: str | None
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    threshold: float
    chi_squared: float | None = None
    dof: int | None = None
    p_value: float | None = None
    mismatch: bool | None = None


@dataclass(frozen=True)
class Decision:
    """Which arm wins at level alpha, and the significance 1 - p."""

    winner: Winner
    significance: float
    significant: bool
    reason: str


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def _insufficient(
    test: TestName,
    effect: Effect,
    a: ArmMoments,
    b: ArmMoments,
    alpha: float,
    reason: str,
) -> ComparisonResult:
    means = (a.mean, b.mean) if a.n and b.n else (None, None)
    return ComparisonResult(
        "insufficient_data", reason, test, effect, alpha, a.n, b.n, *means
    )


def _finish(
    test: TestName,
    effect: Effect,
    a: ArmMoments,
    b: ArmMoments,
    alpha: float,
    *,
    estimate: float,
    ci_se: float,
    test_se: float,
    quantile: float,
    two_sided_p: float,
    dof: float | None,
) -> ComparisonResult:
    """Assemble an ``ok`` result, or degrade to insufficient on overflow."""
    statistic = estimate / test_se
    values = (estimate, ci_se, statistic, two_sided_p, quantile)
    if not all(math.isfinite(v) for v in values):
        reason = "the statistics overflowed floating point; check the inputs' scale"
        return _insufficient(test, effect, a, b, alpha, reason)
    half_width = quantile * ci_se
    return ComparisonResult(
        "ok", None, test, effect, alpha, a.n, b.n, a.mean, b.mean,
        estimate=estimate,
        ci_low=estimate - half_width,
        ci_high=estimate + half_width,
        p_value=min(max(two_sided_p, 0.0), 1.0),
        standard_error=ci_se,
        statistic=statistic,
        dof=dof,
    )  # fmt: skip


def welch_satterthwaite_dof(var_a: float, n_a: int, var_b: float, n_b: int) -> float:
    r"""Welch-Satterthwaite degrees of freedom (Welch 1947; Satterthwaite 1946).

    .. math:: \nu = \frac{(s_A^2/n_A + s_B^2/n_B)^2}
              {\frac{(s_A^2/n_A)^2}{n_A-1} + \frac{(s_B^2/n_B)^2}{n_B-1}}

    gbstats uses these raw-scale degrees of freedom for the relative test too.
    Requires n >= 2 in both arms and a positive numerator.
    """
    ua, ub = var_a / n_a, var_b / n_b
    # Written with the shares wa + wb = 1 so tiny variances cannot underflow.
    wa, wb = ua / (ua + ub), ub / (ua + ub)
    return 1.0 / (wa * wa / (n_a - 1) + wb * wb / (n_b - 1))


def _relative_uplift(a: ArmMoments, b: ArmMoments) -> tuple[float, float]:
    r"""B / A - 1 and its delta-method variance (gbstats' ``frequentist_variance``).

    .. math:: \operatorname{Var} = \frac{s_B^2}{\bar x_A^2 n_B}
              + \frac{s_A^2 \bar x_B^2}{\bar x_A^4 n_A}
    """
    ratio = b.mean / a.mean
    variance = (b.variance / b.n + a.variance / a.n * ratio * ratio) / a.mean / a.mean
    return ratio - 1.0, variance


def welch_t_test(
    control: ArmMoments,
    treatment: ArmMoments,
    *,
    relative: bool = False,
    alpha: float = 0.05,
) -> ComparisonResult:
    r"""Two-sided Welch t-test of mean(B) against mean(A).

    Absolute: :math:`\hat\Delta = \bar x_B - \bar x_A`,
    :math:`\operatorname{Var} = s_A^2/n_A + s_B^2/n_B`.

    Relative (gbstats' default): :math:`\hat\Delta = \bar x_B/\bar x_A - 1`
    with the first-order delta-method variance of a ratio of independent means

    .. math:: \operatorname{Var} = \frac{s_B^2}{\bar x_A^2 n_B}
              + \frac{s_A^2 \bar x_B^2}{\bar x_A^4 n_A}.

    In both cases :math:`t = \hat\Delta/\sqrt{\operatorname{Var}}`,
    ``p = 2 P(T_nu > |t|)`` and the interval is
    :math:`\hat\Delta \pm t_{1-\alpha/2,\nu}\sqrt{\operatorname{Var}}`, with
    :math:`\nu` from :func:`welch_satterthwaite_dof` on the raw variances.

    Parameters
    ----------
    control, treatment : SampleStats or ProportionStats
        Arm A and arm B. For ProportionStats the variance is p(1 - p), which
        reproduces gbstats' t-test on a proportion metric.
    relative : bool
        Report the relative uplift instead of the difference.
    alpha : float
        Two-sided level; the interval has coverage 1 - alpha.

    Returns
    -------
    ComparisonResult
        ``insufficient_data`` when an arm has fewer than 2 units, both arms
        have zero variance, or (relative) the control mean is zero.
    """
    _check_alpha(alpha)
    effect: Effect = "relative" if relative else "absolute"
    a, b = control, treatment
    if a.n < 2 or b.n < 2:
        reason = f"each arm needs at least 2 units (A has {a.n}, B has {b.n})"
        return _insufficient("welch_t", effect, a, b, alpha, reason)
    if a.variance / a.n + b.variance / b.n <= 0.0:
        reason = "no variation: every unit in both arms has the same value"
        return _insufficient("welch_t", effect, a, b, alpha, reason)

    dof = welch_satterthwaite_dof(a.variance, a.n, b.variance, b.n)
    if relative:
        if a.mean * a.mean == 0.0:  # also catches means that square to underflow
            reason = "the control mean is zero, so a relative uplift is undefined"
            return _insufficient("welch_t", effect, a, b, alpha, reason)
        estimate, variance = _relative_uplift(a, b)
        if variance <= 0.0:
            reason = "the delta-method variance is zero (treatment mean is zero)"
            return _insufficient("welch_t", effect, a, b, alpha, reason)
    else:
        estimate = b.mean - a.mean
        variance = a.variance / a.n + b.variance / b.n

    se = math.sqrt(variance)
    return _finish(
        "welch_t", effect, a, b, alpha,
        estimate=estimate, ci_se=se, test_se=se,
        quantile=float(stats.t.ppf(1.0 - alpha / 2.0, dof)),
        two_sided_p=float(2.0 * stats.t.sf(abs(estimate / se), dof)),
        dof=dof,
    )  # fmt: skip


def two_proportion_z_test(
    control: ProportionStats,
    treatment: ProportionStats,
    *,
    relative: bool = False,
    alpha: float = 0.05,
) -> ComparisonResult:
    r"""Two-sided two-proportion z-test of rate(B) against rate(A).

    Absolute: the test statistic uses the pooled rate
    :math:`\bar p = (x_A + x_B)/(n_A + n_B)`,

    .. math:: z = \frac{\hat p_B - \hat p_A}
              {\sqrt{\bar p(1-\bar p)(1/n_A + 1/n_B)}},

    (equivalent to Pearson's chi-squared on the 2x2 table without continuity
    correction, z^2 = X^2), and the interval is the unpooled Wald interval
    :math:`\hat\Delta \pm z_{1-\alpha/2}\sqrt{\hat p_A(1-\hat p_A)/n_A +
    \hat p_B(1-\hat p_B)/n_B}` (Newcombe 1998, method 1). The Wald interval
    collapses when both rates are 0 or 1; read it with care below ~5
    successes or failures per arm.

    Relative: :math:`\hat p_B/\hat p_A - 1` with the delta-method variance
    of :func:`welch_t_test` on Bernoulli variances, and normal quantiles (this
    is gbstats' relative test with z in place of t).

    Returns
    -------
    ComparisonResult
        ``insufficient_data`` when an arm is empty, every unit in both arms
        has the same outcome, or (relative) the control rate is zero.
    """
    _check_alpha(alpha)
    effect: Effect = "relative" if relative else "absolute"
    a, b = control, treatment
    if a.n == 0 or b.n == 0:
        reason = f"each arm needs at least 1 unit (A has {a.n}, B has {b.n})"
        return _insufficient("two_proportion_z", effect, a, b, alpha, reason)
    pooled = (a.successes + b.successes) / (a.n + b.n)
    if pooled in (0.0, 1.0):
        reason = "no variation: every unit in both arms has the same outcome"
        return _insufficient("two_proportion_z", effect, a, b, alpha, reason)

    quantile = float(stats.norm.ppf(1.0 - alpha / 2.0))
    if relative:
        if a.mean * a.mean == 0.0:
            reason = "the control rate is zero, so a relative uplift is undefined"
            return _insufficient("two_proportion_z", effect, a, b, alpha, reason)
        estimate, variance = _relative_uplift(a, b)
        if variance <= 0.0:
            reason = "the delta-method variance is zero (both rates are 0 or 1)"
            return _insufficient("two_proportion_z", effect, a, b, alpha, reason)
        ci_se = test_se = math.sqrt(variance)
    else:
        estimate = b.mean - a.mean
        test_se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / a.n + 1.0 / b.n))
        ci_se = math.sqrt(a.variance / a.n + b.variance / b.n)

    return _finish(
        "two_proportion_z", effect, a, b, alpha,
        estimate=estimate, ci_se=ci_se, test_se=test_se, quantile=quantile,
        two_sided_p=float(2.0 * stats.norm.sf(abs(estimate / test_se))),
        dof=None,
    )  # fmt: skip


def sample_ratio_mismatch(
    observed: Sequence[int],
    split: Sequence[float],
    *,
    threshold: float = SRM_THRESHOLD,
) -> SampleRatioCheck:
    r"""Pearson chi-squared test of arm counts against the configured split.

    :math:`E_i = N w_i / \sum_j w_j`, :math:`X^2 = \sum_i (O_i - E_i)^2/E_i`,
    ``p = P(chi2_{k-1} > X^2)``. A mismatch (``p < threshold``, default
    0.001 as in GrowthBook) means assignment or logging is broken and the
    comparison should not be trusted. The approximation needs every
    :math:`E_i \ge 5`; below that the check reports ``insufficient_data``.
    """
    counts = tuple(int(c) for c in observed)
    weights = tuple(float(w) for w in split)
    if len(counts) < 2 or len(counts) != len(weights):
        raise ValueError("observed and split need the same length, at least 2 arms")
    if any(c < 0 for c in counts):
        raise ValueError("observed counts must be >= 0")
    if not all(math.isfinite(w) and w > 0 for w in weights):
        raise ValueError("split weights must be finite and > 0")
    _check_alpha(threshold)

    total = sum(counts)
    expected = tuple(total * w / sum(weights) for w in weights)
    if min(expected) < MIN_EXPECTED_PER_ARM:
        reason = (
            f"each arm must expect at least {MIN_EXPECTED_PER_ARM:g} units "
            f"(smallest expectation {min(expected):.2f})"
        )
        return SampleRatioCheck(
            "insufficient_data", reason, counts, expected, threshold
        )

    chi_squared = sum(
        (o - e) * (o - e) / e for o, e in zip(counts, expected, strict=True)
    )
    p_value = float(stats.chi2.sf(chi_squared, len(counts) - 1))
    return SampleRatioCheck(
        "ok", None, counts, expected, threshold,
        chi_squared=chi_squared, dof=len(counts) - 1, p_value=p_value,
        mismatch=p_value < threshold,
    )  # fmt: skip


def decide(
    result: ComparisonResult, *, alpha: float = 0.05, higher_is_better: bool = True
) -> Decision:
    """Name the winner: the better arm if p < alpha, otherwise ``"tie"``.

    ``significance`` is 1 - p (0.0 when data are insufficient). Set
    ``higher_is_better=False`` for metrics such as latency or cost.
    """
    _check_alpha(alpha)
    if result.status != "ok" or result.p_value is None or result.estimate is None:
        return Decision("tie", 0.0, False, result.reason or "insufficient data")
    significance = 1.0 - result.p_value
    if result.p_value >= alpha or result.estimate == 0.0:
        reason = f"p = {result.p_value:.4f} is not below alpha = {alpha:g}"
        return Decision("tie", significance, False, reason)
    b_better = (result.estimate > 0.0) == higher_is_better
    winner: Winner = "B" if b_better else "A"
    reason = f"arm {winner} is better with p = {result.p_value:.4g} < {alpha:g}"
    return Decision(winner, significance, True, reason)


def welch_power(n_per_arm: int, effect_size: float, *, alpha: float = 0.05) -> float:
    r"""Power of the two-sided two-sample t-test for standardised effect d.

    Equal arms and variances: the statistic is noncentral t with
    :math:`\nu = 2n - 2` and noncentrality :math:`\delta = d\sqrt{n/2}`;
    power :math:`= P(T > t_{1-\alpha/2}) + P(T < -t_{1-\alpha/2})`
    (Cohen 1988, ch. 2). Welch's test has the same power here to within its
    slightly smaller degrees of freedom.
    """
    _check_alpha(alpha)
    if n_per_arm < 2:
        raise ValueError(f"n_per_arm must be >= 2, got {n_per_arm}")
    dof = 2 * n_per_arm - 2
    critical = stats.t.ppf(1.0 - alpha / 2.0, dof)
    noncentrality = abs(effect_size) * math.sqrt(n_per_arm / 2.0)
    upper = stats.nct.sf(critical, dof, noncentrality)
    lower = stats.nct.cdf(-critical, dof, noncentrality)
    return float(upper + lower)


def sample_size_per_arm(
    effect_size: float, *, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Smallest n per arm whose :func:`welch_power` reaches ``power``.

    ``effect_size`` is Cohen's d: the smallest difference worth detecting
    divided by the outcome's standard deviation. Fix n before the test starts;
    stopping as soon as p dips below alpha inflates false positives.
    """
    _check_alpha(alpha)
    if not 0.0 < power < 1.0 or effect_size == 0.0 or not math.isfinite(effect_size):
        raise ValueError("need 0 < power < 1 and a finite, non-zero effect_size")
    z = stats.norm.ppf(1.0 - alpha / 2.0) + stats.norm.ppf(power)
    n = max(2, math.ceil(2.0 * (z / effect_size) ** 2))  # normal-theory start
    while welch_power(n, effect_size, alpha=alpha) < power:
        n += 1
    while n > 2 and welch_power(n - 1, effect_size, alpha=alpha) >= power:
        n -= 1
    return n
