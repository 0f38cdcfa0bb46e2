"""L2-penalised logistic and softmax regression on standardised features.

The learned scorers of the engine (replenishment probability, next-basket
ranking, demographic estimates) are all linear models over a few dozen
features. They are fitted by maximum penalised likelihood: the binary model by
Newton-Raphson (iteratively reweighted least squares), the multinomial one by
a truncated-Newton trust region with exact Hessian-vector products; the
penalty leaves the intercept free. Features are standardised first so one
penalty strength means the same for every feature.

References
----------
Hastie, Tibshirani & Friedman, *The Elements of Statistical Learning*, 2nd
ed., 2009: section 4.4, eq. (4.20) (binary log-likelihood) and eq. (4.18)
(multinomial form), section 3.4.1 (ridge penalty on standardised inputs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

FloatArray = npt.NDArray[np.float64]

_MAX_NEWTON_STEPS = 50
_TOLERANCE = 1e-10
# Rows per block when forming X^T W X: a block fits in cache and its buffer
# is reused, where one n x p temporary would cost a page fault per 4 KiB.
_GRAM_BLOCK = 16_384
_HESSIAN_ROWS = 100_000

__all__ = ["LogisticFit", "SoftmaxFit", "fit_logistic", "fit_softmax"]


def _standardise(features: FloatArray) -> tuple[FloatArray, FloatArray]:
    means = features.mean(axis=0)
    # A block of rows at a time (as in _weighted_gram): one cache-sized
    # temporary, where a whole centred matrix would cost a page fault per
    # 4 KiB and a column of a row-major matrix a cache miss per value.
    squares = np.zeros(features.shape[1])
    buffer = np.empty((min(_GRAM_BLOCK, features.shape[0]), features.shape[1]))
    for start in range(0, features.shape[0], _GRAM_BLOCK):
        block = features[start : start + _GRAM_BLOCK]
        centred = buffer[: block.shape[0]]
        np.subtract(block, means, out=centred)
        squares += np.einsum("ij,ij->j", centred, centred)
    scales = np.sqrt(squares / max(features.shape[0], 1))
    # A constant column carries no information; a unit scale keeps it inert.
    scales = np.where(scales > 1e-12, scales, 1.0)
    return means, scales


def _standardised_design(
    matrix: FloatArray, means: FloatArray, scales: FloatArray
) -> FloatArray:
    """``[1, (x - means) / scales]`` in column-major order.

    Column-major storage makes ``design @ w`` and ``design.T @ v`` (the two
    products of every Newton step) read each feature as one contiguous run.
    """
    design = np.empty((matrix.shape[0], matrix.shape[1] + 1), order="F")
    design[:, 0] = 1.0
    np.subtract(matrix, means, out=design[:, 1:])
    design[:, 1:] /= scales
    return design


def _weighted_gram(design: FloatArray, curvature: FloatArray) -> FloatArray:
    """``design.T @ diag(curvature) @ design``, a block of rows at a time."""
    columns = design.shape[1]
    gram = np.zeros((columns, columns))
    buffer = np.empty((min(_GRAM_BLOCK, design.shape[0]), columns))
    root = np.sqrt(curvature)
    for start in range(0, design.shape[0], _GRAM_BLOCK):
        block = design[start : start + _GRAM_BLOCK]
        scaled = buffer[: block.shape[0]]
        np.multiply(block, root[start : start + _GRAM_BLOCK, None], out=scaled)
        gram += scaled.T @ scaled
    return gram


def _check_design(features: npt.ArrayLike, n_rows: int | None = None) -> FloatArray:
    matrix = np.asarray(features, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError("features: expected a 2-D array (rows x features)")
    if n_rows is not None and matrix.shape[0] != n_rows:
        raise ValueError("features: row count differs from the labels")
    if not np.isfinite(matrix).all():
        raise ValueError("features: contains NaN or infinite values")
    return matrix


@dataclass(frozen=True, eq=False)
class LogisticFit:
    """A fitted binary logistic regression.

    ``weights[0]`` is the intercept; ``weights[1:]`` multiply the features
    after ``(x - means) / scales``.
    """

    weights: FloatArray
    means: FloatArray
    scales: FloatArray
    feature_names: tuple[str, ...]
    n_rows: int
    positive_rate: float

    def decision(self, features: npt.ArrayLike) -> FloatArray:
        """Linear predictor (log-odds) for each row."""
        matrix = _check_design(features)
        if matrix.shape[1] != self.means.size:
            raise ValueError(
                f"features: expected {self.means.size} columns, got {matrix.shape[1]}"
            )
        standard = (matrix - self.means) / self.scales
        return np.asarray(self.weights[0] + standard @ self.weights[1:], np.float64)

    def predict_proba(self, features: npt.ArrayLike) -> FloatArray:
        """Probability of the positive class for each row."""
        return np.asarray(special.expit(self.decision(features)), np.float64)


def fit_logistic(
    features: npt.ArrayLike,
    labels: npt.ArrayLike,
    *,
    l2: float = 1.0,
    sample_weight: npt.ArrayLike | None = None,
    feature_names: Sequence[str] = (),
) -> LogisticFit:
    """Fit a binary logistic regression by penalised maximum likelihood.

    Minimises ``sum_i w_i [log(1 + exp(eta_i)) - y_i eta_i] + l2/2 ||beta||^2``
    (ESL eq. 4.20 with a ridge term), ``eta_i = b0 + z_i . beta`` on
    standardised features ``z``.

    Parameters
    ----------
    features : array (n, p)
    labels : array (n,) of 0/1 or bool
    l2 : float
        Ridge strength on the standardised coefficients (not the intercept).
    sample_weight : array (n,), optional
        Non-negative weights; rescaled to average one.
    feature_names : sequence of str
        Kept with the fit for inspection.

    Raises
    ------
    ValueError
        On shape mismatches, non-finite values, or labels of a single class.
    """
    y = np.asarray(labels, dtype=np.float64).ravel()
    matrix = _check_design(features, y.size)
    if y.size == 0 or y.min() == y.max():
        raise ValueError("labels: need both positive and negative examples")
    weight = np.ones_like(y) if sample_weight is None else np.asarray(sample_weight)
    if weight.shape != y.shape or (weight < 0).any():
        raise ValueError("sample_weight: must be non-negative, one per row")
    weight = weight.astype(np.float64) / weight.mean()
    means, scales = _standardise(matrix)
    design = _standardised_design(matrix, means, scales)
    penalty = np.full(design.shape[1], l2)
    penalty[0] = 0.0

    def objective(eta: FloatArray, w: FloatArray) -> float:
        loss = float(weight @ (np.logaddexp(0.0, eta) - y * eta))
        return loss + 0.5 * float(penalty @ (w * w))

    # Newton-Raphson (IRLS, ESL section 4.4.1) with step halving: a handful of
    # iterations over a p x p system, where first-order methods need dozens
    # of passes over the large training sets of the replenishment scorer.
    # The linear predictor is carried along the line search (eta moves by
    # scale * design @ step), so each iteration reads the design four times.
    # On large training sets the curvature is estimated from every
    # ``stride``-th row (a subsampled Newton method: Byrd, Chin, Neveitt &
    # Nocedal, SIAM J. Optim. 21(3), 2011). The gradient stays exact, so the
    # optimum is the same; an estimate from 100,000 rows is within a percent
    # of the full curvature and costs a fraction of its time.
    stride = max(1, -(-y.size // _HESSIAN_ROWS))
    w = np.zeros(design.shape[1])
    w[0] = special.logit(np.clip(np.average(y, weights=weight), 1e-6, 1 - 1e-6))
    eta = design @ w
    current = objective(eta, w)
    for _ in range(_MAX_NEWTON_STEPS):
        p = special.expit(eta)
        gradient = design.T @ (weight * (p - y)) + penalty * w
        curvature = weight * p * (1.0 - p)
        hessian = _weighted_gram(design[::stride], curvature[::stride]) * stride
        hessian[np.diag_indices_from(hessian)] += penalty + 1e-9
        step = np.linalg.solve(hessian, gradient)
        # Half the Newton decrement bounds the distance to the optimum of a
        # nearly quadratic objective: below the tolerance, nothing is left.
        if 0.5 * float(gradient @ step) < _TOLERANCE * max(abs(current), 1.0):
            break
        moved = design @ step
        scale = 1.0
        while scale > 1e-6:
            value = objective(eta - scale * moved, w - scale * step)
            if value <= current:
                break
            scale /= 2.0
        if value > current:
            break  # no descent left: the optimum up to rounding
        improvement = current - value
        w, eta, current = w - scale * step, eta - scale * moved, value
        if improvement < _TOLERANCE * max(abs(current), 1.0):
            break
    return LogisticFit(
        weights=w,
        means=means,
        scales=scales,
        feature_names=tuple(feature_names),
        n_rows=int(y.size),
        positive_rate=float(y.mean()),
    )


@dataclass(frozen=True, eq=False)
class SoftmaxFit:
    """A fitted multinomial (softmax) regression.

    ``weights`` has one row per class in ``classes``: intercept first, then
    the coefficients of the standardised features.
    """

    classes: tuple[str, ...]
    weights: FloatArray
    means: FloatArray
    scales: FloatArray

    def predict_proba(self, features: npt.ArrayLike) -> FloatArray:
        """Class probabilities, one row per input row, columns as ``classes``."""
        matrix = _check_design(features)
        if matrix.shape[1] != self.means.size:
            raise ValueError(
                f"features: expected {self.means.size} columns, got {matrix.shape[1]}"
            )
        standard = (matrix - self.means) / self.scales
        scores = self.weights[:, 0] + standard @ self.weights[:, 1:].T
        return np.asarray(special.softmax(scores, axis=1), np.float64)


def fit_softmax(
    features: npt.ArrayLike, labels: Sequence[str], *, l2: float = 1.0
) -> SoftmaxFit:
    """Fit a multinomial logistic regression by penalised maximum likelihood.

    Minimises ``-sum_i log softmax(eta_i)[y_i] + l2/2 ||B||^2`` with one
    linear predictor per class (ESL eq. 4.18 in its symmetric, over-
    parameterised form, which the ridge term makes identifiable).

    Raises
    ------
    ValueError
        On shape mismatches, non-finite values or fewer than two classes.
    """
    label_array = np.asarray([str(label) for label in labels])
    matrix = _check_design(features, label_array.size)
    classes = tuple(sorted(set(label_array.tolist())))
    if len(classes) < 2:
        raise ValueError("labels: need at least two classes")
    index = {name: i for i, name in enumerate(classes)}
    onehot = np.zeros((label_array.size, len(classes)))
    onehot[np.arange(label_array.size), [index[v] for v in label_array]] = 1.0
    means, scales = _standardise(matrix)
    design = np.column_stack([np.ones(label_array.size), (matrix - means) / scales])
    shape = (len(classes), design.shape[1])
    penalty = np.full(shape, l2)
    penalty[:, 0] = 0.0

    state: dict[str, FloatArray] = {}

    def probabilities(flat: FloatArray) -> dict[str, FloatArray]:
        # The objective and the Hessian products of one iterate share them.
        if state.get("at") is None or not np.array_equal(state["at"], flat):
            scores = design @ flat.reshape(shape).T
            log_norm = special.logsumexp(scores, axis=1)
            state.update(
                at=flat.copy(),
                scores=scores,
                log_norm=log_norm,
                p=np.exp(scores - log_norm[:, None]),
            )
        return state

    def objective(flat: FloatArray) -> tuple[float, FloatArray]:
        w = flat.reshape(shape)
        current = probabilities(flat)
        loss = float(current["log_norm"].sum() - (onehot * current["scores"]).sum())
        gradient = (current["p"] - onehot).T @ design + penalty * w
        return loss + 0.5 * float((penalty * w * w).sum()), gradient.ravel()

    def hessian_times(flat: FloatArray, direction: FloatArray) -> FloatArray:
        # For row i, the Hessian of -log softmax is diag(p) - p p^T per class
        # pair, times x_i x_i^T: applied to a direction without forming it.
        p = probabilities(flat)["p"]
        v = direction.reshape(shape)
        moved = design @ v.T
        weighted = p * moved - p * (p * moved).sum(axis=1, keepdims=True)
        return np.asarray((weighted.T @ design + penalty * v).ravel(), np.float64)

    start = np.zeros(shape)
    start[:, 0] = np.log(onehot.mean(axis=0))
    # Truncated-Newton trust region (Steihaug conjugate gradients, Nocedal &
    # Wright, *Numerical Optimization*, 2nd ed., 2006, algorithm 7.2) with the
    # exact Hessian-vector product: a dozen iterations where L-BFGS takes
    # thirty, each of them a few small matrix products.
    result = optimize.minimize(
        objective,
        start.ravel(),
        jac=True,
        hessp=hessian_times,
        method="trust-ncg",
        options={"gtol": 1e-6},
    )
    return SoftmaxFit(
        classes=classes,
        weights=np.asarray(result.x, np.float64).reshape(shape),
        means=means,
        scales=scales,
    )
