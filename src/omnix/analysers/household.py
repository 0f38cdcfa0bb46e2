"""A household's ``CustomerFeatures``, computed from its lines and the engine.

Everything here is an aggregate of the household's own purchase lines, the
catalogue's names and categories, the store's product popularity and the
full engine's ranked recommendation candidates. The result goes through
``CustomerFeatures`` validation, which refuses personal data.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from omnix.analysers.features import (
    CandidateProduct,
    CategoryShare,
    CustomerFeatures,
    OrderValueStats,
    ProductRhythm,
)
from omnix.analysers.prompts import MAX_CANDIDATES_IN_PROMPT
from omnix.engine.features import (
    check_as_of,
    day_table,
    interval_table,
    local_day,
    lookup,
    prepare_lines,
)
from omnix.engine.population import PopulationModels
from omnix.engine.recommend import recommend

__all__ = ["household_features"]


def household_features(
    models: PopulationModels,
    lines: pl.DataFrame,
    customer_id: str,
    *,
    as_of: datetime,
    customer: pl.DataFrame | None = None,
    segment: str | None = None,
) -> CustomerFeatures:
    """What an LLM-backed analyser may send about one household.

    Parameters
    ----------
    models : PopulationModels
        The fitted population (catalogue, price ranks, recommender).
    lines : polars.DataFrame
        The household's purchase lines; other customers' are ignored.
    customer : polars.DataFrame, optional
        The household's customers-frame row, for its tenure (account opening).
    segment : str, optional
        The name of its current RFM segment.
    """
    clock = check_as_of(as_of)
    tz = models.tz
    today = local_day(clock, tz)
    own = lines.filter(pl.col("customer_id").cast(pl.Utf8) == customer_id)
    prepared = prepare_lines(own, clock, tz)
    wanted = pl.DataFrame({"customer_id": [customer_id]})
    candidates = recommend(
        models.recommender,
        prepared,
        clock,
        tz,
        k=MAX_CANDIDATES_IN_PROMPT,
        customers=customer if customer is not None and customer.height else wanted,
    )
    bought = set(prepared["product_id"].unique().to_list())
    tenure = _tenure_days(customer, prepared, today)
    if prepared.height == 0:
        return CustomerFeatures(
            as_of=today,
            segment=segment,
            tenure_days=tenure,
            order_count=0,
            distinct_purchase_days=0,
            candidates=_candidates(candidates, bought, models),
        )

    orders = prepared.group_by("order_id").agg(
        pl.col("value").sum(),
        pl.col("product_id").n_unique().alias("items"),
        pl.col("day").first(),
    )
    days = prepared["day"].unique().sort()
    values = orders["value"]
    return CustomerFeatures(
        as_of=today,
        segment=segment,
        tenure_days=tenure,
        order_count=orders.height,
        distinct_purchase_days=days.len(),
        days_since_last_order=(today - days[-1]).days,
        mean_days_between_orders=(
            (days[-1] - days[0]).days / (days.len() - 1) if days.len() > 1 else None
        ),
        order_value=OrderValueStats(
            mean=_money(values.mean()),
            median=_money(values.median()),
            p90=_money(values.quantile(0.9)),
            std=_money(values.std()) if values.len() > 1 else None,
        ),
        mean_items_per_order=round(float(orders["items"].mean() or 0.0), 2),  # type: ignore[arg-type]
        mean_units_per_line=round(float(prepared["quantity"].mean() or 0.0), 2),  # type: ignore[arg-type]
        top_brand_share=_top_brand_share(prepared),
        price_percentile=_price_percentile(prepared, models),
        monthly_spend_cv=_monthly_spend_cv(prepared),
        weekday_concentration=_weekday_concentration(orders),
        category_shares=_category_shares(prepared),
        product_rhythms=_rhythms(prepared, today, models),
        candidates=_candidates(candidates, bought, models),
    )


def _money(value: object) -> float:
    return round(float(value), 2) if isinstance(value, int | float) else 0.0


def _tenure_days(
    customer: pl.DataFrame | None, prepared: pl.DataFrame, today: object
) -> int:
    first: object = None
    if customer is not None and customer.height and "created_at" in customer.columns:
        opened = customer["created_at"][0]
        if isinstance(opened, datetime):
            first = opened.date()
    if first is None and prepared.height:
        first = prepared["day"].min()
    if first is None:
        return 0
    return max(0, (today - first).days)  # type: ignore[operator]


def _top_brand_share(prepared: pl.DataFrame) -> float | None:
    branded = prepared.filter(pl.col("brand").is_not_null())
    total = float(branded["value"].sum())
    if total <= 0:
        return None
    by_brand = branded.group_by("brand").agg(pl.col("value").sum())
    return round(float(by_brand["value"].max()) / total, 4)  # type: ignore[arg-type]


def _price_percentile(prepared: pl.DataFrame, models: PopulationModels) -> float:
    priced = prepared.select("product_id", "value").join(
        models.profile_norms.price_ranks, on="product_id", how="left"
    )
    total = float(priced["value"].sum())
    if total <= 0:
        return 0.5
    weighted = (priced["price_rank"].fill_null(0.5) * priced["value"]).sum()
    return round(min(1.0, max(0.0, float(weighted) / total)), 4)


def _monthly_spend_cv(prepared: pl.DataFrame) -> float | None:
    """Spread of spend over the calendar months from the first to the last."""
    month = pl.col("day").dt.year().cast(pl.Int32) * 12 + pl.col("day").dt.month()
    monthly = prepared.group_by(month.alias("month")).agg(pl.col("value").sum())
    first, last = int(monthly["month"].min()), int(monthly["month"].max())  # type: ignore[arg-type]
    if last - first < 2:
        return None
    spend = dict(
        zip(monthly["month"].to_list(), monthly["value"].to_list(), strict=True)
    )
    series = pl.Series([float(spend.get(m, 0.0)) for m in range(first, last + 1)])
    mean = float(series.mean())  # type: ignore[arg-type]
    return round(float(series.std()) / mean, 4) if mean > 0 else None  # type: ignore[arg-type]


def _weekday_concentration(orders: pl.DataFrame) -> float:
    weekdays = orders["day"].dt.weekday().value_counts()
    return round(float(weekdays["count"].max()) / orders.height, 4)  # type: ignore[arg-type]


def _category_shares(prepared: pl.DataFrame) -> list[CategoryShare]:
    total = float(prepared["value"].sum())
    table = (
        prepared.group_by("category")
        .agg(pl.col("value").sum(), pl.col("day").n_unique().alias("days"))
        .sort(["value", "category"], descending=[True, False])
    )
    return [
        CategoryShare(
            category=row["category"],
            spend_share=round(row["value"] / total, 4) if total > 0 else 0.0,
            distinct_purchase_days=row["days"],
        )
        for row in table.iter_rows(named=True)
    ]


def _rhythms(
    prepared: pl.DataFrame, today: object, models: PopulationModels
) -> list[ProductRhythm]:
    table = interval_table(
        day_table(prepared, "product_id"),
        "product_id",
        today,  # type: ignore[arg-type]
        extra=(pl.col("quantity").mean().alias("mean_quantity"),),
    )
    names = models.catalogue.select(
        pl.col("product_id").cast(pl.Utf8),
        pl.col("name").alias("product_name"),
        pl.col("category"),
    )
    table = lookup(table, names, "product_id").sort(
        ["n_days", "product_id"], descending=[True, False]
    )
    return [
        ProductRhythm(
            product_id=row["product_id"],
            product_name=row["product_name"],
            category=row["category"],
            distinct_purchase_days=row["n_days"],
            last_purchase_date=row["last_day"],
            mean_interval_days=_days(row["mean_interval"]),
            median_interval_days=_days(row["median_interval"]),
            interval_std_days=_days(row["std_interval"]),
            mean_quantity=round(row["mean_quantity"], 2)
            if row["mean_quantity"]
            else None,
        )
        for row in table.iter_rows(named=True)
    ]


def _days(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


def _candidates(
    ranked: pl.DataFrame, bought: set[str], models: PopulationModels
) -> list[CandidateProduct]:
    """The full engine's ranking, with the store's order share as popularity."""
    shares = models.recommender.stats.select("product_id", "order_share")
    table = lookup(ranked, shares, "product_id")
    return [
        CandidateProduct(
            product_id=row["product_id"],
            product_name=row["product_name"],
            category=row["category"],
            previously_bought=row["product_id"] in bought,
            popularity=round(min(1.0, row["order_share"]), 4)
            if row["order_share"] is not None
            else None,
        )
        for row in table.iter_rows(named=True)
    ]
