"""The engine's own logistic and softmax regressions: seeded simulations that
recover known coefficients, and agreement with a generic optimiser on the
same penalised likelihood."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, special

from omnix.engine.logistic import fit_logistic, fit_softmax


def test_logistic_recovers_known_coefficients() -> None:
    rng = np.random.default_rng(11)
    n = 40_000
    x = rng.normal(size=(n, 3)) * [1.0, 2.0, 0.5] + [0.0, 1.0, -1.0]
    truth = np.array([-1.0, 0.8, -0.5, 1.5])
    y = rng.random(n) < special.expit(truth[0] + x @ truth[1:])
    fit = fit_logistic(x, y, l2=1e-6)

    # Back from standardised to raw coefficients.
    slopes = fit.weights[1:] / fit.scales
    intercept = fit.weights[0] - slopes @ fit.means
    assert slopes == pytest.approx(truth[1:], abs=0.06)
    assert intercept == pytest.approx(truth[0], abs=0.06)
    assert fit.positive_rate == pytest.approx(y.mean())


def test_logistic_matches_a_generic_optimiser_with_penalty_and_weights() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(500, 4))
    y = rng.random(500) < special.expit(0.3 + x @ [1.0, -1.0, 0.5, 0.0])
    weight = rng.uniform(0.5, 2.0, 500)
    fit = fit_logistic(x, y, l2=5.0, sample_weight=weight)

    z = (x - fit.means) / fit.scales
    w = weight / weight.mean()

    def objective(b: np.ndarray) -> float:
        eta = b[0] + z @ b[1:]
        return float(w @ (np.logaddexp(0, eta) - y * eta) + 2.5 * b[1:] @ b[1:])

    reference = optimize.minimize(objective, np.zeros(5), method="BFGS").x
    assert fit.weights == pytest.approx(reference, abs=1e-4)
    probability = fit.predict_proba(x)
    assert probability == pytest.approx(special.expit(reference[0] + z @ reference[1:]))


def test_logistic_rejects_bad_input() -> None:
    x = np.ones((4, 2))
    with pytest.raises(ValueError, match="both positive and negative"):
        fit_logistic(x, [1, 1, 1, 1])
    with pytest.raises(ValueError, match="NaN"):
        fit_logistic(np.array([[np.nan, 1.0], [0.0, 1.0]]), [0, 1])
    with pytest.raises(ValueError, match="row count"):
        fit_logistic(x, [0, 1])
    fit = fit_logistic(np.arange(8.0).reshape(4, 2), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="columns"):
        fit.predict_proba(np.ones((2, 3)))


def test_softmax_recovers_known_coefficients() -> None:
    rng = np.random.default_rng(5)
    n = 30_000
    x = rng.normal(size=(n, 2))
    # Class scores relative to class "a" (identifiable differences).
    scores = np.column_stack(
        [np.zeros(n), 0.5 + x @ [1.0, -1.0], -0.5 + x @ [-1.0, 0.5]]
    )
    p = special.softmax(scores, axis=1)
    labels = np.array(["a", "b", "c"])[[rng.choice(3, p=row) for row in p]]
    fit = fit_softmax(x, labels.tolist(), l2=1e-6)

    assert fit.classes == ("a", "b", "c")
    slopes = fit.weights[:, 1:] / fit.scales
    intercepts = fit.weights[:, 0] - slopes @ fit.means
    assert slopes[1] - slopes[0] == pytest.approx([1.0, -1.0], abs=0.07)
    assert slopes[2] - slopes[0] == pytest.approx([-1.0, 0.5], abs=0.07)
    assert intercepts[1] - intercepts[0] == pytest.approx(0.5, abs=0.07)
    assert intercepts[2] - intercepts[0] == pytest.approx(-0.5, abs=0.07)
    assert fit.predict_proba(x[:5]).sum(axis=1) == pytest.approx(np.ones(5))


def test_softmax_needs_two_classes() -> None:
    with pytest.raises(ValueError, match="two classes"):
        fit_softmax(np.ones((3, 1)), ["a", "a", "a"])


def test_curvature_from_a_subsample_reaches_the_same_optimum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import omnix.engine.logistic as logistic

    rng = np.random.default_rng(17)
    x = rng.normal(size=(6_000, 4))
    y = rng.random(6_000) < special.expit(-2.0 + x @ [0.7, -0.4, 0.2, 0.0])
    weight = rng.uniform(0.5, 3.0, 6_000)
    full = fit_logistic(x, y, l2=2.0, sample_weight=weight)
    # Curvature from every 6th row only: the gradient, hence the optimum, is
    # still the full one.
    monkeypatch.setattr(logistic, "_HESSIAN_ROWS", 1_000)
    subsampled = fit_logistic(x, y, l2=2.0, sample_weight=weight)
    # Both stop within the same tolerance of the optimum.
    assert subsampled.weights == pytest.approx(full.weights, abs=1e-4)
