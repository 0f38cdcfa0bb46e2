"""Population models fitted once, then one customer analysed from their lines."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from omnix.engine.consumption import consumption_patterns
from omnix.engine.features import PreparedLines, prepare_lines
from omnix.engine.population import (
    PopulationModels,
    analyse_customer,
    fit_population_models,
)
from omnix.engine.recommend import recommend
from omnix.engine.replenishment import replenishment_alerts
from tests.engine.conftest import Shop


@pytest.fixture(scope="module")
def models(shop: Shop) -> PopulationModels:
    return fit_population_models(
        shop.history, shop.catalogue, shop.customers, shop.split, "UTC"
    )


def test_one_customer_analysis_matches_the_individual_functions(
    shop: Shop, models: PopulationModels
) -> None:
    analysis = analyse_customer(
        models, shop.history, "h003", customer=shop.customers, k=5
    )
    own = shop.history.filter(pl.col("customer_id") == "h003")
    patterns = consumption_patterns(own, shop.split, catalogue=shop.catalogue)
    alerts = replenishment_alerts(own, models.replenishment, shop.split)
    recommended = recommend(models.recommender, own, shop.split, k=5)

    assert analysis.customer_id == "h003"
    assert analysis.as_of == shop.split
    assert [p.product_id for p in analysis.product_patterns] == patterns[
        "product_id"
    ].to_list()
    assert [a.product_id for a in analysis.alerts] == alerts["product_id"].to_list()
    assert [r.product_id for r in analysis.recommendations] == recommended[
        "product_id"
    ].to_list()
    assert analysis.category_patterns
    assert analysis.profile.customer_id == "h003"
    assert analysis.profile.insufficient_data is False
    # Declared in the customers frame, so reported as declared.
    assert dict(analysis.profile.demographics.sources)["household_composition"] == (
        "declared"
    )


def test_a_customer_without_history_still_gets_an_analysis(
    shop: Shop, models: PopulationModels
) -> None:
    analysis = analyse_customer(models, shop.history, "stranger")
    assert analysis.product_patterns == ()
    assert analysis.alerts == ()
    assert len(analysis.recommendations) == 10
    assert {r.kind for r in analysis.recommendations} == {"discovery"}
    assert analysis.profile.insufficient_data is True


def test_prepared_lines_must_match_zone_and_clock(shop: Shop) -> None:
    prepared = PreparedLines(
        prepare_lines(shop.history, shop.split, "UTC"), shop.split, "UTC"
    )
    earlier = shop.split - timedelta(days=30)
    cut = consumption_patterns(prepared, earlier)
    assert cut["last_purchase_date"].max() < earlier.date()
    with pytest.raises(ValueError, match="time zone"):
        consumption_patterns(prepared, shop.split, "Europe/Paris")
    with pytest.raises(ValueError, match="earlier clock"):
        consumption_patterns(prepared, shop.split + timedelta(days=1))
