"""Scoring rules of the held-out evaluation (DESIGN.md, "Held-out evaluation")."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy import stats

__all__ = ["alert_scores", "mean_recall", "rank_auc"]


def rank_auc(score: npt.ArrayLike, positive: npt.ArrayLike) -> float | None:
    """Area under the ROC curve (Mann-Whitney U / (n1 n0)), ties counted half.

    Returns None (insufficient data) without both a positive and a negative.
    Hanley & McNeil, Radiology 143 (1982), eq. 2.
    """
    s = np.asarray(score, dtype=np.float64)
    y = np.asarray(positive, dtype=bool)
    if s.shape != y.shape:
        raise ValueError("score and positive must have the same length")
    if not np.isfinite(s).all():
        raise ValueError("score: contains NaN or infinite values")
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = stats.rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def alert_scores(alert: npt.ArrayLike, positive: npt.ArrayLike) -> dict[str, float]:
    """Precision over all alerts, recall over all positives, and their F1."""
    a = np.asarray(alert, dtype=bool)
    y = np.asarray(positive, dtype=bool)
    hits = int((a & y).sum())
    precision = hits / a.sum() if a.sum() else 0.0
    recall = hits / y.sum() if y.sum() else 0.0
    f1 = 2 * hits / (a.sum() + y.sum()) if (a.sum() + y.sum()) else 0.0
    return {
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "alerts": int(a.sum()),
    }


def mean_recall(truth: pl.DataFrame, recommended: pl.DataFrame) -> float:
    """Mean over households of the share of their truth products recommended.

    ``truth`` and ``recommended`` hold (customer_id, product_id) rows; a
    household of ``truth`` without recommendations scores zero.
    """
    if truth.height == 0:
        raise ValueError("truth: no household to score")
    hits = truth.join(
        recommended.select("customer_id", "product_id").unique(),
        on=["customer_id", "product_id"],
        how="semi",
    )
    per_household = (
        truth.group_by("customer_id")
        .agg(pl.len().alias("size"))
        .join(
            hits.group_by("customer_id").agg(pl.len().alias("found")),
            on="customer_id",
            how="left",
        )
        .with_columns(pl.col("found").fill_null(0))
    )
    shares = per_household["found"].to_numpy() / per_household["size"].to_numpy()
    return float(shares.mean())
