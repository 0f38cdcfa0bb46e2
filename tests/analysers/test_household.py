"""A household's computed features: aggregates by hand, nothing personal."""

from __future__ import annotations

import json
from datetime import timedelta

import polars as pl
import pytest

from omnix.analysers.household import household_features
from omnix.analysers.prompts import build_prompt
from tests.engine.conftest import LINE_SCHEMA


def _lines(shop, customer_id: str) -> pl.DataFrame:
    """Four orders: two products on each of three days, one 3-line basket."""
    split = shop.split
    rows = [
        # (days before the clock, product, quantity, unit price, brand)
        (21, "p01", 1.0, 2.0, "National"),
        (21, "p02", 2.0, 3.0, "Private"),
        (14, "p01", 1.0, 2.0, "National"),
        (7, "p01", 2.0, 2.0, "National"),
        (7, "p03", 1.0, 10.0, "National"),
        (7, "p02", 1.0, 3.0, "Private"),
        (3, "p03", 1.0, 10.0, "National"),
    ]
    return pl.DataFrame(
        [
            (
                customer_id,
                f"o{ago}",
                product,
                split - timedelta(days=ago),
                quantity,
                price,
                f"Cat{int(product[1:]) % 6}",
                "Food",
                brand,
            )
            for ago, product, quantity, price, brand in rows
        ],
        schema=LINE_SCHEMA,
        orient="row",
    )


def test_aggregates_by_hand(fitted_shop):
    shop, models = fitted_shop
    customer = pl.DataFrame(
        {
            "customer_id": ["jane.doe"],
            "created_at": [shop.split - timedelta(days=400)],
        }
    )
    features = household_features(
        models,
        _lines(shop, "jane.doe"),
        "jane.doe",
        as_of=shop.split,
        customer=customer,
        segment="Loyal Customers",
    )

    assert features.as_of == shop.split.date()
    assert (features.tenure_days, features.segment) == (400, "Loyal Customers")
    assert (features.order_count, features.distinct_purchase_days) == (4, 4)
    assert features.days_since_last_order == 3
    assert features.mean_days_between_orders == pytest.approx(18 / 3)
    # Order values 8, 2, 17, 10: mean 9.25, median 9.
    assert features.order_value is not None
    assert features.order_value.mean == 9.25
    assert features.order_value.median == 9.0
    assert features.mean_items_per_order == pytest.approx(7 / 4, abs=0.01)
    assert features.mean_units_per_line == pytest.approx(9 / 7, abs=0.01)
    # Spend 37: National 2 + 2 + 4 + 10 + 10 = 28, Private 9.
    assert features.top_brand_share == pytest.approx(28 / 37, abs=1e-4)
    # Three orders a whole number of weeks apart share a weekday.
    assert features.weekday_concentration == 0.75
    shares = {c.category: c.spend_share for c in features.category_shares}
    assert shares == {
        "Cat3": pytest.approx(20 / 37, abs=1e-4),
        "Cat1": pytest.approx(8 / 37, abs=1e-4),
        "Cat2": pytest.approx(9 / 37, abs=1e-4),
    }
    assert [c.category for c in features.category_shares] == ["Cat3", "Cat2", "Cat1"]
    rhythms = {r.product_id: r for r in features.product_rhythms}
    assert rhythms["p01"].distinct_purchase_days == 3
    assert rhythms["p01"].median_interval_days == 7.0
    assert rhythms["p01"].mean_quantity == pytest.approx(4 / 3, abs=0.01)
    assert rhythms["p03"].last_purchase_date == shop.split.date() - timedelta(days=3)
    assert rhythms["p01"].product_name == "Product 1"


def test_candidates_carry_the_engine_ranking_and_what_was_bought(fitted_shop):
    shop, models = fitted_shop
    features = household_features(models, _lines(shop, "A"), "A", as_of=shop.split)
    assert features.candidates
    bought = {"p01", "p02", "p03"}
    for candidate in features.candidates:
        assert candidate.previously_bought == (candidate.product_id in bought)
        assert candidate.popularity is not None
    # A prompt can be built for every analysis type from them.
    for analysis_type in (
        "consumption_prediction",
        "recommendation_generation",
        "customer_profiling",
    ):
        assert build_prompt(analysis_type, features).prompt


def test_nothing_identifies_the_household(fitted_shop):
    shop, models = fitted_shop
    customer = pl.DataFrame(
        {
            "customer_id": ["hh-7731"],
            "created_at": [shop.split - timedelta(days=90)],
            "age_group": ["45-54"],
            "income_level": ["50-74K"],
        }
    )
    features = household_features(
        models, _lines(shop, "hh-7731"), "hh-7731", as_of=shop.split, customer=customer
    )
    sent = json.dumps(features.model_dump(mode="json"))
    for private in ("hh-7731", "45-54", "50-74K"):
        assert private not in sent


def test_household_without_purchases(fitted_shop):
    shop, models = fitted_shop
    features = household_features(
        models, _lines(shop, "A").clear(), "A", as_of=shop.split
    )
    assert (features.order_count, features.tenure_days) == (0, 0)
    assert features.product_rhythms == []
    # Cold start: the population's popular products, none bought.
    assert features.candidates
    assert not any(c.previously_bought for c in features.candidates)
