"""BG/NBD and Pareto/NBD: published CDNOW fits, simulations, edge cases."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from scipy import integrate, optimize, special

from omnix.engine.btyd import (
    BGNBDFit,
    InsufficientDataError,
    _beta_nodes,
    _log_likelihood_and_gradient,
    bgnbd_log_likelihood,
    fit_bgnbd,
)
from omnix.engine.pareto_nbd import (
    ParetoNBDFit,
    fit_pareto_nbd,
    pareto_nbd_log_likelihood,
)

CDNOW = Path(__file__).resolve().parent.parent / "data" / "cdnow_sample.txt"
CALIBRATION_END = date(1997, 9, 30)
# Fader, Hardie and Lee (2005), table of parameter estimates for the CDNOW sample.
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_LL = -9582.4
# The Pareto/NBD fit to the same calibration data reported alongside it.
PUBLISHED_PNBD = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
PUBLISHED_PNBD_LL = -9595.0

FloatArray = npt.NDArray[np.float64]


def cdnow_calibration() -> tuple[FloatArray, FloatArray, FloatArray]:
    """(x, t_x, T) in weeks for the 39-week calibration period of the sample.

    Same-day purchases collapse into one purchase day; T runs from the first
    purchase to 1997-09-30, the convention of the published fit.
    """
    days: dict[str, set[date]] = {}
    for line in CDNOW.read_text().splitlines():
        _, customer, day, _, _ = line.split()
        bought = date(int(day[:4]), int(day[4:6]), int(day[6:]))
        days.setdefault(customer, set()).add(bought)
    x, t_x, T = [], [], []
    for bought_days in days.values():
        first = min(bought_days)
        in_calibration = [d for d in bought_days if d <= CALIBRATION_END]
        x.append(len(in_calibration) - 1)
        t_x.append((max(in_calibration) - first).days / 7)
        T.append((CALIBRATION_END - first).days / 7)
    return np.array(x, float), np.array(t_x), np.array(T)


def simulate(
    rng: np.random.Generator,
    n: int,
    params: tuple[float, float, float, float],
    T_cal: FloatArray,
    horizon: float = 0.0,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Draw households from the BG/NBD generative story (FHL section 3).

    Returns the calibration summaries (x, t_x) and the number of purchases in
    ``(T_cal, T_cal + horizon]``. Dropout is tried after every repeat purchase.
    """
    r, alpha, a, b = params
    rate = rng.gamma(r, 1.0 / alpha, n)
    dropout = rng.beta(a, b, n)
    end = T_cal + horizon
    x, t_x, future = np.zeros(n), np.zeros(n), np.zeros(n)
    clock = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        clock[idx] += rng.exponential(1.0 / rate[idx])
        past_end = clock[idx] > end[idx]
        active[idx[past_end]] = False
        idx = idx[~past_end]
        in_cal = clock[idx] <= T_cal[idx]
        x[idx[in_cal]] += 1
        t_x[idx[in_cal]] = clock[idx[in_cal]]
        future[idx[~in_cal]] += 1
        active[idx[rng.random(idx.size) < dropout[idx]]] = False
    return x, t_x, future


@pytest.fixture(scope="module")
def cdnow() -> tuple[FloatArray, FloatArray, FloatArray]:
    return cdnow_calibration()


def test_cdnow_fit_reproduces_published_estimates(
    cdnow: tuple[FloatArray, FloatArray, FloatArray],
) -> None:
    x, t_x, T = cdnow
    assert x.size == 2357

    fit = fit_bgnbd(x, t_x, T)

    for name, value in PUBLISHED.items():
        assert getattr(fit, name) == pytest.approx(value, rel=0.01), name
    assert fit.log_likelihood == pytest.approx(PUBLISHED_LL, rel=0.01)
    assert fit.log_likelihood == pytest.approx(PUBLISHED_LL, abs=0.1)
    assert fit.n_customers == 2357


def test_cdnow_log_likelihood_at_published_parameters(
    cdnow: tuple[FloatArray, FloatArray, FloatArray],
) -> None:
    x, t_x, T = cdnow
    per_household = bgnbd_log_likelihood(*PUBLISHED.values(), x, t_x, T)
    assert per_household.sum() == pytest.approx(PUBLISHED_LL, abs=0.5)


def test_conditional_expectation_of_the_papers_worked_example() -> None:
    # FHL (2005): a customer with x = 2, t_x = 30.43, T = 38.86 weeks is
    # expected to make 1.226 purchases in the next 39 weeks.
    fit = BGNBDFit(**PUBLISHED, log_likelihood=PUBLISHED_LL, n_customers=2357)
    expected = fit.expected_purchases(39.0, [2], [30.43], [38.86])
    assert expected[0] == pytest.approx(1.226, abs=5e-4)


def test_weights_equal_repeated_rows(
    cdnow: tuple[FloatArray, FloatArray, FloatArray],
) -> None:
    x, t_x, T = cdnow
    rows = slice(0, 300)
    counts = np.arange(300) % 3 + 1.0
    weighted = fit_bgnbd(x[rows], t_x[rows], T[rows], weights=counts)
    repeated = fit_bgnbd(
        np.repeat(x[rows], counts.astype(int)),
        np.repeat(t_x[rows], counts.astype(int)),
        np.repeat(T[rows], counts.astype(int)),
    )
    assert weighted.n_customers == repeated.n_customers == counts.sum()
    assert weighted.log_likelihood == pytest.approx(repeated.log_likelihood, abs=1e-6)
    assert weighted.r == pytest.approx(repeated.r, rel=1e-4)
    assert weighted.b == pytest.approx(repeated.b, rel=1e-4)


@pytest.mark.parametrize(
    "params", [(0.243, 4.414, 0.793, 2.426), (2.0, 10.0, 3.0, 0.5)]
)
def test_analytic_gradient_matches_finite_differences(
    params: tuple[float, float, float, float],
) -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 20, 60).astype(float)
    T = rng.uniform(1.0, 50.0, 60)
    t_x = np.where(x > 0, T * rng.uniform(0.0, 1.0, 60), 0.0)
    point = np.array(params)

    def total(p: FloatArray) -> float:
        return float(_log_likelihood_and_gradient(p, x, t_x, T)[0].sum())

    numeric = optimize.approx_fprime(point, total, 1e-7)
    analytic = _log_likelihood_and_gradient(point, x, t_x, T)[1].sum(axis=1)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4)


def test_fit_recovers_simulated_parameters() -> None:
    rng = np.random.default_rng(20240601)
    true = (0.5, 5.0, 0.8, 2.5)
    n = 20_000
    T = rng.uniform(20.0, 52.0, n)
    x, t_x, _ = simulate(rng, n, true, T)

    fit = fit_bgnbd(x, t_x, T)

    # Tolerances from 20 seeds at this size: r and alpha move by up to 5%,
    # a and b (identified mostly through their ratio) by up to 15%.
    assert fit.r == pytest.approx(true[0], rel=0.10)
    assert fit.alpha == pytest.approx(true[1], rel=0.10)
    assert fit.a == pytest.approx(true[2], rel=0.25)
    assert fit.b == pytest.approx(true[3], rel=0.25)


def test_conditional_forecasts_match_simulated_futures() -> None:
    rng = np.random.default_rng(11)
    true = (0.5, 5.0, 0.8, 2.5)
    n = 20_000
    T = rng.uniform(20.0, 52.0, n)
    x, t_x, future = simulate(rng, n, true, T, horizon=26.0)
    model = BGNBDFit(*true, log_likelihood=0.0, n_customers=n)

    p_buy = model.p_purchase_within(26.0, x, t_x, T)
    expected = model.expected_purchases(26.0, x, t_x, T)

    for group in (x == 0, (x >= 1) & (x <= 2), x >= 3):
        bought = (future[group] > 0).astype(float)
        se = bought.std() / np.sqrt(group.sum())
        assert abs(p_buy[group].mean() - bought.mean()) < 4 * se
        se_count = future[group].std() / np.sqrt(group.sum())
        assert abs(expected[group].mean() - future[group].mean()) < 4 * se_count


@pytest.mark.parametrize("a", [0.3, 0.999999, 1.0, 1.0000001, 4.0])
def test_hypergeometric_form_agrees_with_quadrature(a: float) -> None:
    model = BGNBDFit(r=0.8, alpha=6.0, a=a, b=2.0, log_likelihood=0.0, n_customers=1)
    x = np.array([0.0, 1.0, 5.0, 40.0, 200.0])
    T = np.array([10.0, 30.0, 50.0, 300.0, 365.0])
    t_x = np.array([0.0, 12.0, 45.0, 290.0, 360.0])

    closed = model.expected_purchases(30.0, x, t_x, T)
    by_quadrature = model.p_alive(x, t_x, T) * model._expected_given_active_quadrature(
        30.0, x, T
    )

    assert np.all(np.isfinite(closed))
    np.testing.assert_allclose(closed, by_quadrature, rtol=1e-7)


def test_new_household_expectation_is_the_limit_of_the_conditional_one() -> None:
    model = BGNBDFit(**PUBLISHED, log_likelihood=0.0, n_customers=1)
    # A household seen for no time at all carries no information beyond the prior.
    assert model.expected_purchases(39.0, [0], [0], [0])[0] == pytest.approx(
        model.expected_purchases_new([39.0])[0], rel=1e-10
    )
    assert model.p_purchase_within(39.0, [0], [0], [0])[0] == pytest.approx(
        1 - (4.414 / (4.414 + 39.0)) ** 0.243, rel=1e-12
    )


def test_extreme_histories_stay_finite() -> None:
    model = BGNBDFit(**PUBLISHED, log_likelihood=0.0, n_customers=1)
    x = np.array([0.0, 1.0, 500.0, 500.0, 3.0])
    t_x = np.array([0.0, 0.1, 1e4, 1.0, 1.0])
    T = np.array([0.0, 1e5, 1e4, 1e4, 1e6])

    for values in (
        model.p_alive(x, t_x, T),
        model.expected_purchases(30.0, x, t_x, T),
        model.p_purchase_within(30.0, x, t_x, T),
        bgnbd_log_likelihood(**PUBLISHED, x=x, t_x=t_x, T=T),
    ):
        assert np.all(np.isfinite(values))
    p_alive = model.p_alive(x, t_x, T)
    assert p_alive[0] == 1.0
    assert p_alive[3] < 1e-100  # 500 purchases, then silence for years
    assert np.all(model.p_purchase_within(30.0, x, t_x, T) <= p_alive)


def test_single_purchase_household_is_alive_and_may_buy() -> None:
    model = BGNBDFit(**PUBLISHED, log_likelihood=0.0, n_customers=1)
    assert model.p_alive([0], [0], [20.0])[0] == 1.0
    assert 0.0 < model.p_purchase_within(10.0, [0], [0], [20.0])[0] < 1.0
    assert model.expected_purchases(10.0, [0], [0], [20.0])[0] > 0.0


def test_fit_without_households_is_refused() -> None:
    with pytest.raises(InsufficientDataError, match="no households"):
        fit_bgnbd([], [], [])


def test_fit_on_one_single_purchase_household_is_refused() -> None:
    with pytest.raises(InsufficientDataError, match="repeat purchase"):
        fit_bgnbd([0], [0], [12.0])


def test_fit_when_everyone_bought_on_one_day_only_is_refused() -> None:
    with pytest.raises(InsufficientDataError):
        fit_bgnbd(np.zeros(50), np.zeros(50), np.linspace(1.0, 30.0, 50))


@pytest.mark.parametrize(
    ("x", "t_x", "T", "message"),
    [
        ([1], [5.0], [4.0], "t_x"),
        ([-1], [0.0], [4.0], "whole numbers"),
        ([1.5], [1.0], [4.0], "whole numbers"),
        ([0], [2.0], [4.0], "without repeat"),
        ([1], [np.nan], [4.0], "finite"),
    ],
)
def test_malformed_histories_name_the_problem(
    x: list[float], t_x: list[float], T: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        fit_bgnbd(x, t_x, T)


def test_negative_horizon_is_refused() -> None:
    model = BGNBDFit(**PUBLISHED, log_likelihood=0.0, n_customers=1)
    with pytest.raises(ValueError, match="horizon"):
        model.expected_purchases(-1.0, [1], [1.0], [2.0])
    with pytest.raises(ValueError, match="window"):
        model.p_purchase_within(float("nan"), [1], [1.0], [2.0])


def test_degenerate_fit_of_two_households_still_forecasts_finite_values() -> None:
    # Two households cannot identify four parameters: the optimum runs off to
    # huge r, alpha and a, where SciPy's Gauss-Jacobi constant overflows.
    fit = fit_bgnbd([1, 1], [10.0, 1.0], [20.0, 16.0])
    x, t_x, T = (
        np.array([0.0, 1.0, 1.0]),
        np.array([0.0, 10.0, 1.0]),
        np.array([5.0, 20.0, 16.0]),
    )

    for values in (
        fit.p_alive(x, t_x, T),
        fit.expected_purchases(30.0, x, t_x, T),
        fit.p_purchase_within(30.0, x, t_x, T),
    ):
        assert np.all(np.isfinite(values))
        assert np.all(values >= 0)


def test_beta_nodes_fall_back_to_quantiles_for_extreme_shapes() -> None:
    p, w = _beta_nodes(0.5, 3e5)
    assert w.sum() == pytest.approx(1.0)
    assert np.all(p > 0)
    assert p @ w == pytest.approx(0.5 / (0.5 + 3e5), rel=2e-3)


def simulate_pareto_nbd(
    rng: np.random.Generator,
    n: int,
    params: tuple[float, float, float, float],
    T_cal: FloatArray,
    horizon: float = 0.0,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Households with Poisson purchases until an exponential death time."""
    r, alpha, s, beta = params
    rate = rng.gamma(r, 1.0 / alpha, n)
    death = rng.exponential(1.0 / rng.gamma(s, 1.0 / beta, n))
    end = np.minimum(T_cal + horizon, death)
    x, t_x, future = np.zeros(n), np.zeros(n), np.zeros(n)
    clock = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        clock[idx] += rng.exponential(1.0 / rate[idx])
        past_end = clock[idx] > end[idx]
        active[idx[past_end]] = False
        idx = idx[~past_end]
        in_cal = clock[idx] <= T_cal[idx]
        x[idx[in_cal]] += 1
        t_x[idx[in_cal]] = clock[idx[in_cal]]
        future[idx[~in_cal]] += 1
    return x, t_x, future


def test_pareto_nbd_cdnow_fit_reproduces_published_estimates(
    cdnow: tuple[FloatArray, FloatArray, FloatArray],
) -> None:
    x, t_x, T = cdnow

    fit = fit_pareto_nbd(x, t_x, T)

    for name, value in PUBLISHED_PNBD.items():
        assert getattr(fit, name) == pytest.approx(value, rel=0.01), name
    assert fit.log_likelihood == pytest.approx(PUBLISHED_PNBD_LL, abs=0.1)
    at_published = pareto_nbd_log_likelihood(*PUBLISHED_PNBD.values(), x, t_x, T)
    assert at_published.sum() == pytest.approx(PUBLISHED_PNBD_LL, abs=0.5)


@pytest.mark.parametrize(
    "params", [(0.553, 10.578, 0.606, 11.669), (0.8, 3.0, 1.2, 9.0)]
)
def test_pareto_nbd_likelihood_matches_direct_integration(
    params: tuple[float, float, float, float],
) -> None:
    # Both branches of the closed form (alpha >= beta and alpha < beta) against
    # integrating the individual likelihood over the gamma mixing densities.
    r, alpha, s, beta = params
    x, t_x, T = 5, 10.0, 30.0

    def joint(u: float, lam: float) -> float:
        # mu = u^(1/s) absorbs the mu^(s-1) singularity of the gamma density.
        mu = u ** (1.0 / s)
        alive = np.exp(-(lam + mu) * T)
        dead = mu / (lam + mu) * (np.exp(-(lam + mu) * t_x) - alive)
        log_mixing = (r - 1) * np.log(lam) - alpha * lam + r * np.log(alpha)
        log_mixing += s * np.log(beta) - beta * mu - special.gammaln(s + 1)
        log_mixing -= special.gammaln(r)
        return float(lam**x * (alive + dead) * np.exp(log_mixing))

    direct, _ = integrate.dblquad(joint, 0.0, 5.0, 0.0, 5.0**s, epsabs=1e-16)
    closed = pareto_nbd_log_likelihood(r, alpha, s, beta, [x], [t_x], [T])[0]
    assert closed == pytest.approx(np.log(direct), abs=1e-6)


def test_pareto_nbd_fit_recovers_simulated_parameters() -> None:
    rng = np.random.default_rng(5)
    true = (0.55, 10.6, 0.6, 11.7)
    n = 8_000
    T = rng.uniform(27.0, 39.0, n)
    x, t_x, _ = simulate_pareto_nbd(rng, n, true, T)

    fit = fit_pareto_nbd(x, t_x, T)

    # Over 14 seeds at 8,000-10,000 households r and alpha moved by up to 7%,
    # the dropout pair s, beta (weakly identified in 39 weeks) by up to 35%.
    assert fit.r == pytest.approx(true[0], rel=0.12)
    assert fit.alpha == pytest.approx(true[1], rel=0.12)
    assert fit.s == pytest.approx(true[2], rel=0.45)
    assert fit.beta == pytest.approx(true[3], rel=0.45)


def test_pareto_nbd_forecasts_match_simulated_futures() -> None:
    rng = np.random.default_rng(12)
    true = (0.55, 10.6, 0.6, 11.7)
    n = 20_000
    T = rng.uniform(27.0, 39.0, n)
    x, t_x, future = simulate_pareto_nbd(rng, n, true, T, horizon=39.0)
    model = ParetoNBDFit(*true, log_likelihood=0.0, n_customers=n)

    expected = model.expected_purchases(39.0, x, t_x, T)
    p_alive = model.p_alive(x, t_x, T)

    assert np.all((p_alive > 0) & (p_alive <= 1))
    for group in (x == 0, (x >= 1) & (x <= 2), x >= 3):
        se = future[group].std() / np.sqrt(group.sum())
        assert abs(expected[group].mean() - future[group].mean()) < 4 * se


def test_pareto_nbd_refuses_data_without_repeat_purchases() -> None:
    with pytest.raises(InsufficientDataError):
        fit_pareto_nbd([], [], [])
    with pytest.raises(InsufficientDataError):
        fit_pareto_nbd([0, 0], [0, 0], [3.0, 4.0])
