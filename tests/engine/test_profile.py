"""Customer profiles: each documented rule on hand-made customers judged
against a small seeded population."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from omnix.engine.demographics import DemographicsModel, fit_demographics
from omnix.engine.features import prepare_lines
from omnix.engine.profile import CustomerProfile, customer_profiles
from omnix.engine.profile_metrics import ProfileNorms, fit_profile_norms
from tests.engine.conftest import LINE_SCHEMA, START

CLOCK = START + timedelta(days=400)
PRICES = {"d1": 1.0, "d2": 2.0, "d3": 3.0, "b1": 1.0, "b2": 4.0, "p1": 0.5, "p2": 1.5}
CATEGORY = {"d": "DAIRY", "b": "BAKERY", "p": "PRODUCE"}

Purchase = tuple[float, str, float]  # (day, product, quantity)


def lines_of(customer: str, purchases: Sequence[Purchase]) -> pl.DataFrame:
    rows = [
        (
            customer,
            f"{customer}-{int(day)}",
            product,
            START + timedelta(days=day, hours=9),
            quantity,
            PRICES[product],
            CATEGORY[product[0]],
            "GROCERY",
            "National",
        )
        for day, product, quantity in purchases
    ]
    return pl.DataFrame(rows, schema=LINE_SCHEMA, orient="row")


def population() -> pl.DataFrame:
    """40 weekly shoppers buying three random products, one unit each."""
    rng = np.random.default_rng(9)
    frames = []
    for h in range(40):
        purchases = [
            (float(day), str(product), 1.0)
            for day in range(0, 390, 7)
            for product in rng.choice(list(PRICES), size=3, replace=False)
        ]
        frames.append(lines_of(f"pop{h}", purchases))
    return pl.concat(frames)


@pytest.fixture(scope="module")
def norms_and_model() -> tuple[ProfileNorms, DemographicsModel]:
    prepared = prepare_lines(population(), CLOCK, "UTC")
    return fit_profile_norms(prepared), fit_demographics(prepared, None)


def profile(
    purchases: Sequence[Purchase],
    fitted: tuple[ProfileNorms, DemographicsModel],
    customers: pl.DataFrame | None = None,
) -> CustomerProfile:
    norms, model = fitted
    (result,) = customer_profiles(
        lines_of("me", purchases), norms, model, CLOCK, "UTC", customers=customers
    )
    return result


def test_order_value_and_preferred_categories(norms_and_model: tuple) -> None:
    purchases = [(0, "d3", 2.0), (0, "b2", 1.0), (7, "p1", 2.0), (14, "d1", 1.0)]
    result = profile(purchases, norms_and_model)
    # Orders worth 6 + 4 = 10, 1 and 1.
    assert result.spending_patterns.average_order_value == pytest.approx(12 / 3)
    assert result.spending_patterns.preferred_categories == (
        "DAIRY",
        "BAKERY",
        "PRODUCE",
    )
    assert result.orders == 3
    assert result.insufficient_data is False


@pytest.mark.parametrize(
    ("days", "frequency"),
    [
        (range(0, 60, 1), "daily"),
        (range(0, 120, 7), "weekly"),
        (range(0, 360, 30), "monthly"),
        ([0, 100], "irregular"),
        ([0, 1, 2, 3, 4, 5, 6, 7, 300], "irregular"),
    ],
)
def test_shopping_frequency(
    days: Sequence[int], frequency: str, norms_and_model: tuple
) -> None:
    result = profile([(float(d), "d2", 1.0) for d in days], norms_and_model)
    assert result.spending_patterns.shopping_frequency == frequency


def test_price_preference_follows_the_category_price_ranks(
    norms_and_model: tuple,
) -> None:
    days = range(0, 120, 7)
    cheap = profile(
        [(float(d), p, 1.0) for d in days for p in ("d1", "b1", "p1")], norms_and_model
    )
    dear = profile(
        [(float(d), p, 1.0) for d in days for p in ("d3", "b2", "p2")], norms_and_model
    )
    assert cheap.spending_patterns.price_preference == "budget"
    assert dear.spending_patterns.price_preference == "premium"


def test_bulk_and_planned_shoppers(norms_and_model: tuple) -> None:
    bulk = profile([(float(d), "d2", 6.0) for d in range(0, 120, 7)], norms_and_model)
    assert bulk.behavioral_insights.bulk_buyer is True
    # Every 14 days, all seven products: bigger and rarer trips than the
    # population's three products a week.
    planned = profile(
        [(float(d), p, 1.0) for d in range(0, 390, 14) for p in PRICES], norms_and_model
    )
    assert planned.behavioral_insights.planned_shopper is True
    assert planned.behavioral_insights.bulk_buyer is False
    small = profile([(float(d), "d2", 1.0) for d in range(0, 120, 2)], norms_and_model)
    assert small.behavioral_insights.planned_shopper is False


def test_brand_loyalty_measured_on_products(norms_and_model: tuple) -> None:
    loyal = profile([(float(d), "d2", 1.0) for d in range(0, 120, 7)], norms_and_model)
    switcher = profile(
        [
            (float(d), ("d1", "d2", "d3")[i % 3], 1.0)
            for i, d in enumerate(range(0, 120, 7))
        ],
        norms_and_model,
    )
    assert loyal.behavioral_insights.brand_loyal is True
    assert switcher.behavioral_insights.brand_loyal is False


def test_seasonal_shopper_needs_a_long_history(norms_and_model: tuple) -> None:
    summer = [(float(d), "d2", 1.0) for d in range(150, 230, 3)]
    seasonal = profile([(0.0, "p1", 1.0), (350.0, "p1", 1.0), *summer], norms_and_model)
    assert seasonal.behavioral_insights.seasonal_shopper is True
    short = profile(summer, norms_and_model)
    assert short.behavioral_insights.seasonal_shopper is False


def test_no_lines_give_an_insufficient_but_valid_profile(
    norms_and_model: tuple,
) -> None:
    norms, model = norms_and_model
    (result,) = customer_profiles(
        lines_of("x", []),
        norms,
        model,
        CLOCK,
        customers=pl.DataFrame({"customer_id": ["ghost"]}),
    )
    assert result.customer_id == "ghost"
    assert result.insufficient_data is True
    assert result.spending_patterns.average_order_value == 0.0
    assert result.spending_patterns.shopping_frequency == "irregular"
    assert result.spending_patterns.price_preference == "mid-range"
    assert result.behavioral_insights.bulk_buyer is False
    assert result.demographics.lifestyle == ()


def test_declared_demographics_are_reported_as_such(norms_and_model: tuple) -> None:
    customers = pl.DataFrame(
        {
            "customer_id": ["me"],
            "age_group": ["35-44"],
            "income_level": ["100-124K"],
            "household_size": ["3"],
            "household_composition": ["2 Adults Kids"],
        }
    )
    result = profile([(0.0, "d2", 1.0)], norms_and_model, customers)
    demographics = result.demographics
    assert demographics.estimated_age_group == "35-44"
    assert demographics.estimated_income_level == "high"
    assert demographics.family_size == 3
    assert demographics.age_group_confidence == 1.0
    assert dict(demographics.sources)["household_composition"] == "declared"
    assert "family-with-kids" in demographics.lifestyle


def test_lifestyle_tags_from_spend_shares() -> None:
    rng = np.random.default_rng(4)
    base = [
        lines_of(
            f"pop{h}",
            [(float(d), str(rng.choice(["d2", "b1"])), 1.0) for d in range(0, 100, 7)],
        )
        for h in range(30)
    ]
    prepared = prepare_lines(pl.concat(base), CLOCK, "UTC")
    norms = fit_profile_norms(prepared)
    model = fit_demographics(prepared, None)
    produce = lines_of(
        "me", [(float(d), "p2", 1.0) for d in range(0, 100, 7)]
    ).with_columns(pl.lit("VEGETABLES - ALL OTHERS").alias("category"))
    (result,) = customer_profiles(produce, norms, model, CLOCK)
    assert "health-conscious" in result.demographics.lifestyle
    assert "pet-owner" not in result.demographics.lifestyle
