"""The BG/NBD "buy till you die" model of household activity.

Fader, Hardie and Lee (2005), "'Counting Your Customers' the Easy Way: An
Alternative to the Pareto/NBD Model", *Marketing Science* 24(2), 275-284
(FHL below). While active, a household buys as a Poisson process with rate
``lambda``; right after each purchase it drops out for good with probability
``p``. Across households ``lambda ~ Gamma(r, alpha)`` and ``p ~ Beta(a, b)``.

Each household is summarised by three numbers: ``x``, its repeat purchases
(purchases after the first); ``t_x``, the time from its first purchase to its
last; and ``T``, the time from its first purchase to the end of observation.
Time may be counted in any unit (days, weeks) as long as ``t_x``, ``T`` and the
forecast horizons share it; ``alpha`` is then expressed in that unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

# Nodes of the Gauss-Jacobi rule used when the closed form of eq. (10) is out of
# the numerical range of hyp2f1; 48 nodes integrate the smooth integrand to
# about 1e-10 relative error for the parameter ranges met in practice.
_QUADRATURE_NODES = 48


class InsufficientDataError(ValueError):
    """The purchase histories do not identify the model's parameters."""


@dataclass(frozen=True)
class BGNBDFit:
    """Maximum-likelihood BG/NBD parameters and the fit's log-likelihood.

    Attributes
    ----------
    r, alpha : float
        Shape and rate of the gamma distribution of purchase rates.
    a, b : float
        Shapes of the beta distribution of dropout probabilities.
    log_likelihood : float
        Weighted sum of FHL eq. (6) over the households at the optimum.
    n_customers : float
        Total weight (number of households) the fit used.
    """

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: float

    def p_alive(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
        """Probability that each household is still active at ``T``.

        Fader, Hardie and Lee (2008), "Computing P(alive) using the BG/NBD
        model" (the closed form of its section 2)::

            P(alive) = 1 / (1 + [x > 0] a / (b + x - 1) ((alpha+T)/(alpha+t_x))^(r+x))

        Evaluated through the log of the odds so that long silences give a value
        close to zero instead of an overflow.

        Parameters
        ----------
        x, t_x, T : array_like
            Repeat purchases, time of the last purchase and length of
            observation, all from the household's first purchase.

        Returns
        -------
        numpy.ndarray
            Probabilities in [0, 1]; exactly 1 for households without a repeat.
        """
        xs, txs, Ts = _histories(x, t_x, T)
        has_repeat = xs > 0
        b_plus = np.where(has_repeat, self.b + xs - 1.0, 1.0)
        log_odds_dead = (
            np.log(self.a)
            - np.log(b_plus)
            + (self.r + xs) * (np.log(self.alpha + Ts) - np.log(self.alpha + txs))
        )
        return np.where(has_repeat, special.expit(-log_odds_dead), 1.0)

    def expected_purchases(
        self, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """Expected purchases in ``(T, T + t]`` given each household's history.

        FHL eq. (10)::

            E[Y(t) | x, t_x, T] = (a+b+x-1)/(a-1)
                * [1 - ((alpha+T)/(alpha+T+t))^(r+x)
                       2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))]
                / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))

        The Gauss hypergeometric function overflows or loses all precision for
        some parameter values (large ``r + x`` against ``a - 1 - r - x`` < 0, or
        ``a`` close to 1 where the leading ratio is 0/0). There the expectation
        falls back to its integral form: given the household is active, its
        rate has posterior ``Gamma(r+x, alpha+T)`` and its dropout probability
        ``Beta(a, b+x)``, and an active household with ``(lambda, p)`` makes
        ``(1 - exp(-lambda p t)) / p`` expected purchases, so::

            E[Y(t) | active] = E_p[(1 - ((alpha+T)/(alpha+T+p t))^(r+x)) / p]

        computed by Gauss-Jacobi quadrature over ``p``.

        Parameters
        ----------
        t : float
            Forecast horizon, in the unit of ``T``; must be >= 0.
        x, t_x, T : array_like
            The households' histories, as in :meth:`p_alive`.

        Returns
        -------
        numpy.ndarray
            Non-negative expected purchase counts.
        """
        if not (np.isfinite(t) and t >= 0):
            raise ValueError(f"horizon t must be a finite number >= 0, got {t}")
        xs, txs, Ts = _histories(x, t_x, T)
        shape = self.r + xs
        c = self.a + self.b + xs - 1.0
        z = t / (self.alpha + Ts + t)
        with np.errstate(all="ignore"):
            tail = np.exp(shape * np.log1p(-z)) * special.hyp2f1(
                shape, self.b + xs, c, z
            )
            given_active = c / (self.a - 1.0) * (1.0 - tail)
        unusable = (
            ~np.isfinite(given_active)
            | (given_active < 0.0)
            | (abs(self.a - 1.0) < 1e-6)
        )
        if np.any(unusable):
            given_active = np.where(
                unusable,
                self._expected_given_active_quadrature(t, xs, Ts),
                given_active,
            )
        return self.p_alive(xs, txs, Ts) * given_active

    def p_purchase_within(
        self, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """Probability of at least one purchase in ``(T, T + t]``.

        Under the BG/NBD a household can only drop out right after a purchase,
        so an active household buys in the window exactly when its Poisson clock
        rings before ``t``. Its rate has posterior ``Gamma(r+x, alpha+T)``
        (FHL section 3, the gamma-Poisson update), and the gamma mixture of
        ``exp(-lambda t)`` is ``((alpha+T)/(alpha+T+t))^(r+x)``. Hence::

            P(buy in (T, T+t]) = P(alive) * (1 - ((alpha+T)/(alpha+T+t))^(r+x))

        Parameters
        ----------
        t : float
            Window length, in the unit of ``T``; must be >= 0.
        x, t_x, T : array_like
            The households' histories, as in :meth:`p_alive`.

        Returns
        -------
        numpy.ndarray
            Probabilities in [0, 1].
        """
        if not (np.isfinite(t) and t >= 0):
            raise ValueError(f"window t must be a finite number >= 0, got {t}")
        xs, txs, Ts = _histories(x, t_x, T)
        silent = (self.r + xs) * (np.log(self.alpha + Ts) - np.log(self.alpha + Ts + t))
        return self.p_alive(xs, txs, Ts) * -np.expm1(silent)

    def expected_purchases_new(self, t: ArrayLike) -> FloatArray:
        """Expected repeat purchases in ``(0, t]`` of a household just acquired.

        FHL eq. (9)::

            E[X(t)] = (a+b-1)/(a-1)
                * [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]

        Parameters
        ----------
        t : array_like
            Lengths of time since the first purchase.

        Returns
        -------
        numpy.ndarray
            Expected repeat purchase counts.
        """
        ts = np.asarray(t, dtype=np.float64)
        z = ts / (self.alpha + ts)
        tail = (1.0 - z) ** self.r * special.hyp2f1(
            self.r, self.b, self.a + self.b - 1.0, z
        )
        return np.asarray((self.a + self.b - 1.0) / (self.a - 1.0) * (1.0 - tail))

    def _expected_given_active_quadrature(
        self, t: float, xs: FloatArray, Ts: FloatArray
    ) -> FloatArray:
        """E[Y(t) | active] by quadrature over the dropout probability."""
        out = np.empty_like(xs)
        for x_value in np.unique(xs):
            rows = xs == x_value
            p, w = _beta_nodes(self.a, self.b + x_value)
            # log1p keeps the integrand's p -> 0 limit, (r+x) t / (alpha+T).
            ratio = t / (self.alpha + Ts[rows])
            log_silent = -(self.r + x_value) * np.log1p(ratio[:, None] * p[None, :])
            out[rows] = (-np.expm1(log_silent) / p[None, :]) @ w
        return out


def _beta_nodes(a: float, b: float) -> tuple[FloatArray, FloatArray]:
    """Nodes and weights (summing to 1) for expectations under Beta(a, b).

    Gauss-Jacobi with weight ``(1-u)^(b-1) (1+u)^(a-1)`` on [-1, 1] is exact
    for polynomials in ``p = (1+u)/2``. SciPy's normalising constant
    overflows for extreme shapes (the degenerate fits of a handful of
    households); there the rule falls back to Gauss-Legendre on the beta
    quantile function, less accurate but finite.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        u, w = special.roots_jacobi(_QUADRATURE_NODES, b - 1.0, a - 1.0)
    if np.all(np.isfinite(w)) and w.sum() > 0:
        return (1.0 + u) / 2.0, w / w.sum()
    u, w = special.roots_legendre(_QUADRATURE_NODES)
    p = special.betaincinv(a, b, (1.0 + u) / 2.0)
    return np.maximum(p, 1e-300), w / w.sum()


def bgnbd_log_likelihood(
    r: float,
    alpha: float,
    a: float,
    b: float,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
) -> FloatArray:
    """Log-likelihood of each household's history under the BG/NBD.

    FHL eq. (6)::

        L = B(a, b+x)/B(a, b) * Gamma(r+x) alpha^r / (Gamma(r) (alpha+T)^(r+x))
          + [x > 0] B(a+1, b+x-1)/B(a, b) * Gamma(r+x) alpha^r
                    / (Gamma(r) (alpha+t_x)^(r+x))

    Both terms are formed as logarithms with ``gammaln`` / ``betaln`` and
    combined with ``logaddexp``, so large ``x`` or ``T`` never overflow.

    Parameters
    ----------
    r, alpha, a, b : float
        Model parameters, all > 0.
    x, t_x, T : array_like
        Repeat purchases, time of last purchase and length of observation.

    Returns
    -------
    numpy.ndarray
        One log-likelihood per household.
    """
    xs, txs, Ts = _histories(x, t_x, T)
    return _log_likelihood_and_gradient(np.array([r, alpha, a, b]), xs, txs, Ts)[0]


def fit_bgnbd(
    x: ArrayLike, t_x: ArrayLike, T: ArrayLike, weights: ArrayLike | None = None
) -> BGNBDFit:
    """Maximum-likelihood BG/NBD fit over households (FHL section 4).

    Households with identical ``(x, t_x, T)`` are pooled into one row with a
    count, so the cost grows with the number of distinct histories. The
    weighted log-likelihood is maximised over the logarithms of the four
    parameters (so they stay positive) by L-BFGS-B with the analytic gradient;
    Nelder-Mead takes over if the quasi-Newton search does not converge.

    Parameters
    ----------
    x, t_x, T : array_like
        Repeat purchases, time of last purchase and length of observation per
        household (or per group of identical households).
    weights : array_like, optional
        How many households each row stands for; defaults to one each.

    Returns
    -------
    BGNBDFit
        The estimates and the maximised log-likelihood.

    Raises
    ------
    ValueError
        If the histories are malformed (negative counts, ``t_x > T``, ...).
    InsufficientDataError
        If there are no households or none made a repeat purchase (the
        likelihood then grows without bound as purchase rates go to zero).

    Notes
    -----
    The log-parameters are bounded to [-15, 15]; an estimate on that bound
    means the data push the parameter to 0 or infinity (for instance ``a``
    when almost nobody drops out) and the boundary value is returned.
    """
    xs, txs, Ts = _histories(x, t_x, T)
    w = np.ones_like(xs) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != xs.shape or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite, >= 0 and one per household")
    keep = w > 0
    if not np.any(keep):
        raise InsufficientDataError("no households to fit the BG/NBD model on")
    rows, inverse = np.unique(
        np.column_stack([xs, txs, Ts])[keep], axis=0, return_inverse=True
    )
    counts = np.bincount(inverse.ravel(), weights=w[keep])
    xs, txs, Ts = rows[:, 0], rows[:, 1], rows[:, 2]
    if not np.any(xs > 0):
        raise InsufficientDataError("no household made a repeat purchase")
    if np.all(Ts <= 0):
        raise InsufficientDataError("no household was observed for any time")

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        params = np.exp(log_params)
        ll, grad = _log_likelihood_and_gradient(params, xs, txs, Ts)
        return -float(counts @ ll), -(grad @ counts) * params

    # Start from the method-of-moments purchase rate: r/alpha = repeats per unit.
    rate = float(counts @ xs) / max(float(counts @ Ts), 1e-12)
    start = np.log([1.0, 1.0 / max(rate, 1e-6), 1.0, 1.0])
    bounds = [(-15.0, 15.0)] * 4
    result = optimize.minimize(
        objective, start, jac=True, method="L-BFGS-B", bounds=bounds
    )
    if not result.success:
        result = optimize.minimize(
            lambda v: objective(v)[0],
            result.x,
            method="Nelder-Mead",
            options={"maxiter": 4000, "xatol": 1e-8, "fatol": 1e-8},
        )
    r, alpha, a, b = np.exp(result.x)
    if not (np.isfinite(result.fun) and np.all(np.isfinite(result.x))):
        raise InsufficientDataError("the BG/NBD likelihood has no finite maximum here")
    return BGNBDFit(
        r=float(r),
        alpha=float(alpha),
        a=float(a),
        b=float(b),
        log_likelihood=-float(result.fun),
        n_customers=float(counts.sum()),
    )


def _log_likelihood_and_gradient(
    params: FloatArray, xs: FloatArray, txs: FloatArray, Ts: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per-household FHL eq. (6) in logs and its gradient in ``(r, alpha, a, b)``.

    The gradient uses ``d lnB(p, q)/dp = digamma(p) - digamma(p + q)``; it has
    shape (4, n).
    """
    r, alpha, a, b = params
    has_repeat = xs > 0
    x1 = np.where(has_repeat, xs, 1.0)  # keeps the unused second term finite
    common = special.gammaln(r + xs) - special.gammaln(r) + r * np.log(alpha)
    beta_ab = special.betaln(a, b)
    log_t = np.log(alpha + Ts)
    log_tx = np.log(alpha + txs)
    # Term 1: still active at T, no purchase since t_x.
    term1 = special.betaln(a, b + xs) - beta_ab - (r + xs) * log_t
    # Term 2: dropped out right after the purchase at t_x.
    term2 = special.betaln(a + 1.0, b + x1 - 1.0) - beta_ab - (r + xs) * log_tx
    term2 = np.where(has_repeat, term2, -np.inf)
    total = np.logaddexp(term1, term2)
    w1 = np.exp(term1 - total)
    w2 = 1.0 - w1

    psi_ab = special.digamma(a + b)
    psi_abx = special.digamma(a + b + xs)
    d_r = special.digamma(r + xs) - special.digamma(r) + np.log(alpha)
    d_r = d_r - w1 * log_t - w2 * np.where(has_repeat, log_tx, 0.0)
    d_alpha = r / alpha - (r + xs) * (w1 / (alpha + Ts) + w2 / (alpha + txs))
    d_a = w1 * (psi_ab - psi_abx) + w2 * (
        special.digamma(a + 1.0) - special.digamma(a) + psi_ab - psi_abx
    )
    psi_b = special.digamma(b)
    d_b = w1 * (special.digamma(b + xs) - psi_b + psi_ab - psi_abx) + w2 * (
        special.digamma(b + x1 - 1.0) - psi_b + psi_ab - psi_abx
    )
    return common + total, np.vstack([d_r, d_alpha, d_a, d_b])


def _histories(
    x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validate and broadcast the ``(x, t_x, T)`` summaries to float arrays."""
    xs, txs, Ts = np.broadcast_arrays(
        np.asarray(x, dtype=np.float64),
        np.asarray(t_x, dtype=np.float64),
        np.asarray(T, dtype=np.float64),
    )
    if not (
        np.all(np.isfinite(xs)) and np.all(np.isfinite(txs)) and np.all(np.isfinite(Ts))
    ):
        raise ValueError("x, t_x and T must be finite numbers")
    if np.any(xs < 0) or np.any(xs != np.round(xs)):
        raise ValueError("x (repeat purchases) must be whole numbers >= 0")
    if np.any(txs < 0) or np.any(txs > Ts * (1 + 1e-12)):
        raise ValueError("t_x must satisfy 0 <= t_x <= T")
    if np.any((xs == 0) & (txs != 0)):
        raise ValueError("t_x must be 0 for a household without repeat purchases")
    return xs.astype(np.float64), txs.astype(np.float64), Ts.astype(np.float64)
