"""Fit the population models once; analyse one customer cheaply.

The service (and the held-out evaluation) fits :class:`PopulationModels` on
the whole population's history at the clock, for instance in a nightly job,
and then answers each customer from that customer's own lines with
:func:`analyse_customer`, or with the individual engine functions, which
take the same population objects:

* :func:`omnix.engine.consumption.consumption_patterns`
* :func:`omnix.engine.replenishment.replenishment_alerts` (``models.replenishment``)
* :func:`omnix.engine.recommend.recommend` (``models.recommender``)
* :func:`omnix.engine.profile.customer_profiles` (``models.profile_norms``,
  ``models.demographics``)
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from omnix.engine.consumption import (
    ConsumptionPattern,
    consumption_patterns,
    patterns_of,
)
from omnix.engine.demographics import DemographicsModel, fit_demographics
from omnix.engine.features import PreparedLines, check_as_of, check_tz, prepare_lines
from omnix.engine.keys import column_codes
from omnix.engine.profile import CustomerProfile, customer_profiles
from omnix.engine.profile_metrics import ProfileNorms, fit_profile_norms
from omnix.engine.recommend import (
    Recommendation,
    Recommender,
    fit_recommender,
    recommend,
    recommendations_of,
)
from omnix.engine.recommend_fit import order_baskets
from omnix.engine.replenishment import (
    ReplenishmentAlert,
    ReplenishmentScorer,
    alerts_of,
    fit_replenishment_scorer,
    replenishment_alerts,
)
from omnix.engine.replenishment_fit import product_days

__all__ = [
    "CustomerAnalysis",
    "PopulationModels",
    "analyse_customer",
    "fit_population_models",
]


@dataclass(frozen=True, eq=False)
class PopulationModels:
    """Everything learned from the population at ``as_of``."""

    as_of: datetime
    tz: str
    catalogue: pl.DataFrame
    replenishment: ReplenishmentScorer
    recommender: Recommender
    demographics: DemographicsModel
    profile_norms: ProfileNorms


@dataclass(frozen=True)
class CustomerAnalysis:
    """The full analysis of one customer at ``as_of``."""

    customer_id: str
    as_of: datetime
    product_patterns: tuple[ConsumptionPattern, ...]
    category_patterns: tuple[ConsumptionPattern, ...]
    alerts: tuple[ReplenishmentAlert, ...]
    recommendations: tuple[Recommendation, ...]
    profile: CustomerProfile


def fit_population_models(
    lines: pl.DataFrame,
    catalogue: pl.DataFrame,
    customers: pl.DataFrame | None,
    as_of: datetime,
    tz: str = "UTC",
) -> PopulationModels:
    """Fit every population-level model on the history before ``as_of``.

    Parameters
    ----------
    lines, catalogue, customers : polars.DataFrame
        The engine's contracts (see :mod:`omnix.engine`); ``customers`` may
        be None when no demographics are known.
    as_of : datetime
        The clock (aware); nothing at or after it is read.
    tz : str
        Store time zone.
    """
    as_of_utc = check_as_of(as_of)
    check_tz(tz)
    prepared = PreparedLines(prepare_lines(lines, as_of_utc, tz), as_of_utc, tz)
    # The tables every fit reads are built first, once; the recommender (about
    # half the work) is then fitted beside the other three on a second core.
    # The fits share nothing mutable, so the models are the same either way.
    for column in ("customer_id", "product_id", "order_id", "category"):
        column_codes(prepared.frame, column)
    product_days(prepared)
    order_baskets(prepared)
    with ThreadPoolExecutor(max_workers=2) as pool:
        recommender = pool.submit(
            fit_recommender, prepared, catalogue, customers, as_of_utc, tz
        )
        replenishment = fit_replenishment_scorer(prepared, as_of_utc, tz)
        demographics = fit_demographics(prepared.frame, customers)
        profile_norms = fit_profile_norms(prepared.frame, catalogue)
        return PopulationModels(
            as_of=as_of_utc,
            tz=tz,
            catalogue=catalogue,
            replenishment=replenishment,
            recommender=recommender.result(),
            demographics=demographics,
            profile_norms=profile_norms,
        )


def analyse_customer(
    models: PopulationModels,
    lines: pl.DataFrame,
    customer_id: str,
    *,
    as_of: datetime | None = None,
    customer: pl.DataFrame | None = None,
    k: int = 10,
    horizon_days: int = 7,
) -> CustomerAnalysis:
    """Consumption, alerts, recommendations and profile of one customer.

    ``lines`` are the customer's purchase lines (other customers' lines are
    ignored); ``customer`` is their row of the customers frame, if any, for
    declared demographics. ``as_of`` defaults to the models' clock.
    """
    clock = check_as_of(as_of) if as_of is not None else models.as_of
    own = lines.filter(pl.col("customer_id").cast(pl.Utf8) == customer_id)
    wanted = (
        customer.filter(pl.col("customer_id").cast(pl.Utf8) == customer_id)
        if customer is not None
        else None
    )
    if wanted is None or wanted.height == 0:
        wanted = pl.DataFrame({"customer_id": [customer_id]})
    tz, catalogue = models.tz, models.catalogue
    prepared = PreparedLines(prepare_lines(own, clock, tz), clock, tz)
    products = consumption_patterns(prepared, clock, tz, catalogue=catalogue)
    categories = consumption_patterns(prepared, clock, tz, level="category")
    alerts = replenishment_alerts(
        prepared,
        models.replenishment,
        clock,
        tz,
        horizon_days=horizon_days,
        catalogue=catalogue,
    )
    recommended = recommend(
        models.recommender, prepared, clock, tz, k=k, customers=wanted
    )
    profile = customer_profiles(
        prepared, models.profile_norms, models.demographics, clock, tz, customers=wanted
    )[0]
    return CustomerAnalysis(
        customer_id=customer_id,
        as_of=clock,
        product_patterns=tuple(patterns_of(products)),
        category_patterns=tuple(patterns_of(categories)),
        alerts=tuple(alerts_of(alerts)),
        recommendations=tuple(recommendations_of(recommended)),
        profile=profile,
    )
