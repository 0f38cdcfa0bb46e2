"""The interval baseline's customer profile: fixed rules, no learned norms.

The full engine judges a household against population quantiles and learns
its demographics from declared ones; this profile applies fixed thresholds
to the household's own figures, so the two disagree where the population
matters:

* ``shopping_frequency``: from the median gap between shopping days, daily up
  to 1.5 days, weekly up to 10, monthly up to 45, irregular beyond or with
  fewer than three shopping days.
* ``price_preference``: the spend-weighted price rank of the products bought
  within their categories (0 = cheapest, 1 = dearest, the store's median
  unit prices): below 0.4 budget, above 0.6 premium.
* ``planned_shopper``: at least 10 distinct products per order and at most
  1.5 shopping days a week.
* ``brand_loyal``: over categories bought on three days or more, the most
  bought product takes on average at least 60 % of the category's days.
* ``seasonal_shopper``: 270 days of history or more and at least half the
  spend in one stretch of three calendar months.
* ``bulk_buyer``: at least two units per line on average.
* demographics: what the household declared, otherwise the population's
  most common declared answer, with the share of households giving it as the
  confidence; no lifestyle tags.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from omnix.engine.demographics import income_level
from omnix.engine.population import PopulationModels
from omnix.engine.profile import (
    BehavioralInsights,
    CustomerProfile,
    DemographicEstimate,
    SpendingPatterns,
)

DAILY_GAP, WEEKLY_GAP, MONTHLY_GAP = 1.5, 10.0, 45.0
BUDGET_BELOW, PREMIUM_ABOVE = 0.4, 0.6
PLANNED_PRODUCTS, PLANNED_VISITS_PER_WEEK = 10.0, 1.5
LOYAL_SHARE = 0.6
SEASONAL_MIN_TENURE, SEASONAL_SHARE = 270, 0.5
BULK_UNITS = 2.0


def baseline_profile(
    prepared: pl.DataFrame,
    models: PopulationModels,
    customer_id: str,
    today: date,
    customer: pl.DataFrame | None,
) -> CustomerProfile:
    """The profile of one household from its prepared lines."""
    demographics = _demographics(models, customer)
    if prepared.height == 0:
        return CustomerProfile(
            customer_id=customer_id,
            spending_patterns=SpendingPatterns(0.0, (), "irregular", "mid-range"),
            behavioral_insights=BehavioralInsights(False, False, False, False),
            demographics=demographics,
            orders=0,
            insufficient_data=True,
        )
    orders = prepared.group_by("order_id").agg(
        pl.col("value").sum(), pl.col("product_id").n_unique().alias("products")
    )
    days = prepared["day"].unique().sort()
    gaps = days.diff().dt.total_days().drop_nulls()
    span_days = max((today - days[0]).days, 7)
    visits_per_week = days.len() * 7.0 / span_days
    categories = (
        prepared.group_by("category")
        .agg(pl.col("value").sum())
        .sort(["value", "category"], descending=[True, False])
    )
    spending = SpendingPatterns(
        average_order_value=round(_number(orders["value"].mean()), 2),
        preferred_categories=tuple(categories["category"].head(3).to_list()),
        shopping_frequency=_frequency(days.len(), gaps),
        price_preference=_price_preference(prepared, models),
    )
    behaviour = BehavioralInsights(
        planned_shopper=_number(orders["products"].mean()) >= PLANNED_PRODUCTS
        and visits_per_week <= PLANNED_VISITS_PER_WEEK,
        brand_loyal=_loyalty(prepared) >= LOYAL_SHARE,
        seasonal_shopper=(today - days[0]).days >= SEASONAL_MIN_TENURE
        and _busiest_quarter_share(prepared) >= SEASONAL_SHARE,
        bulk_buyer=_number(prepared["quantity"].mean()) >= BULK_UNITS,
    )
    return CustomerProfile(
        customer_id=customer_id,
        spending_patterns=spending,
        behavioral_insights=behaviour,
        demographics=demographics,
        orders=orders.height,
        insufficient_data=False,
    )


def _number(value: object) -> float:
    """A polars aggregate as a float; None (an empty column) reads as 0."""
    return float(value) if isinstance(value, int | float) else 0.0


def _frequency(shopping_days: int, gaps: pl.Series) -> str:
    if shopping_days < 3 or gaps.len() == 0:
        return "irregular"
    median = _number(gaps.median())
    if median <= DAILY_GAP:
        return "daily"
    if median <= WEEKLY_GAP:
        return "weekly"
    return "monthly" if median <= MONTHLY_GAP else "irregular"


def _price_preference(prepared: pl.DataFrame, models: PopulationModels) -> str:
    ranks = models.profile_norms.price_ranks
    priced = prepared.select("product_id", "value").join(
        ranks, on="product_id", how="left"
    )
    total = float(priced["value"].sum())
    if total <= 0:
        return "mid-range"
    weighted = (priced["price_rank"].fill_null(0.5) * priced["value"]).sum()
    index = _number(weighted) / total
    if index < BUDGET_BELOW:
        return "budget"
    return "premium" if index > PREMIUM_ABOVE else "mid-range"


def _loyalty(prepared: pl.DataFrame) -> float:
    days = prepared.select("category", "product_id", "day").unique()
    per_category = (
        days.select("category", "day")
        .unique()
        .group_by("category")
        .agg(pl.len().alias("category_days"))
        .filter(pl.col("category_days") >= 3)
    )
    top = days.group_by("category", "product_id").agg(pl.len().alias("days"))
    top = top.group_by("category").agg(pl.col("days").max())
    shares = top.join(per_category, on="category").select(
        pl.col("days") / pl.col("category_days")
    )
    return _number(shares.to_series().mean()) if shares.height else 0.0


def _busiest_quarter_share(prepared: pl.DataFrame) -> float:
    month = pl.col("day").dt.year().cast(pl.Int32) * 12 + pl.col("day").dt.month()
    monthly = prepared.group_by(month.alias("month")).agg(pl.col("value").sum())
    total = float(monthly["value"].sum())
    if total <= 0:
        return 0.0
    spend = dict(
        zip(monthly["month"].to_list(), monthly["value"].to_list(), strict=True)
    )
    best = max(
        sum(spend.get(start + offset, 0.0) for offset in range(3)) for start in spend
    )
    return float(best) / total


def _demographics(
    models: PopulationModels, customer: pl.DataFrame | None
) -> DemographicEstimate:
    declared: dict[str, object] = {}
    if customer is not None and customer.height:
        declared = customer.row(0, named=True)
    picked: dict[str, tuple[str, float, str]] = {}
    for model in models.demographics.attributes:
        value = declared.get(model.attribute)
        if model.attribute == "income_level" and value is not None:
            value = income_level(str(value))
        if value is not None:
            picked[model.attribute] = (str(value), 1.0, "declared")
        else:
            picked[model.attribute] = (model.mode, model.mode_share, "population_mode")
    age = picked.get("age_group", ("unknown", 0.0, "population_mode"))
    income = picked.get("income_level", ("unknown", 0.0, "population_mode"))
    size = picked.get("household_size", ("unknown", 0.0, "population_mode"))
    digits = "".join(ch for ch in size[0] if ch.isdigit())
    return DemographicEstimate(
        estimated_age_group=age[0],
        estimated_income_level=income[0],
        family_size=int(digits) if digits else 0,
        lifestyle=(),
        age_group_confidence=age[1],
        income_level_confidence=income[1],
        family_size_confidence=size[1],
        sources=tuple((name, source) for name, (_, _, source) in picked.items()),
    )
