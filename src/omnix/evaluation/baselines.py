"""The simple rules DESIGN.md compares the engine with, computed in the same run.

Recommendation (recall@10 over the first order after the split):

* ``popularity``: the 10 products on the most lines before the split, for
  everyone;
* ``personal_top_frequency``: the household's 10 products on the most lines;
* ``personal_then_popular``: the same, topped up with popular products.

Replenishment, per eligible pair with purchase days ``d_1 < ... < d_n`` and
``e`` days elapsed from ``d_n`` to the split day ``S``:

* ``last_plus_mean_interval``: ``max(d_n + mean interval, S)``;
* ``conditional_median``: ``d_n + median of the intervals longer than e``,
  or ``S + median of all intervals`` when none is longer;
* ``constant``: the same score for every pair (AUC 0.5), and ``S + 7`` days
  as a date for the mean absolute error.

A baseline date is scored for AUC by how soon it falls (earlier ranks
higher) and alerts when it falls within the horizon.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from omnix.evaluation.metrics import alert_scores, mean_recall, rank_auc
from omnix.evaluation.truth import HeldOutTruth

__all__ = ["recommendation_baselines", "replenishment_baselines"]

K = 10
# Ties in line counts are broken by the product id read as a number, as in the
# measurement DESIGN.md quotes (as text, "1029743" < "995242" and the
# personal baseline moves from 0.160 to 0.162).
_TIE_BREAK = [
    pl.col("lines"),
    pl.col("product_id").cast(pl.Int64, strict=False),
    pl.col("product_id"),
]


def recommendation_baselines(
    raw_before: pl.DataFrame, truth: HeldOutTruth
) -> dict[str, float]:
    """Recall@10 of the popularity and personal-frequency rules."""
    popular = (
        raw_before.group_by("product_id")
        .agg(pl.len().alias("lines"))
        .sort(_TIE_BREAK, descending=[True, False, False], nulls_last=True)
        .head(2 * K)["product_id"]
        .to_list()
    )
    households = truth.next_basket.select("customer_id").unique()
    everyone = households.join(
        pl.DataFrame({"product_id": popular[:K]}, schema={"product_id": pl.Utf8}),
        how="cross",
    )
    personal = (
        raw_before.join(households, on="customer_id")
        .group_by("customer_id", "product_id")
        .agg(pl.len().alias("lines"))
        .sort(
            [pl.col("customer_id"), *_TIE_BREAK],
            descending=[False, True, False, False],
            nulls_last=True,
        )
        .group_by("customer_id", maintain_order=True)
        .head(K)
        .with_columns(pl.int_range(pl.len()).over("customer_id").alias("rank"))
    )
    fill = households.join(
        pl.DataFrame(
            {"product_id": popular, "rank": np.arange(K, K + len(popular))},
            schema={"product_id": pl.Utf8, "rank": pl.Int64},
        ),
        how="cross",
    )
    topped = (
        pl.concat(
            [
                personal.select(
                    "customer_id", "product_id", pl.col("rank").cast(pl.Int64)
                ),
                fill,
            ]
        )
        .sort("customer_id", "rank")
        .unique(["customer_id", "product_id"], keep="first", maintain_order=True)
        .group_by("customer_id", maintain_order=True)
        .head(K)
    )
    return {
        "popularity": mean_recall(truth.next_basket, everyone),
        "personal_top_frequency": mean_recall(truth.next_basket, personal),
        "personal_then_popular": mean_recall(truth.next_basket, topped),
    }


def _baseline_dates(pairs: pl.DataFrame, split_day: date) -> pl.DataFrame:
    """Per eligible pair: the mean-interval and conditional-median dates (as
    day numbers after the split day)."""
    offsets = pairs.select(
        "customer_id",
        "product_id",
        pl.col("days")
        .list.eval((pl.element() - pl.lit(split_day)).dt.total_days())
        .alias("offset"),
    )
    intervals = offsets.with_columns(
        pl.col("offset").list.last().alias("last"),
        pl.col("offset").list.diff().list.drop_nulls().alias("interval"),
    )
    exploded = intervals.explode("interval").with_columns(
        (-pl.col("last")).alias("elapsed")
    )
    summary = exploded.group_by("customer_id", "product_id").agg(
        pl.col("last").first(),
        pl.col("interval").mean().alias("mean_interval"),
        pl.col("interval").median().alias("median_interval"),
        pl.col("interval")
        .filter(pl.col("interval") > pl.col("elapsed"))
        .median()
        .alias("median_longer"),
    )
    return summary.select(
        "customer_id",
        "product_id",
        pl.max_horizontal(pl.col("last") + pl.col("mean_interval"), pl.lit(0.0)).alias(
            "mean_date"
        ),
        pl.when(pl.col("median_longer").is_not_null())
        .then(pl.col("last") + pl.col("median_longer"))
        .otherwise(pl.col("median_interval"))
        .cast(pl.Float64)
        .alias("conditional_date"),
    )


def replenishment_baselines(truth: HeldOutTruth) -> dict[str, dict[str, Any]]:
    """AUC, alert F1 and next-purchase MAE of the interval rules."""
    split_day = truth.split.astimezone(ZoneInfo(truth.tz)).date()
    dates = truth.pairs.select(
        "customer_id", "product_id", "positive", "first_after_day"
    ).join(_baseline_dates(truth.pairs, split_day), on=["customer_id", "product_id"])
    positive = dates["positive"].to_numpy()
    mean_date = dates["mean_date"].to_numpy()
    conditional = dates["conditional_date"].to_numpy()
    horizon = truth.horizon_days
    later = dates.filter(pl.col("first_after_day").is_not_null())
    actual = (later["first_after_day"] - split_day).dt.total_days().to_numpy()

    def mae(column: str) -> float:
        return float(np.abs(later[column].to_numpy() - actual).mean())

    return {
        "replenishment_auc": {
            "last_plus_mean_interval": rank_auc(-mean_date, positive),
            "conditional_median": rank_auc(-conditional, positive),
            "constant": rank_auc(np.zeros(positive.size), positive),
        },
        "replenishment_f1": {
            "alert_every_pair": alert_scores(np.ones(positive.size), positive)["f1"],
            "conditional_median_rule": alert_scores(conditional < horizon, positive)[
                "f1"
            ],
        },
        "next_purchase_mae_days": {
            "constant_7_days": float(np.abs(7.0 - actual).mean()),
            "last_plus_mean_interval": mae("mean_date"),
            "conditional_median": mae("conditional_date"),
        },
    }
