"""Per-customer shopping metrics behind the customer profile, and their norms.

Every metric is computed for all customers of a frame at once. Thresholds
that say what is "high" (a bulk buyer, a loyal one, a premium shopper) are
quantiles of the same metric over the population, fitted once
(:class:`ProfileNorms`), so a single customer is judged against everyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from omnix.engine.features import lookup

__all__ = [
    "LIFESTYLE_PATTERNS",
    "ProfileNorms",
    "fit_profile_norms",
    "profile_metrics",
]

# Categories whose spend share marks a lifestyle, as regular expressions on the
# upper-cased category name (written for Complete Journey's names; a chain
# with another naming adapts these).
LIFESTYLE_PATTERNS = {
    "health-conscious": r"ORGANIC|NATURAL|VITAMIN|SALAD (MIX|BAR)|VEGETABLES|"
    r"TROPICAL FRUIT|STONE FRUIT|VALUE ADDED FRUIT",
    "convenience-seeker": r"FRZN (MEAT/MEAT DINNERS|BREAKFAST)|FROZEN PIZZA|HEAT/SERVE|"
    r"PREPARED|SANDWICHES|DELI SPECIALTIES|DINNER MXS",
    "home-cook": r"BAKING|FLOUR|SPICES|SHORTENING/OIL|^BEEF$|^PORK$|^CHICKEN",
    "pet-owner": r"CAT FOOD|CAT LITTER|DOG FOOD|PET CARE",
    "family-with-kids": r"BABY|DIAPER|INFANT",
}
# A lifestyle share must also exceed this floor, so that a population where
# most customers spend nothing on it does not tag anyone who spent a cent.
LIFESTYLE_FLOOR = 0.01
SEASONAL_MIN_TENURE_DAYS = 270
# With fewer distinct brands than this in the catalogue (Complete Journey only
# says "National" or "Private"), loyalty is measured on products instead.
MIN_BRANDS_FOR_LOYALTY = 10


@dataclass(frozen=True, eq=False)
class ProfileNorms:
    """Population thresholds for the profile rules (see docs/ANALYTICS.md)."""

    price_ranks: pl.DataFrame
    price_cuts: tuple[float, float]
    products_per_order_median: float
    visits_per_week_median: float
    loyalty_cut: float
    bulk_cut: float
    lifestyle_cuts: dict[str, float] = field(default_factory=dict)
    loyalty_on_brand: bool = False


def _price_ranks(prepared: pl.DataFrame) -> pl.DataFrame:
    """Each product's median unit price as a percentile within its category."""
    prices = prepared.group_by("product_id").agg(
        pl.col("category").first(), pl.col("price").median().alias("unit_price")
    )
    return prices.select(
        "product_id",
        (
            (pl.col("unit_price").rank("average").over("category") - 1.0)
            / (pl.len().over("category") - 1.0).clip(lower_bound=1.0)
        )
        .fill_nan(0.5)
        .alias("price_rank"),
    ).with_columns(
        pl.when(pl.col("price_rank").is_null())
        .then(0.5)
        .otherwise(pl.col("price_rank"))
        .alias("price_rank")
    )


def profile_metrics(
    prepared: pl.DataFrame, price_ranks: pl.DataFrame, loyalty_on_brand: bool
) -> pl.DataFrame:
    """One row of shopping metrics per customer in ``prepared``.

    Columns: customer_id, orders, spend, average_order_value,
    preferred_categories (top three by spend), shopping_days,
    median_gap_days, gap_variation, visits_per_week, price_index,
    products_per_order, loyalty_index, busiest_quarter_share, tenure_days,
    units_per_line and one ``share_<lifestyle>`` per lifestyle pattern.
    """
    # One lazy query: a customer's profile is a dozen small aggregations, and
    # planning them together costs less than running them one by one.
    priced = lookup(prepared, price_ranks, "product_id").lazy()
    lazy = prepared.lazy()
    orders = lazy.group_by("customer_id", "order_id").agg(
        pl.col("value").sum(), pl.col("product_id").n_unique().alias("products")
    )
    per_order = orders.group_by("customer_id").agg(
        pl.len().alias("orders"),
        pl.col("value").sum().alias("spend"),
        pl.col("value").mean().alias("average_order_value"),
        pl.col("products").mean().alias("products_per_order"),
    )
    days = lazy.select("customer_id", "day").unique().sort("customer_id", "day")
    gaps = days.with_columns(
        pl.col("day").diff().over("customer_id").dt.total_days().alias("gap")
    )
    rhythm = (
        gaps.group_by("customer_id")
        .agg(
            pl.len().alias("shopping_days"),
            pl.col("gap").median().alias("median_gap_days"),
            (pl.col("gap").std() / pl.col("gap").mean()).alias("gap_variation"),
            ((pl.col("day").max() - pl.col("day").min()).dt.total_days() + 1).alias(
                "tenure_days"
            ),
        )
        .with_columns(
            (
                pl.col("shopping_days")
                * 7.0
                / pl.col("tenure_days").clip(lower_bound=7)
            ).alias("visits_per_week")
        )
    )
    categories = (
        lazy.group_by("customer_id", "category")
        .agg(pl.col("value").sum())
        .sort(["customer_id", "value", "category"], descending=[False, True, False])
        .group_by("customer_id", maintain_order=True)
        .agg(pl.col("category").head(3).alias("preferred_categories"))
    )
    lines = priced.group_by("customer_id").agg(
        (
            (pl.col("price_rank").fill_null(0.5) * pl.col("value")).sum()
            / pl.col("value").sum().clip(lower_bound=1e-9)
        ).alias("price_index"),
        pl.col("quantity").mean().alias("units_per_line"),
        *(
            (
                pl.col("value")
                .filter(pl.col("category").str.to_uppercase().str.contains(pattern))
                .sum()
                / pl.col("value").sum().clip(lower_bound=1e-9)
            ).alias(f"share_{tag}")
            for tag, pattern in LIFESTYLE_PATTERNS.items()
        ),
    )
    return (
        per_order.join(rhythm, on="customer_id", how="left")
        .join(categories, on="customer_id", how="left")
        .join(lines, on="customer_id", how="left")
        .join(_loyalty(lazy, loyalty_on_brand), on="customer_id", how="left")
        .join(_busiest_quarter(lazy), on="customer_id", how="left")
        .with_columns(
            pl.col("gap_variation").fill_null(0.0).fill_nan(0.0),
            pl.col("loyalty_index").fill_null(0.0),
        )
        .sort("customer_id")
        .collect()
    )


def _loyalty(prepared: pl.LazyFrame, on_brand: bool) -> pl.LazyFrame:
    """Mean over repeat categories of the top choice's share of purchase days."""
    choice = (
        pl.col("brand").fill_null(pl.col("product_id"))
        if on_brand
        else pl.col("product_id")
    )
    days = prepared.select("customer_id", "category", "day", choice.alias("choice"))
    per_choice = (
        days.unique()
        .group_by("customer_id", "category", "choice")
        .agg(pl.len().alias("days"))
    )
    per_category = (
        days.select("customer_id", "category", "day")
        .unique()
        .group_by("customer_id", "category")
        .agg(pl.len().alias("category_days"))
    )
    top = per_choice.group_by("customer_id", "category").agg(pl.col("days").max())
    return (
        top.join(per_category, on=["customer_id", "category"])
        .filter(pl.col("category_days") >= 3)
        .group_by("customer_id")
        .agg((pl.col("days") / pl.col("category_days")).mean().alias("loyalty_index"))
    )


def _busiest_quarter(prepared: pl.LazyFrame) -> pl.LazyFrame:
    """Share of spend in the customer's busiest three consecutive months."""
    month = pl.col("day").dt.year().cast(pl.Int32) * 12 + pl.col("day").dt.month()
    monthly = prepared.group_by("customer_id", month.alias("month")).agg(
        pl.col("value").sum()
    )
    windows = monthly.with_columns(
        pl.concat_list(pl.col("month"), pl.col("month") - 1, pl.col("month") - 2).alias(
            "window"
        )
    ).explode("window")
    by_window = windows.group_by("customer_id", "window").agg(pl.col("value").sum())
    total = monthly.group_by("customer_id").agg(pl.col("value").sum().alias("total"))
    return (
        by_window.group_by("customer_id")
        .agg(pl.col("value").max())
        .join(total, on="customer_id")
        .select(
            "customer_id",
            (pl.col("value") / pl.col("total").clip(lower_bound=1e-9)).alias(
                "busiest_quarter_share"
            ),
        )
    )


def _quantile(metrics: pl.DataFrame, column: str, q: float, default: float) -> float:
    values = metrics[column].drop_nulls().drop_nans().to_numpy()
    return float(np.quantile(values, q)) if values.size else default


def fit_profile_norms(
    prepared: pl.DataFrame, catalogue: pl.DataFrame | None = None
) -> ProfileNorms:
    """Population thresholds from every customer's metrics."""
    brands = (
        catalogue
        if catalogue is not None and "brand" in catalogue.columns
        else prepared
    )
    loyalty_on_brand = brands["brand"].n_unique() >= MIN_BRANDS_FOR_LOYALTY
    ranks = _price_ranks(prepared)
    metrics = profile_metrics(prepared, ranks, loyalty_on_brand)
    return ProfileNorms(
        price_ranks=ranks,
        price_cuts=(
            _quantile(metrics, "price_index", 1 / 3, 0.4),
            _quantile(metrics, "price_index", 2 / 3, 0.6),
        ),
        products_per_order_median=_quantile(metrics, "products_per_order", 0.5, 10.0),
        visits_per_week_median=_quantile(metrics, "visits_per_week", 0.5, 1.0),
        loyalty_cut=_quantile(metrics, "loyalty_index", 0.75, 0.8),
        bulk_cut=_quantile(metrics, "units_per_line", 0.8, 2.0),
        lifestyle_cuts={
            tag: max(_quantile(metrics, f"share_{tag}", 0.75, 0.0), LIFESTYLE_FLOOR)
            for tag in LIFESTYLE_PATTERNS
        },
        loyalty_on_brand=loyalty_on_brand,
    )
