"""The interval baseline: hand-computed rhythms, alerts and recommendations,
and its dates checked against the evaluation's own baseline code."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from omnix.analysers.interval_baseline import interval_baseline_analysis
from omnix.analytics.mapping import profile_dto
from omnix.engine.features import prepare_lines
from omnix.evaluation.baselines import _baseline_dates
from tests.engine.conftest import LINE_SCHEMA

# Purchase days of household A, in days before the clock.
A_DAYS = {
    "p01": (24, 17, 10, 3),  # gaps 7, 7, 7; 3 days elapsed
    "p02": (35, 25, 15),  # gaps 10, 10; 15 elapsed: overdue
    "p03": (50,),  # bought once: no rhythm
    "p04": (40, 30, 25, 5),  # gaps 10, 5, 20; 5 elapsed
}


def _household(shop, customer_id: str = "A") -> pl.DataFrame:
    rows = [
        (
            customer_id,
            f"{customer_id}-{ago}",
            product,
            shop.split - timedelta(days=ago),
            1.0,
            2.0,
            f"Cat{int(product[1:]) % 6}",
            "Food",
            "National",
        )
        for product, days in A_DAYS.items()
        for ago in days
    ]
    return pl.DataFrame(rows, schema=LINE_SCHEMA, orient="row")


def _analyse(fitted_shop, **options):
    shop, models = fitted_shop
    return interval_baseline_analysis(
        models, _household(shop), "A", as_of=shop.split, **options
    )


def test_rhythms_by_hand(fitted_shop):
    analysis = _analyse(fitted_shop)
    today = fitted_shop[0].split.date()
    by_id = {p.product_id: p for p in analysis.product_patterns}

    assert set(by_id) == {"p01", "p02", "p04"}
    p01, p02, p04 = by_id["p01"], by_id["p02"], by_id["p04"]
    # p01: the median of the gaps longer than 3 days is 7: due 4 days from now;
    # all three gaps are steady: 3 / (3 gaps + 2 pseudo-gaps).
    assert (p01.days_until_next_purchase, p01.confidence) == (4, pytest.approx(0.6))
    assert p01.predicted_next_purchase_date == today + timedelta(days=4)
    assert p01.last_purchase_date == today - timedelta(days=3)
    # p02: no past gap was as long as the 15 days elapsed: today + median.
    assert (p02.days_until_next_purchase, p02.confidence) == (10, pytest.approx(0.5))
    # p04: gaps longer than 5 days are 10 and 20, median 15: 15 - 5 = 10 days;
    # only the 10-day gap is within 30 % of the median gap (10).
    assert (p04.days_until_next_purchase, p04.confidence) == (10, pytest.approx(0.2))
    assert (p04.median_days_between_purchases, p04.purchase_days) == (10.0, 4)
    assert p04.average_days_between_purchases == pytest.approx(35 / 3)
    assert [p.product_id for p in analysis.product_patterns] == ["p01", "p02", "p04"]
    categories = {p.category: p for p in analysis.category_patterns}
    assert categories["Cat1"].days_until_next_purchase == 4


def test_alerts_by_hand(fitted_shop):
    analysis = _analyse(fitted_shop, horizon_days=14)
    alerts = [(a.product_id, a.urgency, a.probability) for a in analysis.alerts]
    # Overdue first, then by date. Probability: of the past gaps longer than
    # the time elapsed, the share ending within the horizon, with half a
    # pseudo-count: p01 (3 + .5) / (3 + 1); p02 (0 + .5) / (0 + 1);
    # p04 (1 + .5) / (2 + 1).
    assert alerts == [
        ("p02", "overdue", pytest.approx(0.5)),
        ("p01", "soon", pytest.approx(0.875)),
        ("p04", "soon", pytest.approx(0.5)),
    ]
    short = _analyse(fitted_shop, horizon_days=7)
    assert [a.product_id for a in short.alerts] == ["p01"]


def test_recommendations_personal_then_popular(fitted_shop):
    shop, _ = fitted_shop
    items = _analyse(fitted_shop, k=6).recommendations

    # 11 distinct orders; p01 and p04 are in 4 (tie broken by id), p02 in 3.
    assert [(r.product_id, r.kind) for r in items[:4]] == [
        ("p01", "repurchase"),
        ("p04", "repurchase"),
        ("p02", "repurchase"),
        ("p03", "repurchase"),
    ]
    assert items[0].score == pytest.approx(4 / 11)
    # Then the store's most often ordered products A never bought, computed
    # here straight from the history.
    orders = shop.history["order_id"].n_unique()
    share = (
        shop.history.group_by("product_id")
        .agg((pl.col("order_id").n_unique() / orders).alias("share"))
        .filter(~pl.col("product_id").is_in(list(A_DAYS)))
        .sort(["share", "product_id"], descending=[True, False])
    )
    assert [(r.product_id, r.kind) for r in items[4:]] == [
        (product, "discovery") for product in share["product_id"].head(2)
    ]
    assert items[4].score == pytest.approx(share["share"][0])
    assert [r.rank for r in items] == list(range(1, 7))


def test_profile_from_fixed_rules(fitted_shop):
    profile = _analyse(fitted_shop).profile
    # Shopping-day gaps 10,5,5,5,1,7,2,5,5,2: median 5, weekly.
    assert profile.spending_patterns.shopping_frequency == "weekly"
    assert profile.spending_patterns.average_order_value == round(2.0 * 12 / 11, 2)
    assert profile.behavioral_insights.brand_loyal is True  # one product each
    assert profile.behavioral_insights.bulk_buyer is False
    assert profile.behavioral_insights.seasonal_shopper is False
    # No declaration: the population's most common answer, as such.
    assert profile.demographics.estimated_age_group == "35-44"
    assert profile.demographics.age_group_confidence == pytest.approx(0.5)
    assert profile_dto(profile).demographics.source == "population"


def test_declared_demographics_are_kept(fitted_shop):
    shop, models = fitted_shop
    customer = pl.DataFrame({"customer_id": ["A"], "age_group": ["65+"]})
    analysis = interval_baseline_analysis(
        models, _household(shop), "A", as_of=shop.split, customer=customer
    )
    assert analysis.profile.demographics.estimated_age_group == "65+"
    assert analysis.profile.demographics.age_group_confidence == 1.0


def test_household_without_history(fitted_shop):
    shop, models = fitted_shop
    empty = _household(shop).clear()
    analysis = interval_baseline_analysis(models, empty, "A", as_of=shop.split, k=3)
    assert analysis.product_patterns == ()
    assert analysis.alerts == ()
    assert [r.kind for r in analysis.recommendations] == ["discovery"] * 3
    assert analysis.profile.insufficient_data is True


@pytest.mark.parametrize(("option", "value"), [("k", 0), ("horizon_days", 0)])
def test_bad_options_name_the_problem(fitted_shop, option, value):
    with pytest.raises(ValueError, match=option):
        _analyse(fitted_shop, **{option: value})


def test_dates_match_the_evaluation_baseline(fitted_shop):
    """The conditional-median dates of omnix.evaluation.baselines, per pair."""
    shop, models = fitted_shop
    prepared = prepare_lines(shop.history, shop.split, "UTC")
    pairs = (
        prepared.group_by("customer_id", "product_id")
        .agg(pl.col("day").unique().sort().alias("days"))
        .filter(pl.col("days").list.len() >= 3)
    )
    reference = _baseline_dates(pairs, shop.split.date())
    expected = {
        (row["customer_id"], row["product_id"]): row["conditional_date"]
        for row in reference.iter_rows(named=True)
    }
    checked = 0
    for customer_id in pairs["customer_id"].unique().sort().to_list():
        analysis = interval_baseline_analysis(
            models, shop.history, customer_id, as_of=shop.split
        )
        for pattern in analysis.product_patterns:
            key = (customer_id, pattern.product_id)
            if key in expected:
                assert pattern.days_until_next_purchase == pytest.approx(
                    expected[key], abs=0.5
                ), key
                checked += 1
    assert checked == len(expected)
    assert checked > 200
