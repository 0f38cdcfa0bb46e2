"""The interval baseline: a second, deliberately simple local analyser.

It fits nothing. It reads the household's own purchase days and two
population tables the full engine already holds (product popularity and the
catalogue), and answers with the same result types as the full engine, so an
experiment can compare the two on any machine:

* Rhythm: per product (and category) bought on at least two distinct days,
  the next purchase is the last purchase day plus the median of the past gaps
  that are longer than the time already elapsed, or today plus the median gap
  when no past gap was that long (DESIGN.md's "conditional median" rule,
  replenishment AUC 0.61 on the held-out split). Products bought on a single
  day have no gap and get no rhythm.
* Confidence: the share of past gaps within 30 % of the median gap, counted
  over the gaps plus two pseudo-gaps, so two gaps never give certainty.
* Alerts: products bought on three days or more whose predicted date falls
  within the horizon. The probability of buying within the horizon is the
  household's own past frequency: among past gaps longer than the time
  elapsed, the share no longer than elapsed plus horizon (with half a
  pseudo-count each way).
* Recommendations: the household's products by the share of its orders they
  were in ("repurchase"), topped up with the store's most ordered active
  products it never bought ("discovery"), DESIGN.md's "personal then popular"
  rule (next-basket recall@10 0.161 on the held-out split).
* Profile: fixed rules, see :mod:`omnix.analysers.baseline_profile`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl

from omnix.analysers.baseline_profile import baseline_profile
from omnix.engine.consumption import ConsumptionPattern
from omnix.engine.features import (
    check_as_of,
    day_table,
    interval_table,
    local_day,
    lookup,
    prepare_lines,
)
from omnix.engine.population import CustomerAnalysis, PopulationModels
from omnix.engine.recommend import Recommendation
from omnix.engine.replenishment import ReplenishmentAlert

__all__ = ["STEADY_TOLERANCE", "interval_baseline_analysis"]

STEADY_TOLERANCE = 0.3
PSEUDO_GAPS = 2.0
MIN_ALERT_DAYS = 3
DUE_WITHIN_DAYS = 3
_URGENCY_ORDER = {"overdue": 0, "due": 1, "soon": 2}


def interval_baseline_analysis(
    models: PopulationModels,
    lines: pl.DataFrame,
    customer_id: str,
    *,
    as_of: datetime,
    customer: pl.DataFrame | None = None,
    k: int = 10,
    horizon_days: int = 7,
) -> CustomerAnalysis:
    """Rhythms, alerts, recommendations and profile of one household.

    Parameters
    ----------
    models : PopulationModels
        Only its catalogue, product popularity, price ranks and demographic
        modes are read; none of its fitted scorers.
    lines : polars.DataFrame
        The household's purchase lines (engine contract); others are ignored.
    customer : polars.DataFrame, optional
        The household's row of the customers frame (declared demographics).
    k, horizon_days : int
        Recommendations wanted; alert horizon in days.
    """
    if k < 1:
        raise ValueError("k: must be at least 1")
    if horizon_days < 1:
        raise ValueError("horizon_days: must be at least 1")
    clock = check_as_of(as_of)
    tz = models.tz
    today = local_day(clock, tz)
    own = lines.filter(pl.col("customer_id").cast(pl.Utf8) == customer_id)
    prepared = prepare_lines(own, clock, tz)

    products = _rhythms(prepared, "product_id", today, horizon_days)
    products = _name_products(products, prepared, models.catalogue)
    categories = _rhythms(prepared, "category", today, horizon_days)
    return CustomerAnalysis(
        customer_id=customer_id,
        as_of=clock,
        product_patterns=tuple(_patterns(products, customer_id, today, "product")),
        category_patterns=tuple(_patterns(categories, customer_id, today, "category")),
        alerts=tuple(_alerts(products, customer_id, today, horizon_days)),
        recommendations=tuple(_recommend(prepared, models, customer_id, k)),
        profile=baseline_profile(prepared, models, customer_id, today, customer),
    )


def _rhythms(
    prepared: pl.DataFrame, key: str, today: date, horizon_days: int
) -> pl.DataFrame:
    """Per key bought on two days or more: gaps, prediction and probabilities."""
    if prepared.height == 0:
        return pl.DataFrame()
    gap, elapsed = pl.col("interval"), pl.col("elapsed")
    median = gap.median()
    table = interval_table(
        day_table(prepared, key),
        key,
        today,
        extra=(
            gap.filter(gap > elapsed).median().alias("median_longer"),
            ((gap - median).abs() <= STEADY_TOLERANCE * median)
            .sum()
            .alias("steady_gaps"),
            (gap > elapsed).sum().alias("longer_gaps"),
            ((gap > elapsed) & (gap <= elapsed + horizon_days))
            .sum()
            .alias("gaps_ending_in_horizon"),
        ),
    ).filter(pl.col("n_days") >= 2)
    predicted_offset = (
        pl.when(pl.col("median_longer").is_not_null())
        .then(pl.col("median_longer") - pl.col("elapsed_days"))
        .otherwise(pl.col("median_interval"))
        .round(0)
        .cast(pl.Int64)
    )
    return table.with_columns(
        predicted_offset.alias("days_until"),
        (pl.col("steady_gaps") / (pl.col("n_days") - 1 + PSEUDO_GAPS)).alias(
            "confidence"
        ),
        (
            (pl.col("gaps_ending_in_horizon") + 0.5) / (pl.col("longer_gaps") + 1.0)
        ).alias("probability"),
        (pl.col("elapsed_days") > pl.col("median_interval")).alias("overdue"),
    ).sort("days_until", key)


def _name_products(
    table: pl.DataFrame, prepared: pl.DataFrame, catalogue: pl.DataFrame
) -> pl.DataFrame:
    if table.height == 0:
        return table
    category = prepared.group_by("product_id").agg(pl.col("category").first())
    names = catalogue.select(
        pl.col("product_id").cast(pl.Utf8), pl.col("name").alias("product_name")
    )
    return (
        table.join(category, on="product_id", how="left", suffix="_line")
        .pipe(lookup, names, "product_id")
        .with_columns(pl.col("product_name").fill_null(pl.col("product_id")))
    )


def _patterns(
    table: pl.DataFrame, customer_id: str, today: date, level: str
) -> list[ConsumptionPattern]:
    patterns = []
    for row in table.iter_rows(named=True):
        days_until = int(row["days_until"])
        is_product = level == "product"
        patterns.append(
            ConsumptionPattern(
                customer_id=customer_id,
                level="product" if is_product else "category",
                product_id=row["product_id"] if is_product else None,
                product_name=row["product_name"] if is_product else row["category"],
                category=row["category"],
                purchase_days=int(row["n_days"]),
                average_days_between_purchases=float(row["mean_interval"]),
                median_days_between_purchases=float(row["median_interval"]),
                last_purchase_date=row["last_day"],
                predicted_next_purchase_date=today + timedelta(days=days_until),
                days_until_next_purchase=days_until,
                confidence=float(row["confidence"]),
                seasonal_variation=False,
                typical_quantity=float(row["typical_quantity"]),
                insufficient_data=False,
            )
        )
    return patterns


def _alerts(
    table: pl.DataFrame, customer_id: str, today: date, horizon_days: int
) -> list[ReplenishmentAlert]:
    if table.height == 0:
        return []
    due = table.filter(
        (pl.col("n_days") >= MIN_ALERT_DAYS) & (pl.col("days_until") < horizon_days)
    )
    alerts = []
    for row in due.iter_rows(named=True):
        predicted = today + timedelta(days=int(row["days_until"]))
        median = float(row["median_interval"])
        if row["overdue"]:
            urgency = "overdue"
        elif row["days_until"] <= DUE_WITHIN_DAYS:
            urgency = "due"
        else:
            urgency = "soon"
        alerts.append(
            ReplenishmentAlert(
                customer_id=customer_id,
                product_id=row["product_id"],
                product_name=row["product_name"],
                category=row["category"],
                urgency=urgency,
                probability=float(row["probability"]),
                suggested_quantity=max(1, round(float(row["typical_quantity"]))),
                last_purchase_date=row["last_day"],
                expected_run_out_date=row["last_day"] + timedelta(days=round(median)),
                predicted_next_purchase_date=predicted,
                typical_interval_days=median,
                confidence=float(row["confidence"]),
                reason=f"Bought on {row['n_days']} days, usually every "
                f"{median:.0f} days; last on {row['last_day'].isoformat()}",
            )
        )
    alerts.sort(
        key=lambda a: (_URGENCY_ORDER[a.urgency], a.predicted_next_purchase_date)
    )
    return alerts


def _recommend(
    prepared: pl.DataFrame, models: PopulationModels, customer_id: str, k: int
) -> list[Recommendation]:
    active = models.recommender.products
    orders = prepared["order_id"].n_unique() if prepared.height else 0
    personal = (
        prepared.group_by("product_id")
        .agg(pl.col("order_id").n_unique().alias("orders_with"))
        .join(active, on="product_id")
        .sort(["orders_with", "product_id"], descending=[True, False])
        .head(k)
        if orders
        else pl.DataFrame(schema={"product_id": pl.Utf8})
    )
    items: list[Recommendation] = []
    for row in personal.iter_rows(named=True):
        items.append(
            Recommendation(
                customer_id=customer_id,
                rank=len(items) + 1,
                product_id=row["product_id"],
                product_name=row["product_name"],
                category=row["category"],
                kind="repurchase",
                score=row["orders_with"] / orders,
                reason=f"In {row['orders_with']} of your {orders} orders",
            )
        )
    if len(items) >= k:
        return items
    bought = prepared["product_id"].unique().to_list()
    popular = (
        models.recommender.stats.select("product_id", "order_share")
        .join(active, on="product_id")
        .filter(~pl.col("product_id").is_in(bought))
        .sort(["order_share", "product_id"], descending=[True, False])
        .head(k - len(items))
    )
    for row in popular.iter_rows(named=True):
        items.append(
            Recommendation(
                customer_id=customer_id,
                rank=len(items) + 1,
                product_id=row["product_id"],
                product_name=row["product_name"],
                category=row["category"],
                kind="discovery",
                score=float(row["order_share"]),
                reason="One of the store's most often ordered products",
            )
        )
    return items
