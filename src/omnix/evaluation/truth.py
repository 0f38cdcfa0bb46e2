"""What happened after the split, read from the raw transactions.

The truth is taken from every published line (``CompleteJourneyFrames.raw``),
exactly as DESIGN.md's baseline figures were measured; the engine itself only
ever sees the cleaned lines before the split.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

__all__ = ["HeldOutTruth", "held_out_truth"]


@dataclass(frozen=True)
class HeldOutTruth:
    """Truth frames at a split.

    ``next_basket``: (customer_id, product_id) of each household's first
    order at or after the split. ``pairs``: the (household, product) pairs
    with at least ``min_days`` distinct purchase days before the split, with
    their purchase days (``days``, sorted), ``first_after`` (the first
    purchase instant at or after the split, null if none), ``first_after_day``
    and ``positive`` (bought again within ``horizon_days``).
    """

    split: datetime
    tz: str
    horizon_days: int
    next_basket: pl.DataFrame
    pairs: pl.DataFrame


def held_out_truth(
    raw: pl.DataFrame,
    split: datetime,
    tz: str = "UTC",
    *,
    horizon_days: int = 14,
    min_days: int = 3,
) -> HeldOutTruth:
    """Build the truth frames from raw lines (customer_id, order_id, product_id,
    purchased_at in UTC)."""
    day = pl.col("purchased_at").dt.convert_time_zone(tz).dt.date()
    before = raw.filter(pl.col("purchased_at") < split)
    after = raw.filter(pl.col("purchased_at") >= split)

    first_order = after.group_by("customer_id").agg(
        pl.col("order_id").sort_by("purchased_at", "order_id").first()
    )
    next_basket = (
        after.join(first_order, on=["customer_id", "order_id"])
        .select("customer_id", "product_id")
        .unique()
    )
    history = (
        before.select("customer_id", "product_id", day.alias("day"))
        .unique()
        .sort("customer_id", "product_id", "day")
        .group_by("customer_id", "product_id", maintain_order=True)
        .agg(pl.col("day").alias("days"), pl.len().alias("purchase_days"))
        .filter(pl.col("purchase_days") >= min_days)
    )
    first_after = after.group_by("customer_id", "product_id").agg(
        pl.col("purchased_at").min().alias("first_after")
    )
    pairs = history.join(
        first_after, on=["customer_id", "product_id"], how="left"
    ).with_columns(
        pl.col("first_after")
        .dt.convert_time_zone(tz)
        .dt.date()
        .alias("first_after_day"),
        (pl.col("first_after") < split + timedelta(days=horizon_days))
        .fill_null(False)
        .alias("positive"),
    )
    return HeldOutTruth(
        split=split,
        tz=tz,
        horizon_days=horizon_days,
        next_basket=next_basket,
        pairs=pairs.sort("customer_id", "product_id"),
    )
