"""Features of a (customer, product) pair for the replenishment scorer.

Everything is computed from the distinct purchase days
(:func:`omnix.engine.features.day_table`) before a cut-off day, for the whole
population at once or for one customer: the pair's rhythm (count, elapsed
time, the log-normal parameters and outlook of
:mod:`omnix.engine.consumption`, the empirical share of past intervals that
ended inside the horizon given the time already elapsed), the household's
shopping frequency and recent visits, and the product's repeat share among
its buyers in the population.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import polars as pl

from omnix.engine.consumption import interval_parameters, lognormal_outlook
from omnix.engine.features import float_columns, interval_table, lookup

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "FEATURE_NAMES",
    "design_matrix",
    "pair_table",
    "product_rates",
    "visit_table",
]

FEATURE_NAMES = (
    "log_purchase_days",
    "log_elapsed",
    "has_interval",
    "log_typical_interval",
    "log_elapsed_over_interval",
    "log_horizon_end_over_interval",
    "interval_spread",
    "lognormal_probability",
    "empirical_probability",
    "log_longer_intervals",
    "log_pair_tenure",
    "log_household_visit_rate",
    "log_share_of_visits",
    "log_household_elapsed",
    "log_recent_purchase_days",
    "log_expected_purchases",
    "product_repeat_share",
    "log_product_buyers",
    "household_recent_visits",
    "log_horizon",
    "interval_variation",
)
# Prior weight (in buyers) pulling a product's repeat share to the population's.
_REPEAT_PRIOR = 5.0


def product_rates(pairs: pl.DataFrame) -> tuple[pl.DataFrame, float]:
    """Share of each product's buyers who bought it on two days or more."""
    repeat = (pl.col("n_days") >= 2).cast(pl.Float64)
    overall = float(pairs.select(repeat.mean()).item() or 0.0)
    rates = pairs.group_by("product_id").agg(
        pl.len().alias("product_buyers"), repeat.sum().alias("repeaters")
    )
    rates = rates.select(
        "product_id",
        "product_buyers",
        (
            (pl.col("repeaters") + _REPEAT_PRIOR * overall)
            / (pl.col("product_buyers") + _REPEAT_PRIOR)
        ).alias("product_repeat_share"),
    )
    return rates, overall


def visit_table(days: pl.DataFrame, as_of_day: date) -> pl.DataFrame:
    """Per customer, from purchase days: visits, visit rate, recent visits."""
    recent_from = as_of_day - timedelta(days=28)
    visits = days.select("customer_id", "day").unique()
    table = visits.group_by("customer_id").agg(
        pl.len().alias("shopping_days"),
        pl.col("day").min().alias("first_visit"),
        pl.col("day").max().alias("last_visit"),
        (pl.col("day") >= recent_from).sum().alias("recent_days_28"),
    )
    span = (
        (pl.lit(as_of_day) - pl.col("first_visit")).dt.total_days().clip(lower_bound=1)
    )
    return table.select(
        "customer_id",
        "shopping_days",
        (pl.col("shopping_days") / span).alias("visit_rate"),
        (pl.lit(as_of_day) - pl.col("last_visit"))
        .dt.total_days()
        .alias("household_elapsed"),
        "recent_days_28",
    )


def pair_table(
    days: pl.DataFrame, as_of_day: date, horizons: Sequence[int]
) -> pl.DataFrame:
    """Interval statistics, log-normal parameters and household columns.

    ``days`` is a product-level :func:`~omnix.engine.features.day_table`
    holding only days before ``as_of_day``.
    """
    recent_from = as_of_day - timedelta(days=56)
    longer = pl.col("interval") > pl.col("elapsed")
    extra = [
        longer.sum().alias("longer_intervals"),
        (pl.col("day") >= recent_from).sum().alias("recent_purchase_days"),
        *(
            (longer & (pl.col("interval") <= pl.col("elapsed") + h))
            .sum()
            .alias(f"ended_within_{h}")
            for h in horizons
        ),
    ]
    pairs = interval_parameters(interval_table(days, "product_id", as_of_day, extra))
    return pairs.join(
        visit_table(days, as_of_day), on="customer_id", how="left"
    ).with_columns(
        (pl.lit(as_of_day) - pl.col("first_day")).dt.total_days().alias("pair_tenure")
    )


def design_matrix(
    table: pl.DataFrame,
    horizon: int,
    rates: pl.DataFrame,
    overall: float,
) -> tuple[pl.DataFrame, FloatArray]:
    """The feature matrix (columns as :data:`FEATURE_NAMES`) for one horizon."""
    table = lookup(table, rates, "product_id").with_columns(
        pl.col("product_repeat_share").fill_null(overall),
        pl.col("product_buyers").fill_null(0),
    )

    col = float_columns(table).__getitem__

    n_days, elapsed, mu, sigma = (
        col("n_days"),
        col("elapsed_days"),
        col("mu"),
        col("sigma_predictive"),
    )
    _, lognormal_p, _ = lognormal_outlook(mu, sigma, elapsed, float(horizon))
    longer = col("longer_intervals")
    ended = col(f"ended_within_{horizon}")
    has_interval = (n_days >= 2).astype(np.float64)
    share = n_days / np.maximum(col("shopping_days"), 1.0)
    visit_rate = np.maximum(col("visit_rate"), 1e-3)
    mean = col("mean_interval")
    variation = np.where(mean > 0, col("std_interval") / np.maximum(mean, 1e-9), 0.0)
    matrix = np.column_stack(
        [
            np.log1p(n_days),
            np.log1p(elapsed),
            has_interval,
            mu,
            np.log((elapsed + 1.0) / np.exp(mu)),
            np.log((elapsed + horizon) / np.exp(mu)),
            sigma,
            lognormal_p,
            (ended + 1.0) / (longer + 2.0),
            np.log1p(longer),
            np.log1p(col("pair_tenure")),
            np.log(visit_rate),
            np.log(np.maximum(share, 1e-4)),
            np.log1p(col("household_elapsed")),
            np.log1p(col("recent_purchase_days")),
            np.log(share * visit_rate * horizon + 1e-3),
            col("product_repeat_share"),
            np.log1p(col("product_buyers")),
            col("recent_days_28") / 28.0,
            np.full(n_days.size, np.log(horizon)),
            variation,
        ]
    )
    return table, matrix
