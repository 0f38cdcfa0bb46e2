"""The Pareto/NBD model, the BG/NBD's predecessor, kept as a reference fit.

Schmittlein, Morrison and Colombo (1987), "Counting Your Customers: Who Are
They and What Will They Do Next?", *Management Science* 33(1), 1-24, in the
form derived by Fader and Hardie (2005), "A Note on Deriving the Pareto/NBD
Model and Related Expressions" (FH below). While active, a household buys as
a Poisson process with rate ``lambda ~ Gamma(r, alpha)``; its lifetime is
exponential with rate ``mu ~ Gamma(s, beta)`` and, unlike the BG/NBD, may end
at any moment. Histories are the same ``(x, t_x, T)`` summaries as in
:mod:`omnix.engine.btyd`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

from omnix.engine.btyd import InsufficientDataError, _histories

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

_UNUSABLE = 1e300


@dataclass(frozen=True)
class ParetoNBDFit:
    """Maximum-likelihood Pareto/NBD parameters and the fit's log-likelihood.

    Attributes
    ----------
    r, alpha : float
        Shape and rate of the gamma distribution of purchase rates.
    s, beta : float
        Shape and rate of the gamma distribution of dropout rates.
    log_likelihood : float
        Weighted sum of the per-household log-likelihood at the optimum.
    n_customers : float
        Total weight (number of households) the fit used.
    """

    r: float
    alpha: float
    s: float
    beta: float
    log_likelihood: float
    n_customers: float

    def p_alive(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
        """Probability that each household is still active at ``T`` (FH).

        ``P(alive) = 1 / (1 + s/(r+s+x) (alpha+T)^(r+x) (beta+T)^s A_0)``, the
        ratio of the "still alive" term of the likelihood to the whole, so it is
        formed from the same log terms.
        """
        xs, txs, Ts = _histories(x, t_x, T)
        alive, dead = _log_terms(self.r, self.alpha, self.s, self.beta, xs, txs, Ts)
        return np.asarray(special.expit(alive - dead))

    def expected_purchases(
        self, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """Expected purchases in ``(T, T + t]`` given each history (FH).

        ``E[Y(t) | x, t_x, T] = P(alive) (r+x)(beta+T) / ((alpha+T)(s-1))
        * [1 - ((beta+T)/(beta+T+t))^(s-1)]``; at ``s = 1`` the bracket over
        ``s - 1`` tends to ``log((beta+T+t)/(beta+T))``.
        """
        if not (np.isfinite(t) and t >= 0):
            raise ValueError(f"horizon t must be a finite number >= 0, got {t}")
        xs, txs, Ts = _histories(x, t_x, T)
        log_ratio = np.log(self.beta + Ts + t) - np.log(self.beta + Ts)
        if abs(self.s - 1.0) < 1e-9:
            bracket = log_ratio
        else:
            bracket = -np.expm1(-(self.s - 1.0) * log_ratio) / (self.s - 1.0)
        rate = (self.r + xs) * (self.beta + Ts) / (self.alpha + Ts)
        return np.asarray(self.p_alive(xs, txs, Ts) * rate * bracket)


def pareto_nbd_log_likelihood(
    r: float,
    alpha: float,
    s: float,
    beta: float,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
) -> FloatArray:
    """Log-likelihood of each household's history under the Pareto/NBD.

    FH, the likelihood of one household::

        L = Gamma(r+x) alpha^r beta^s / Gamma(r)
            * [1 / ((alpha+T)^(r+x) (beta+T)^s) + s/(r+s+x) A_0]

    where, for ``alpha >= beta``, with ``F(y) = 2F1(r+s+x, s+1; r+s+x+1;
    (alpha-beta)/(alpha+y)) / (alpha+y)^(r+s+x)``, ``A_0 = F(t_x) - F(T)``;
    for ``alpha < beta`` the roles swap (``2F1(r+s+x, r+x; ...;
    (beta-alpha)/(beta+y)) / (beta+y)^(r+s+x)``).

    Euler's transformation ``2F1(a, b; c; z) = (1-z)^(c-a-b) 2F1(c-a, c-b;
    c; z)`` turns both into ``2F1(1, .; r+s+x+1; z)``, whose series has
    decreasing terms, so large ``x`` cannot overflow it; everything else is
    carried in logarithms.

    Parameters
    ----------
    r, alpha, s, beta : float
        Model parameters, all > 0.
    x, t_x, T : array_like
        Repeat purchases, time of last purchase and length of observation.

    Returns
    -------
    numpy.ndarray
        One log-likelihood per household.
    """
    xs, txs, Ts = _histories(x, t_x, T)
    alive, dead = _log_terms(r, alpha, s, beta, xs, txs, Ts)
    common = special.gammaln(r + xs) - special.gammaln(r)
    common = common + r * np.log(alpha) + s * np.log(beta)
    return np.asarray(common + np.logaddexp(alive, dead))


def fit_pareto_nbd(
    x: ArrayLike, t_x: ArrayLike, T: ArrayLike, weights: ArrayLike | None = None
) -> ParetoNBDFit:
    """Maximum-likelihood Pareto/NBD fit over the log-parameters.

    Identical histories are pooled with a count; L-BFGS-B (Nelder-Mead if it
    fails) searches the logarithms of ``(r, alpha, s, beta)`` from a
    moment-based start.

    Raises
    ------
    ValueError
        If the histories are malformed.
    InsufficientDataError
        If there are no households or none made a repeat purchase.
    """
    xs, txs, Ts = _histories(x, t_x, T)
    w = np.ones_like(xs) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != xs.shape or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite, >= 0 and one per household")
    keep = w > 0
    if not np.any(keep):
        raise InsufficientDataError("no households to fit the Pareto/NBD model on")
    stacked = np.column_stack([xs, txs, Ts])[keep]
    rows, inverse = np.unique(stacked, axis=0, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=w[keep])
    xs, txs, Ts = rows[:, 0], rows[:, 1], rows[:, 2]
    if not np.any(xs > 0):
        raise InsufficientDataError("no household made a repeat purchase")

    n_households = float(counts.sum())

    def objective(log_params: FloatArray) -> float:
        r, alpha, s, beta = np.exp(np.clip(log_params, -15.0, 15.0))
        # Trial steps can reach parameters where hyp2f1 leaves its range;
        # a huge loss there makes the line search step back.
        with np.errstate(all="ignore"):
            ll = pareto_nbd_log_likelihood(r, alpha, s, beta, xs, txs, Ts)
        # Per-household mean: keeps the first quasi-Newton step of sane length.
        mean = float(counts @ ll) / n_households
        return -mean if np.isfinite(mean) else _UNUSABLE

    rate = float(counts @ xs) / max(float(counts @ Ts), 1e-12)
    scale = 1.0 / max(rate, 1e-6)
    start = np.log([1.0, scale, 1.0, scale])
    # L-BFGS-B on finite differences needs far fewer likelihood evaluations
    # (each a hyp2f1 per household) than Nelder-Mead, which is the fallback.
    bounds = [(-15.0, 15.0)] * 4
    result = optimize.minimize(objective, start, method="L-BFGS-B", bounds=bounds)
    if not result.success:
        result = optimize.minimize(
            objective,
            result.x,
            method="Nelder-Mead",
            options={"maxiter": 6000, "xatol": 1e-7, "fatol": 1e-9},
        )
    if not np.isfinite(result.fun) or result.fun >= _UNUSABLE:
        raise InsufficientDataError("the Pareto/NBD likelihood has no finite maximum")
    r, alpha, s, beta = np.exp(np.clip(result.x, -15.0, 15.0))
    return ParetoNBDFit(
        r=float(r),
        alpha=float(alpha),
        s=float(s),
        beta=float(beta),
        log_likelihood=-float(result.fun) * n_households,
        n_customers=n_households,
    )


def _log_terms(
    r: float,
    alpha: float,
    s: float,
    beta: float,
    xs: FloatArray,
    txs: FloatArray,
    Ts: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Logs of the "alive at T" and "died in (t_x, T]" likelihood terms (FH).

    Both exclude the common factor ``Gamma(r+x) alpha^r beta^s / Gamma(r)``.
    """
    alive = -(r + xs) * np.log(alpha + Ts) - s * np.log(beta + Ts)
    total = r + s + xs
    # After Euler's transformation c - a = 1 in both branches; c - b and the
    # power of (1 - z), c - a - b, differ.
    if alpha >= beta:
        big, second, exponent = alpha, r + xs, np.full_like(xs, -s)
    else:
        big, second, exponent = beta, np.full_like(xs, s + 1.0), 1.0 - r - xs
    gap = abs(alpha - beta)

    def log_f(y: FloatArray) -> FloatArray:
        z = gap / (big + y)
        # (1-z)^(c-a-b) 2F1(1, second; c; z) / (big+y)^(r+s+x), in logs.
        return np.asarray(
            exponent * np.log1p(-z)
            + np.log(special.hyp2f1(1.0, second, total + 1.0, z))
            - total * np.log(big + y)
        )

    upper, lower = log_f(txs), log_f(Ts)
    # A_0 = F(t_x) - F(T) > 0; when t_x = T it is 0 and the term vanishes.
    with np.errstate(divide="ignore"):
        log_a0 = upper + np.log(-np.expm1(np.minimum(lower - upper, 0.0)))
    dead = np.log(s) - np.log(total) + log_a0
    return alive, dead
