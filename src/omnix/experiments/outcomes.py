"""Outcome metrics: what an analysis predicted against what the household did.

Each analysis made under a test stores its predictions (``ABTestCall``):
next purchase dates per product and the recommended products. Once the
outcome window after the call has closed, the purchases made in it score
them:

* next-purchase date error: for each predicted product bought again within
  the window, the absolute days between the predicted date and the first
  purchase day (store time zone), averaged per customer. Products not bought
  again in the window are not scored, so this error alone favours early
  predictions; read it next to the hit rate.
* recommendation hit rate: the share of recommended products bought within
  the window, per customer; and reach, whether at least one was.

Only the customer's first call in a phase is scored, so one household
counts once and its windows never overlap. Scoring happens when results are
read, so the figures fill in as later purchases arrive.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from omnix.analysers.registry import FULL_ANALYSIS
from omnix.engine.population import CustomerAnalysis
from omnix.experiments.models import ABTestCall

# A household can have hundreds of rhythms; the most confident ones are kept.
MAX_STORED_DATES = 500
CALL_SCHEMA: dict[str, Any] = {
    "customer_id": pl.Utf8,
    "arm": pl.Utf8,
    "data_cutoff": pl.Datetime("us", "UTC"),
    "called_at": pl.Datetime("us", "UTC"),
    "has_dates": pl.Boolean,
    "has_recommendations": pl.Boolean,
}
DATE_SCHEMA: dict[str, Any] = {
    "customer_id": pl.Utf8,
    "product_id": pl.Utf8,
    "predicted_day": pl.Date,
}
RECOMMENDATION_SCHEMA: dict[str, Any] = {
    "customer_id": pl.Utf8,
    "product_id": pl.Utf8,
}
PURCHASE_SCHEMA: dict[str, Any] = {
    "customer_id": pl.Utf8,
    "product_id": pl.Utf8,
    "purchased_at": pl.Datetime("us", "UTC"),
}
OUTCOME_SCHEMA: dict[str, Any] = {
    "customer_id": pl.Utf8,
    "arm": pl.Utf8,
    "date_error_days": pl.Float64,
    "hit_share": pl.Float64,
    "any_hit": pl.Float64,
}


def predictions_of(
    analysis: CustomerAnalysis, analysis_type: str
) -> tuple[dict[str, str] | None, list[str] | None]:
    """The dates and recommendations an analysis of this type is judged on."""
    dates: dict[str, str] | None = None
    recommended: list[str] | None = None
    if analysis_type in ("consumption_prediction", FULL_ANALYSIS):
        patterns = sorted(
            (p for p in analysis.product_patterns if p.product_id is not None),
            key=lambda p: -p.confidence,
        )[:MAX_STORED_DATES]
        dates = {
            str(p.product_id): p.predicted_next_purchase_date.isoformat()
            for p in patterns
        }
    if analysis_type in ("recommendation_generation", FULL_ANALYSIS):
        recommended = [r.product_id for r in analysis.recommendations]
    return dates, recommended


def prediction_frames(
    calls: Iterable[ABTestCall],
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The first call of each customer, and its dates and recommendations, long."""
    first: dict[str, ABTestCall] = {}
    for call in calls:
        seen = first.get(call.customer_id)
        if seen is None or (call.called_at, call.id) < (seen.called_at, seen.id):
            first[call.customer_id] = call
    rows, dates, recommended = [], [], []
    for call in first.values():
        rows.append(
            (
                call.customer_id,
                call.arm,
                call.data_cutoff,
                call.called_at,
                call.predicted_dates is not None,
                call.recommended is not None,
            )
        )
        for product_id, day in (call.predicted_dates or {}).items():
            dates.append((call.customer_id, product_id, date.fromisoformat(day)))
        recommended += [(call.customer_id, p) for p in call.recommended or []]
    return (
        pl.DataFrame(rows, schema=CALL_SCHEMA, orient="row"),
        pl.DataFrame(dates, schema=DATE_SCHEMA, orient="row"),
        pl.DataFrame(recommended, schema=RECOMMENDATION_SCHEMA, orient="row"),
    )


def matured(calls: pl.DataFrame, window_days: int, now: datetime) -> pl.Series:
    """Whether each call's outcome window has closed at ``now``."""
    closes = pl.col("data_cutoff") + pl.duration(days=window_days)
    return calls.select(closes <= pl.lit(now)).to_series()


def score_outcomes(
    calls: pl.DataFrame,
    dates: pl.DataFrame,
    recommended: pl.DataFrame,
    purchases: pl.DataFrame,
    *,
    window_days: int,
    now: datetime,
    timezone: str,
) -> tuple[pl.DataFrame, int]:
    """Per-customer outcome values (``OUTCOME_SCHEMA``) and how many are pending.

    ``calls`` has one row per customer (``CALL_SCHEMA``); ``purchases`` may
    hold any lines of those customers, those outside each window are ignored.
    """
    ready = calls.filter(matured(calls, window_days, now))
    pending = calls.height - ready.height
    window = timedelta(days=window_days)
    bought = (
        purchases.join(ready.select("customer_id", "data_cutoff"), on="customer_id")
        .filter(
            (pl.col("purchased_at") > pl.col("data_cutoff"))
            & (pl.col("purchased_at") <= pl.col("data_cutoff") + window)
        )
        .group_by(["customer_id", "product_id"])
        .agg(pl.col("purchased_at").min())
        .with_columns(
            pl.col("purchased_at")
            .dt.convert_time_zone(timezone)
            .dt.date()
            .alias("bought_day")
        )
    )
    errors = (
        dates.join(bought, on=["customer_id", "product_id"])
        .with_columns(
            (pl.col("bought_day") - pl.col("predicted_day"))
            .dt.total_days()
            .abs()
            .cast(pl.Float64)
            .alias("error")
        )
        .group_by("customer_id")
        .agg(pl.col("error").mean().alias("date_error_days"))
    )
    hits = (
        recommended.join(
            bought.select("customer_id", "product_id", pl.lit(1.0).alias("hit")),
            on=["customer_id", "product_id"],
            how="left",
        )
        .with_columns(pl.col("hit").fill_null(0.0))
        .group_by("customer_id")
        .agg(
            pl.col("hit").mean().alias("hit_share"),
            pl.col("hit").max().alias("any_hit"),
        )
    )
    scored = (
        ready.select("customer_id", "arm")
        .join(errors, on="customer_id", how="left")
        .join(hits, on="customer_id", how="left")
    )
    return scored.select(
        [pl.col(n).cast(t) for n, t in OUTCOME_SCHEMA.items()]
    ), pending


def window_bounds(
    calls: pl.DataFrame, window_days: int
) -> tuple[datetime, datetime] | None:
    """The span of purchases any scored window can need, or None."""
    if calls.height == 0:
        return None
    low = calls.get_column("data_cutoff").min()
    high = calls.get_column("data_cutoff").max()
    if not isinstance(low, datetime) or not isinstance(high, datetime):
        raise ValueError("data_cutoff must be a UTC datetime column")
    return low, high + timedelta(days=window_days)
