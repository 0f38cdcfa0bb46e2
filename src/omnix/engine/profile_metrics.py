"""Per-customer shopping metrics behind the customer profile, and their norms.

Every metric is computed for all customers of a frame at once. Thresholds
that say what is "high" (a bulk buyer, a loyal one, a premium shopper) are
quantiles of the same metric over the population, fitted once
(:class:`ProfileNorms`), so a single customer is judged against everyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from omnix.engine.baskets import baskets_of
from omnix.engine.keys import (
    IntArray,
    column_codes,
    dense_codes,
    derived,
    distinct_sorted,
    grouped,
    lexsort,
    positions,
    rank_within,
    take,
)
from omnix.engine.rhythm import PurchaseDays, group_median, purchase_days

FloatArray = npt.NDArray[np.float64]

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


_EMPTY = pl.DataFrame(
    schema={
        "customer_id": pl.Utf8,
        "orders": pl.UInt32,
        "spend": pl.Float64,
        "average_order_value": pl.Float64,
        "products_per_order": pl.Float64,
        "shopping_days": pl.UInt32,
        "median_gap_days": pl.Float64,
        "gap_variation": pl.Float64,
        "tenure_days": pl.Int64,
        "visits_per_week": pl.Float64,
        "preferred_categories": pl.List(pl.Utf8),
        "price_index": pl.Float64,
        "units_per_line": pl.Float64,
        **{f"share_{tag}": pl.Float64 for tag in LIFESTYLE_PATTERNS},
        "loyalty_index": pl.Float64,
        "busiest_quarter_share": pl.Float64,
    }
)


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
    """Each product's median unit price as a percentile within its category.

    Ties share their average rank; a category of one product ranks it 0.
    """
    product, ids = column_codes(prepared, "product_id")
    category, _ = column_codes(prepared, "category")
    products = ids.len()
    first_line = np.full(products, product.size, np.int64)
    np.minimum.at(first_line, product, np.arange(product.size))
    in_category = category[first_line]
    price = group_median(product, prepared.get_column("price").to_numpy(), products)
    order = lexsort(in_category, price)
    grouping, ordered_price = in_category[order], price[order]
    position = rank_within(grouping)
    # Runs of equal prices within a category share the average position.
    new_run = np.ones(order.size, bool)
    new_run[1:] = (np.diff(grouping) != 0) | (np.diff(ordered_price) != 0)
    run = np.cumsum(new_run) - 1
    run_first = position[new_run]
    run_last = np.append(position[np.flatnonzero(new_run)[1:] - 1], position[-1:])
    average = (run_first[run] + run_last[run]) / 2.0
    size = np.bincount(grouping, minlength=int(grouping.max()) + 1 if order.size else 0)
    rank = np.empty(products)
    rank[order] = average / np.maximum(size[grouping] - 1.0, 1.0)
    rank[np.isnan(price)] = 0.5
    return pl.DataFrame({"product_id": ids, "price_rank": rank})


def _per_customer(index: IntArray, customers: int, weights: FloatArray) -> FloatArray:
    return np.asarray(np.bincount(index, weights, minlength=customers), np.float64)


def _rhythm(days: PurchaseDays, customers: int) -> dict[str, npt.NDArray[Any]]:
    """Shopping days, gaps between them, tenure and visits per week."""
    customer, day = days.visits
    shopping = np.bincount(customer, minlength=customers)
    same = np.diff(customer) == 0
    gap_of, gap = customer[1:][same], np.diff(day)[same].astype(np.float64)
    count = np.bincount(gap_of, minlength=customers)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = _per_customer(gap_of, customers, gap) / count
        spread = _per_customer(gap_of, customers, (gap - mean[gap_of]) ** 2)
        std = np.where(count >= 2, np.sqrt(spread / (count - 1)), np.nan)
        variation = np.nan_to_num(std / mean, nan=0.0)
    starts = np.flatnonzero(np.diff(customer, prepend=-1))
    ends = np.append(starts[1:], customer.size) - 1
    tenure = np.zeros(customers, np.int64)
    tenure[customer[starts]] = day[ends] - day[starts] + 1
    return {
        "shopping_days": shopping,
        "median_gap_days": group_median(gap_of, gap, customers),
        "gap_variation": variation,
        "tenure_days": tenure,
        "visits_per_week": shopping * 7.0 / np.maximum(tenure, 7),
    }


def _preferred(
    customer: IntArray, category: IntArray, names: pl.Series, value: FloatArray,
    customers: int,
) -> list[list[str]]:  # fmt: skip
    """The three categories with the most spend, per customer."""
    span = max(names.len(), 1)
    keys, group = grouped(customer * span + category)
    spend = np.bincount(group, value, minlength=keys.size)
    owner, kind = keys // span, keys % span
    order = lexsort(owner, -spend, kind)
    top = order[rank_within(owner[order]) < 3]
    preferred: list[list[str]] = [[] for _ in range(customers)]
    tops = zip(owner[top].tolist(), take(names, kind[top]).to_list(), strict=True)
    for who, name in tops:
        preferred[who].append(name)
    return preferred


# Lifestyle patterns matched per category name, once per process: the
# catalogue's few hundred names recur in every customer's profile.
_LIFESTYLES: dict[str, tuple[bool, ...]] = {}


def _lifestyle_matches(names: pl.Series) -> npt.NDArray[np.bool_]:
    """Per category name, whether each lifestyle pattern matches it."""
    new = [name for name in names.to_list() if name not in _LIFESTYLES]
    if new:
        upper = pl.Series(new, dtype=pl.Utf8).str.to_uppercase()
        found = [upper.str.contains(p).to_list() for p in LIFESTYLE_PATTERNS.values()]
        for name, flags in zip(new, zip(*found, strict=True), strict=True):
            _LIFESTYLES[name] = tuple(bool(flag) for flag in flags)
    return np.array([_LIFESTYLES[name] for name in names.to_list()], bool).reshape(
        names.len(), len(LIFESTYLE_PATTERNS)
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
    if prepared.height == 0:
        return _EMPTY.clear()
    customer, ids = column_codes(prepared, "customer_id")
    customers = ids.len()
    category, names = column_codes(prepared, "category")
    product, products = column_codes(prepared, "product_id")
    value = prepared.get_column("value").to_numpy()
    quantity = prepared.get_column("quantity").to_numpy()
    baskets = derived(prepared, "baskets", baskets_of)
    days = derived(
        prepared, "days:product_id", lambda f: purchase_days(f, "product_id")
    )
    lines = np.bincount(customer, minlength=customers)
    spend = _per_customer(customer, customers, value)
    orders = np.bincount(baskets.order_customer, minlength=customers)
    items = np.bincount(baskets.order_customer[baskets.item_order], minlength=customers)
    rank = positions(price_ranks, "product_id", products)
    known = rank >= 0
    product_rank = np.where(
        known, price_ranks.get_column("price_rank").to_numpy()[np.maximum(rank, 0)], 0.5
    )
    price_weighted = _per_customer(customer, customers, product_rank[product] * value)
    spent = np.maximum(spend, 1e-9)
    columns: dict[str, Any] = {
        "customer_id": ids,
        "orders": pl.Series(orders, dtype=pl.UInt32),
        "spend": spend,
        "average_order_value": spend / np.maximum(orders, 1),
        "products_per_order": items / np.maximum(orders, 1),
        **_rhythm(days, customers),
        "preferred_categories": pl.Series(
            _preferred(customer, category, names, value, customers),
            dtype=pl.List(pl.Utf8),
        ),
        "price_index": price_weighted / spent,
        "units_per_line": _per_customer(customer, customers, quantity) / lines,
    }
    matches = _lifestyle_matches(names)
    for at, tag in enumerate(LIFESTYLE_PATTERNS):
        columns[f"share_{tag}"] = (
            _per_customer(customer, customers, value * matches[category, at]) / spent
        )
    columns["loyalty_index"] = _loyalty(prepared, customer, category, loyalty_on_brand)
    columns["busiest_quarter_share"] = (
        _busiest_quarter(prepared, customer, value) / spent
    )
    frame = pl.DataFrame(columns).with_columns(
        pl.col("median_gap_days").fill_nan(None),
        pl.col("shopping_days").cast(pl.UInt32),
    )
    return frame.select(_EMPTY.columns)


def _loyalty(
    prepared: pl.DataFrame, customer: IntArray, category: IntArray, on_brand: bool
) -> FloatArray:
    """Mean over repeat categories of the top choice's share of purchase days."""
    if on_brand:
        choice, _ = dense_codes(
            prepared.select(pl.col("brand").fill_null(pl.col("product_id"))).to_series()
        )
    else:
        choice, _ = column_codes(prepared, "product_id")
    day = prepared.get_column("day").cast(pl.Int32).to_numpy().astype(np.int64)
    span = int(day.max() - day.min()) + 1
    offset = day - day.min()
    categories = int(category.max()) + 1
    pairs, pair = grouped(customer * categories + category)
    choices = int(choice.max()) + 1
    # Distinct purchase days of each (customer, category, choice) and of each
    # (customer, category): sorted distinct keys, counted in runs.
    # One entry per distinct (pair, choice, day), holding the (pair, choice).
    choice_day = _distinct((pair * choices + choice) * span + offset) // span
    run = np.flatnonzero(np.diff(choice_day, prepend=-1))
    days_of_choice = np.diff(np.append(run, choice_day.size))
    pair_of_choice = choice_day[run] // choices
    category_days = np.bincount(
        _distinct(pair * span + offset) // span, minlength=pairs.size
    )
    best = np.zeros(pairs.size, np.int64)
    # Runs are sorted by pair: the largest run of each pair.
    first = np.flatnonzero(np.diff(pair_of_choice, prepend=-1))
    best[pair_of_choice[first]] = np.maximum.reduceat(days_of_choice, first)
    repeat = category_days >= 3
    owner = pairs // categories
    customers = int(customer.max()) + 1
    total = np.bincount(owner[repeat], best[repeat] / category_days[repeat], customers)
    counted = np.bincount(owner[repeat], minlength=customers)
    return np.where(counted > 0, total / np.maximum(counted, 1), 0.0)


def _distinct(key: IntArray) -> IntArray:
    """The distinct keys, ascending (a hash set, then a sort of what is left)."""
    if key.size < 20_000:
        return distinct_sorted(key)
    return np.sort(pl.Series(key).unique().to_numpy()).astype(np.int64)


def _busiest_quarter(
    prepared: pl.DataFrame, customer: IntArray, value: FloatArray
) -> FloatArray:
    """Spend in the customer's busiest three consecutive months."""
    day = prepared.get_column("day").cast(pl.Int32).to_numpy()
    month = day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    month = month - month.min()
    span = int(month.max()) + 3
    keys, group = grouped(customer * span + month)
    monthly = np.concatenate(([0.0], np.cumsum(np.bincount(group, value))))
    # A window of three months holding the most spend can start on a month
    # with spend: each such month sums itself and the two after it.
    window = (
        monthly[np.searchsorted(keys, keys + 2, side="right")]
        - monthly[np.arange(keys.size)]
    )
    best = np.zeros(int(customer.max()) + 1)
    np.maximum.at(best, keys // span, window)
    return best


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
