"""Features of a (customer, product) pair for the replenishment scorer.

Everything is computed from the distinct purchase days
(:class:`omnix.engine.rhythm.PurchaseDays`) before a cut-off day, for the
whole population at once or for one customer: the pair's rhythm (count,
elapsed time, the log-normal parameters and outlook of
:mod:`omnix.engine.consumption`, the empirical share of past intervals that
ended inside the horizon given the time already elapsed), the household's
shopping frequency and recent visits, and the product's repeat share among
its buyers in the population. Training evaluates the same arrays at several
cut-offs, so nothing here groups lines again.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from omnix.engine.consumption import lognormal_outlook, lognormal_parameters
from omnix.engine.rhythm import (
    Columns,
    PurchaseDays,
    ended_within,
    rhythm_at,
    visits_at,
)

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "FEATURE_NAMES",
    "ProductRates",
    "design_matrix",
    "pair_features",
    "product_rates",
    "scoring_features",
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


class ProductRates:
    """Per product (by key code): buyers and repeat share, and the overall share."""

    def __init__(self, buyers: npt.NDArray[np.int64], repeaters: FloatArray) -> None:
        total = float(buyers.sum())
        self.overall = float(repeaters.sum() / total) if total else 0.0
        self.buyers = buyers
        self.repeat_share = (repeaters + _REPEAT_PRIOR * self.overall) / (
            buyers + _REPEAT_PRIOR
        )


def product_rates(days: PurchaseDays, table: Columns) -> ProductRates:
    """Share of each product's buyers who bought it on two days or more."""
    key = days.pair_key[table["pair"]]
    repeat = (table["n_days"] >= 2).astype(np.float64)
    keys = days.keys.len()
    return ProductRates(
        np.bincount(key, minlength=keys),
        np.asarray(np.bincount(key, repeat, minlength=keys), np.float64),
    )


def pair_features(
    days: PurchaseDays,
    as_of_day: int,
    horizons: Sequence[int],
    *,
    before: int | None = None,
) -> Columns:
    """Interval statistics, log-normal parameters and household columns.

    Pairs with a purchase day before ``before`` (default: all days), with
    elapsed times counted to ``as_of_day``.
    """
    table = lognormal_parameters(
        rhythm_at(days, as_of_day, before=before, horizons=horizons),
        days,
    )
    return _with_households(table, days, as_of_day, before)


def _with_households(
    table: Columns, days: PurchaseDays, as_of_day: int, before: int | None
) -> Columns:
    visits = visits_at(days, as_of_day, before)
    customer = days.pair_customer[table["pair"]]
    table["shopping_days"] = visits.shopping_days[customer]
    table["visit_rate"] = visits.visit_rate[customer]
    table["household_elapsed"] = visits.household_elapsed[customer]
    table["recent_days_28"] = visits.recent_days_28[customer]
    table["pair_tenure"] = as_of_day - table["first_day"]
    return table


def scoring_features(
    days: PurchaseDays, rhythm: Columns, as_of_day: int, horizon: int
) -> Columns:
    """:func:`pair_features` at the clock, from the shared statistics of
    :func:`omnix.engine.consumption.pair_rhythm`."""
    table = dict(rhythm)
    table[f"ended_within_{horizon}"] = ended_within(days, table, horizon)
    return _with_households(table, days, as_of_day, None)


def design_matrix(
    table: Columns,
    horizon: int,
    repeat_share: FloatArray,
    buyers: FloatArray,
) -> FloatArray:
    """The feature matrix (columns as :data:`FEATURE_NAMES`) for one horizon.

    ``repeat_share`` and ``buyers`` are the product's population figures,
    one per row of ``table``.
    """
    n_days = table["n_days"].astype(np.float64)
    elapsed = table["elapsed_days"].astype(np.float64)
    mu, sigma = table["mu"], table["sigma_predictive"]
    _, lognormal_p, _ = lognormal_outlook(mu, sigma, elapsed, float(horizon))
    longer = table["longer_intervals"].astype(np.float64)
    ended = table[f"ended_within_{horizon}"].astype(np.float64)
    has_interval = (n_days >= 2).astype(np.float64)
    share = n_days / np.maximum(table["shopping_days"], 1.0)
    visit_rate = np.maximum(table["visit_rate"], 1e-3)
    # A pair without intervals has no mean or spread: zero, as a null would be.
    mean = np.nan_to_num(table["mean_interval"])
    std = np.nan_to_num(table["std_interval"])
    variation = np.where(mean > 0, std / np.maximum(mean, 1e-9), 0.0)
    return np.column_stack(
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
            np.log1p(table["pair_tenure"]),
            np.log(visit_rate),
            np.log(np.maximum(share, 1e-4)),
            np.log1p(table["household_elapsed"]),
            np.log1p(table["recent_purchase_days"]),
            np.log(share * visit_rate * horizon + 1e-3),
            repeat_share,
            np.log1p(buyers),
            table["recent_days_28"] / 28.0,
            np.full(n_days.size, np.log(horizon)),
            variation,
        ]
    )
