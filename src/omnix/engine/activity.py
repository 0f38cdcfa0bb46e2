"""Household activity: is a household still shopping, and will it shop soon?

Two layers. The BG/NBD model (:mod:`omnix.engine.btyd`) is fitted on every
household's distinct purchase days, with time counted in days. Its
probability of a purchase in the next 60 days ranks households well but is
not the best ranking on supermarket data, where nearly every household keeps
shopping and what separates the few who stop is how their recent weeks compare
with their usual rhythm. So a small L2-penalised logistic regression is
learned on top, on features of each household (BG/NBD expectations, recency,
purchase days in the last 30/60/90 days, tenure, spend trend), using only the
history itself: features are computed at ``as_of - 60 days`` and the label is
whether the household bought in the 60 days up to ``as_of``. The fitted
weights are then applied to the features at ``as_of``. Nothing at or after
``as_of`` is ever read.

Days are calendar days in the store time zone; several orders on one day are
one purchase day (DESIGN.md, "Analytics").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy import optimize, stats

from omnix.engine.activity_features import (
    FEATURE_NAMES,
    HORIZON_DAYS,
    as_utc,
    check_columns,
    household_features,
    local_naive,
    purchase_days,
    utc_timestamps,
)
from omnix.engine.btyd import BGNBDFit, InsufficientDataError

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "FEATURE_NAMES",
    "HORIZON_DAYS",
    "ActivityModel",
    "ActivityScore",
    "Calibration",
    "activity_auc",
    "fit_activity_model",
    "rank_auc",
]

# The learned layer needs both buyers and non-buyers in the earlier window;
# with fewer than this many of either, the BG/NBD probability is used as is.
_MIN_CLASS_SIZE = 20
# Ridge strength on standardised features: enough to keep ten correlated
# features stable with a few hundred households, negligible with thousands.
_L2_PENALTY = 1.0


@dataclass(frozen=True)
class Calibration:
    """Logistic weights over standardised household features.

    ``weights[0]`` is the intercept; the rest pair with :data:`FEATURE_NAMES`
    after subtracting ``means`` and dividing by ``scales``.
    """

    weights: tuple[float, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    trained_at: datetime
    n_households: int
    positive_rate: float

    def predict(self, features: FloatArray) -> FloatArray:
        """Probability of a purchase within the horizon for each feature row."""
        z = (features - np.asarray(self.means)) / np.asarray(self.scales)
        w = np.asarray(self.weights)
        return np.asarray(_sigmoid(w[0] + z @ w[1:]))


@dataclass(frozen=True)
class ActivityScore:
    """One household's activity; ``insufficient_data`` when it never bought."""

    customer_id: str
    insufficient_data: bool
    p_alive: float | None = None
    expected_purchases_30d: float | None = None
    p_buy_60d: float | None = None
    recency_days: float | None = None
    tenure_days: float | None = None
    purchase_days: int | None = None


@dataclass(frozen=True, eq=False)
class ActivityModel:
    """A fitted activity model and the scores of every household at ``as_of``.

    Attributes
    ----------
    as_of, tz : datetime, str
        The instant the model looks from and the store time zone of its days.
    bgnbd : BGNBDFit
        The BG/NBD parameters, time in days.
    calibration : Calibration or None
        The learned layer, or None when the history before ``as_of - 60 days``
        was too thin to learn it; ``p_buy_60d`` is then the BG/NBD probability.
    scores : polars.DataFrame
        One row per household with a purchase before ``as_of``.
    """

    as_of: datetime
    tz: str
    bgnbd: BGNBDFit
    calibration: Calibration | None
    scores: pl.DataFrame

    def score(self, customer_ids: Sequence[str] | None = None) -> pl.DataFrame:
        """Scores of the given households (all when None), sorted by customer_id.

        Columns: customer_id, p_alive, expected_purchases_30d, p_buy_60d,
        recency_days (since the last purchase day), tenure_days (since the
        first) and purchase_days (distinct days with a purchase). Households
        with no purchase before ``as_of`` have no row.
        """
        if customer_ids is None:
            return self.scores
        wanted = pl.Series("customer_id", list(customer_ids), dtype=pl.Utf8)
        return self.scores.filter(pl.col("customer_id").is_in(wanted.implode()))

    def score_customer(self, customer_id: str) -> ActivityScore:
        """The activity of one household, or an insufficient-data result."""
        row = self.scores.filter(pl.col("customer_id") == customer_id)
        if row.height == 0:
            return ActivityScore(customer_id=customer_id, insufficient_data=True)
        values = row.row(0, named=True)
        return ActivityScore(
            customer_id=customer_id,
            insufficient_data=False,
            p_alive=values["p_alive"],
            expected_purchases_30d=values["expected_purchases_30d"],
            p_buy_60d=values["p_buy_60d"],
            recency_days=values["recency_days"],
            tenure_days=values["tenure_days"],
            purchase_days=values["purchase_days"],
        )


def fit_activity_model(
    lines: pl.DataFrame, as_of: datetime, tz: str = "UTC"
) -> ActivityModel:
    """Fit the activity model on the purchase lines before ``as_of``.

    Parameters
    ----------
    lines : polars.DataFrame
        Purchase lines in the engine's ``lines`` contract; only customer_id,
        purchased_at, quantity and price are read. Lines with quantity <= 0
        (returns) and lines at or after ``as_of`` are ignored. Naive
        timestamps are taken as UTC.
    as_of : datetime
        The instant to score from (naive means UTC).
    tz : str
        Store time zone (IANA name) that draws the day boundaries.

    Returns
    -------
    ActivityModel

    Raises
    ------
    ValueError
        If a required column is missing or ``tz`` is unknown.
    InsufficientDataError
        If no household made purchases on two different days before ``as_of``.
    """
    check_columns(lines)
    # Cut on the instant before grouping, so a day split by ``as_of`` keeps
    # only its earlier lines (and their spend).
    days = purchase_days(lines.filter(utc_timestamps(lines) < as_utc(as_of)), tz)
    as_of_local = local_naive(as_of, tz)
    households = household_features(days, as_of_local)
    calibration = _learn_calibration(days, as_of_local)

    if calibration is None:
        p_buy = households.p_buy_bgnbd
    else:
        p_buy = calibration.predict(households.features)
    scores = pl.DataFrame(
        {
            "customer_id": households.customer_ids,
            "p_alive": households.p_alive,
            "expected_purchases_30d": households.expected_30d,
            "p_buy_60d": p_buy,
            "recency_days": households.recency_days,
            "tenure_days": households.T,
            "purchase_days": households.x.astype(np.int64) + 1,
        },
        schema_overrides={"customer_id": pl.Utf8},
    )
    return ActivityModel(
        as_of=as_utc(as_of),
        tz=tz,
        bgnbd=households.bgnbd,
        calibration=calibration,
        scores=scores,
    )


def activity_auc(
    lines: pl.DataFrame, split: datetime, tz: str = "UTC"
) -> dict[str, Any]:
    """Held-out activity AUC of ``p_buy_60d`` and the baselines, at ``split``.

    Households with a purchase before ``split`` are ranked; a positive is a
    household that bought at or after ``split`` (DESIGN.md, "Held-out
    evaluation"). The model sees only the lines before ``split``. Baselines,
    in the same run: recency alone (fewer days since the last purchase day
    ranks higher), the BG/NBD P(alive), and the BG/NBD expected purchases
    over 60 days.

    Returns
    -------
    dict
        ``activity_auc``, ``recency_auc``, ``bgnbd_p_alive_auc``,
        ``bgnbd_expected_purchases_auc``, ``n_households``, ``positive_rate``,
        ``calibrated`` and the BG/NBD parameters under ``bgnbd``.
    """
    split_utc = as_utc(split)
    check_columns(lines)
    purchased_at = utc_timestamps(lines)
    history = lines.filter(purchased_at < split_utc)
    later = lines.filter((purchased_at >= split_utc) & (pl.col("quantity") > 0))
    model = fit_activity_model(history, split_utc, tz)
    bought = set(later.get_column("customer_id").cast(pl.Utf8).unique().to_list())

    scores = model.scores
    labels = np.array([cid in bought for cid in scores["customer_id"]], dtype=bool)
    recency = scores["recency_days"].to_numpy()
    tenure = scores["tenure_days"].to_numpy()
    repeats = scores["purchase_days"].to_numpy() - 1.0
    bgnbd = model.bgnbd
    expected_60d = bgnbd.expected_purchases(
        HORIZON_DAYS, repeats, tenure - recency, tenure
    )
    return {
        "activity_auc": rank_auc(scores["p_buy_60d"].to_numpy(), labels),
        "recency_auc": rank_auc(-recency, labels),
        "bgnbd_p_alive_auc": rank_auc(scores["p_alive"].to_numpy(), labels),
        "bgnbd_expected_purchases_auc": rank_auc(expected_60d, labels),
        "n_households": int(labels.size),
        "positive_rate": float(labels.mean()),
        "calibrated": model.calibration is not None,
        "bgnbd": {"r": bgnbd.r, "alpha": bgnbd.alpha, "a": bgnbd.a, "b": bgnbd.b},
    }


def rank_auc(score: npt.ArrayLike, positive: npt.ArrayLike) -> float:
    """Area under the ROC curve by the Mann-Whitney rank sum, ties counted half.

    Raises
    ------
    InsufficientDataError
        Without at least one positive and one negative.
    """
    s = np.asarray(score, dtype=np.float64)
    y = np.asarray(positive, dtype=bool)
    if s.shape != y.shape:
        raise ValueError("score and positive must have the same length")
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise InsufficientDataError("AUC needs at least one positive and one negative")
    ranks = stats.rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _learn_calibration(days: pl.DataFrame, as_of_local: datetime) -> Calibration | None:
    """Learn the logistic layer on the window just before ``as_of``.

    Features at ``as_of - 60 days``, label = bought in the 60 days up to
    ``as_of``; None when that window holds too few buyers or non-buyers.
    """
    trained_at = as_of_local - timedelta(days=HORIZON_DAYS)
    try:
        households = household_features(days, trained_at)
    except InsufficientDataError:
        return None
    window = days.filter(
        (pl.col("local_at") >= trained_at) & (pl.col("local_at") < as_of_local)
    )
    bought = set(window.get_column("customer_id").unique().to_list())
    labels = np.array([cid in bought for cid in households.customer_ids], dtype=bool)
    n_pos = int(labels.sum())
    if min(n_pos, labels.size - n_pos) < _MIN_CLASS_SIZE:
        return None

    features = households.features
    means = features.mean(axis=0)
    scales = features.std(axis=0)
    scales = np.where(scales > 1e-12, scales, 1.0)  # a constant feature stays 0
    weights = _fit_logistic((features - means) / scales, labels, _L2_PENALTY)
    return Calibration(
        weights=tuple(float(v) for v in weights),
        means=tuple(float(v) for v in means),
        scales=tuple(float(v) for v in scales),
        trained_at=trained_at,
        n_households=int(labels.size),
        positive_rate=float(labels.mean()),
    )


def _fit_logistic(z: FloatArray, y: npt.NDArray[np.bool_], l2: float) -> FloatArray:
    """L2-penalised logistic regression with an unpenalised intercept.

    Minimises ``sum(log(1 + exp(eta)) - y * eta) + l2/2 * |w|^2`` with
    ``eta = w0 + z @ w``; the objective is convex, so L-BFGS with the exact
    gradient ``Z^T (sigmoid(eta) - y)`` finds the unique optimum.
    """
    design = np.column_stack([np.ones(len(y)), z])
    target = y.astype(np.float64)
    penalty = np.full(design.shape[1], l2)
    penalty[0] = 0.0

    def objective(w: FloatArray) -> tuple[float, FloatArray]:
        eta = design @ w
        loss = float(np.sum(np.logaddexp(0.0, eta) - target * eta))
        loss += 0.5 * float(penalty @ (w * w))
        gradient = design.T @ (_sigmoid(eta) - target) + penalty * w
        return loss, gradient

    result = optimize.minimize(
        objective, np.zeros(design.shape[1]), jac=True, method="L-BFGS-B"
    )
    return np.asarray(result.x)


def _sigmoid(eta: FloatArray) -> FloatArray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * eta)))
