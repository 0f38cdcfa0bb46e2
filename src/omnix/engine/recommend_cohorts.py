"""Cold-start recommendations: what customers like this one buy lately.

For every cohort (a combination of declared attributes, or the segment when
the caller supplies one) and every value of it shared by at least
:data:`MIN_COHORT` recently active households, the share of those households
that bought each product in the last :data:`RECENT_DAYS` days. A customer
without history gets the top products of the first cohort in
:data:`COHORTS` that knows them, else of the whole population.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import polars as pl

from omnix.engine.features import lookup

if TYPE_CHECKING:
    from omnix.engine.recommend_fit import Recommender

__all__ = ["COHORTS", "MIN_COHORT", "RECENT_DAYS", "cohort_popularity", "cold_start"]

COHORTS: tuple[tuple[str, ...], ...] = (
    ("segment",),
    ("household_composition", "age_group"),
    ("household_composition",),
    ("age_group",),
    ("income_level",),
)
MIN_COHORT = 20
RECENT_DAYS = 56
TOP_PER_COHORT = 50
POPULATION = "population"


def _key(columns: tuple[str, ...]) -> pl.Expr:
    """The cohort's values joined by ``", "``, null when any value is missing."""
    return pl.concat_str([pl.col(c).cast(pl.Utf8) for c in columns], separator=", ")


def _declared(customers: pl.DataFrame | None) -> pl.DataFrame:
    columns = sorted({c for cohort in COHORTS for c in cohort})
    if customers is None or "customer_id" not in customers.columns:
        return pl.DataFrame(
            schema={"customer_id": pl.Utf8, **dict.fromkeys(columns, pl.Utf8)}
        )
    return customers.select(
        pl.col("customer_id").cast(pl.Utf8),
        *(
            (pl.col(c) if c in customers.columns else pl.lit(None))
            .cast(pl.Utf8)
            .alias(c)
            for c in columns
        ),
    )


def _top(bought: pl.DataFrame, members: pl.DataFrame, cohort: str) -> pl.DataFrame:
    sizes = members.group_by("value").agg(pl.len().alias("households"))
    sizes = sizes.filter(pl.col("households") >= MIN_COHORT)
    counts = (
        bought.join(members, on="customer_id")
        .join(sizes, on="value")
        .group_by("value", "product_id")
        .agg(pl.len().alias("buyers"), pl.col("households").first())
    )
    return (
        counts.with_columns((pl.col("buyers") / pl.col("households")).alias("share"))
        .sort(["value", "share", "product_id"], descending=[False, True, False])
        .group_by("value", maintain_order=True)
        .head(TOP_PER_COHORT)
        .select(pl.lit(cohort).alias("cohort"), "value", "product_id", "share")
    )


def cohort_popularity(
    prepared: pl.DataFrame,
    customers: pl.DataFrame | None,
    products: pl.DataFrame,
    as_of: datetime,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Declared cohorts of the known customers and the popular products per cohort.

    Returns ``(declared, popular)``: the customers' cohort columns, and rows
    (cohort, value, product_id, share) with only active products.
    """
    declared = _declared(customers)
    recent = prepared.filter(
        pl.col("purchased_at") >= as_of - timedelta(days=RECENT_DAYS)
    )
    bought = (
        recent.select("customer_id", "product_id")
        .unique()
        .join(products.select("product_id"), on="product_id")
    )
    active = recent.select("customer_id").unique()
    tables = [
        _top(bought, active.with_columns(pl.lit("all").alias("value")), POPULATION)
    ]
    for cohort in COHORTS:
        members = declared.join(active, on="customer_id").select(
            "customer_id", _key(cohort).alias("value")
        )
        members = members.filter(pl.col("value").is_not_null())
        if members.height:
            tables.append(_top(bought, members, "+".join(cohort)))
    return declared, pl.concat(tables)


def cold_start(
    recommender: Recommender,
    newcomers: pl.DataFrame,
    customers: pl.DataFrame | None,
    k: int,
) -> pl.DataFrame:
    """Top-``k`` cohort-popular products for customers without history."""
    given = _declared(customers)
    known = recommender.customer_cohorts.join(
        given.select("customer_id"), on="customer_id", how="anti"
    )
    declared = newcomers.join(pl.concat([given, known]), on="customer_id", how="left")
    options = [
        declared.select(
            "customer_id",
            pl.lit(priority).alias("priority"),
            pl.lit("+".join(cohort)).alias("cohort"),
            _key(cohort).alias("value"),
        )
        for priority, cohort in enumerate(COHORTS)
    ]
    options.append(
        newcomers.select(
            "customer_id",
            pl.lit(len(COHORTS)).alias("priority"),
            pl.lit(POPULATION).alias("cohort"),
            pl.lit("all").alias("value"),
        )
    )
    popular = recommender.cohort_popular
    matched = pl.concat(options).join(popular, on=["cohort", "value"])
    best = matched.group_by("customer_id").agg(pl.col("priority").min())
    chosen = matched.join(best, on=["customer_id", "priority"])
    reason = (
        pl.when(pl.col("cohort") == POPULATION)
        .then(pl.lit("Popular with shoppers this month"))
        .otherwise(
            pl.format("Popular with households like yours ({})", pl.col("value"))
        )
    )
    return (
        lookup(chosen, recommender.products, "product_id")
        .filter(pl.col("product_name").is_not_null())
        .sort(["customer_id", "share", "product_id"], descending=[False, True, False])
        .group_by("customer_id", maintain_order=True)
        .head(k)
        .select(
            "customer_id",
            "product_id",
            "product_name",
            "category",
            pl.lit("discovery").alias("kind"),
            pl.col("share").alias("score"),
            reason.alias("reason"),
        )
    )
