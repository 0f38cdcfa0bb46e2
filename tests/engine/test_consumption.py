"""Consumption patterns: hand-made histories with known answers, the log-normal
outlook against SciPy, and a seeded simulation recovering known rhythms."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from scipy import stats

from omnix.engine.consumption import (
    consumption_patterns,
    lognormal_outlook,
    patterns_of,
)
from tests.engine.conftest import START, Shop, lines_from


def at(days: float) -> datetime:
    return START + timedelta(days=days)


def row(frame: pl.DataFrame, product: str) -> dict[str, object]:
    return frame.filter(pl.col("product_id") == product).row(0, named=True)


def test_weekly_buyer_gets_the_weekly_rhythm() -> None:
    lines = lines_from([("c1", "milk", 7.0 * i) for i in range(6)], quantity=2.0)
    frame = consumption_patterns(lines, at(38), "UTC")
    milk = row(frame, "milk")

    assert milk["purchase_days"] == 6
    assert milk["average_days_between_purchases"] == pytest.approx(7.0)
    assert milk["median_days_between_purchases"] == pytest.approx(7.0)
    assert milk["last_purchase_date"] == date(2024, 2, 5)
    # Three days after the last purchase, the next is expected about a week
    # after it: four days ahead.
    assert milk["predicted_next_purchase_date"] == date(2024, 2, 12)
    assert milk["days_until_next_purchase"] == 4
    assert milk["typical_quantity"] == 2.0
    # The chance that the next purchase lands within two days of the
    # prediction, with the spread still pulled towards the prior by six days.
    assert 0.35 < milk["confidence"] <= 1.0
    assert milk["insufficient_data"] is False


def test_more_evidence_gives_more_confidence() -> None:
    # The same weekly rhythm seen 3 or 12 times, three days after the last.
    few = lines_from([("c1", "milk", 7.0 * i) for i in range(3)])
    many = lines_from([("c1", "milk", 7.0 * i) for i in range(12)])
    confidence_few = consumption_patterns(few, at(7.0 * 2 + 3))["confidence"][0]
    confidence_many = consumption_patterns(many, at(7.0 * 11 + 3))["confidence"][0]
    assert confidence_many > confidence_few + 0.1


def test_elapsed_time_moves_the_prediction_past_the_clock() -> None:
    lines = lines_from([("c1", "milk", 7.0 * i) for i in range(6)])
    predictions = []
    for elapsed in (3, 10, 20, 40):
        frame = consumption_patterns(lines, at(35 + elapsed), "UTC")
        milk = row(frame, "milk")
        assert milk["predicted_next_purchase_date"] >= (at(35 + elapsed)).date()
        predictions.append(milk["predicted_next_purchase_date"])
    assert predictions == sorted(predictions)


def test_regular_rhythm_is_more_confident_than_an_irregular_one() -> None:
    regular = [("c1", "milk", 7.0 * i) for i in range(8)]
    irregular_days = [0, 2, 15, 17, 40, 41, 44, 49]
    irregular = [("c1", "soap", float(d)) for d in irregular_days]
    frame = consumption_patterns(lines_from(regular + irregular), at(51), "UTC")
    assert row(frame, "milk")["confidence"] > row(frame, "soap")["confidence"]


def test_one_time_buyer_is_valid_and_not_confident() -> None:
    lines = lines_from(
        [("c1", "milk", 7.0 * i) for i in range(5)] + [("c1", "soap", 3)]
    )
    frame = consumption_patterns(lines, at(30), "UTC")
    soap = row(frame, "soap")

    assert soap["purchase_days"] == 1
    assert soap["insufficient_data"] is True
    assert soap["confidence"] < 0.1
    # The customer's own typical rhythm (weekly) stands in for the interval.
    assert soap["average_days_between_purchases"] == pytest.approx(7.0)
    assert soap["predicted_next_purchase_date"] >= date(2024, 1, 31)
    assert not frame.select(pl.col(pl.Float64).is_nan().any()).row(0)[0]


def test_all_purchases_on_one_day_count_as_one_purchase_day() -> None:
    lines = lines_from([("c1", "milk", 1.0), ("c1", "milk", 1.2), ("c1", "milk", 1.3)])
    frame = consumption_patterns(lines, at(10), "UTC")
    milk = row(frame, "milk")

    assert milk["purchase_days"] == 1
    assert milk["insufficient_data"] is True
    assert milk["average_days_between_purchases"] == pytest.approx(30.0)
    assert np.isfinite(milk["confidence"])


def test_no_purchases_give_an_empty_frame_with_the_columns() -> None:
    frame = consumption_patterns(lines_from([]), at(10), "UTC")
    assert frame.height == 0
    assert "predicted_next_purchase_date" in frame.columns


def test_lines_at_or_after_the_clock_are_not_read() -> None:
    lines = lines_from([("c1", "milk", 0.0), ("c1", "milk", 7.0), ("c1", "milk", 9.0)])
    frame = consumption_patterns(lines, at(9), "UTC")
    assert row(frame, "milk")["purchase_days"] == 2


def test_store_time_zone_draws_the_day_boundaries() -> None:
    # 23:30 UTC is already the next day in Berlin and still the same in New York.
    base = datetime(2024, 3, 1, 23, 30, tzinfo=UTC)
    lines = pl.DataFrame(
        {
            "customer_id": ["c1", "c1"],
            "product_id": ["milk", "milk"],
            "purchased_at": [base, base + timedelta(hours=1)],
            "quantity": [1.0, 1.0],
            "price": [1.0, 1.0],
        }
    )
    clock = base + timedelta(days=5)
    utc = consumption_patterns(lines, clock, "UTC")
    berlin = consumption_patterns(lines, clock, "Europe/Berlin")
    new_york = consumption_patterns(lines, clock, "America/New_York")
    assert utc["purchase_days"][0] == 2
    assert berlin["purchase_days"][0] == 1
    assert new_york["purchase_days"][0] == 1


def test_category_level_merges_products_of_a_category() -> None:
    rows = [("c1", "milk", 0.0), ("c1", "cream", 3.0), ("c1", "milk", 6.0)]
    categories = {"milk": "Dairy", "cream": "Dairy"}
    frame = consumption_patterns(
        lines_from(rows, categories=categories), at(8), "UTC", level="category"
    )
    assert frame.height == 1
    dairy = frame.row(0, named=True)
    assert dairy["category"] == "Dairy"
    assert dairy["product_id"] is None
    assert dairy["purchase_days"] == 3
    assert dairy["average_days_between_purchases"] == pytest.approx(3.0)


def test_seasonal_flag_needs_a_quarter_holding_most_purchases() -> None:
    # A year of weekly milk, and ice cream only in June and July.
    rows = [("c1", "milk", 7.0 * i) for i in range(52)]
    rows += [("c1", "ice", 152.0 + 6 * i) for i in range(8)]
    frame = consumption_patterns(lines_from(rows), at(365), "UTC")
    assert row(frame, "ice")["seasonal_variation"] is True
    assert row(frame, "milk")["seasonal_variation"] is False
    # The same ice cream for a customer seen only for four months is not
    # called seasonal: the history is too short to tell.
    short = [("c2", "ice", 152.0 + 6 * i) for i in range(8)]
    frame = consumption_patterns(lines_from(short), at(200), "UTC")
    assert row(frame, "ice")["seasonal_variation"] is False


def test_patterns_convert_to_value_objects() -> None:
    frame = consumption_patterns(
        lines_from([("c1", "milk", 0.0), ("c1", "milk", 5.0)]), at(8)
    )
    (pattern,) = patterns_of(frame)
    assert pattern.product_id == "milk"
    assert pattern.product_name == "milk"
    assert pattern.purchase_days == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop("price"), "price"),
        (
            lambda f: f.with_columns(pl.col("purchased_at").cast(pl.Utf8)),
            "purchased_at",
        ),
    ],
)
def test_bad_lines_raise_value_errors(change: object, message: str) -> None:
    lines = lines_from([("c1", "milk", 0.0)])
    with pytest.raises(ValueError, match=message):
        consumption_patterns(change(lines), at(3))  # type: ignore[operator]


def test_bad_clock_zone_and_level_raise() -> None:
    lines = lines_from([("c1", "milk", 0.0)])
    with pytest.raises(ValueError, match="as_of"):
        consumption_patterns(lines, datetime(2024, 2, 1))
    with pytest.raises(ValueError, match="time zone"):
        consumption_patterns(lines, at(3), "Mars/Olympus")
    with pytest.raises(ValueError, match="level"):
        consumption_patterns(lines, at(3), level="brand")  # type: ignore[arg-type]


def test_lognormal_outlook_matches_scipy() -> None:
    mu = np.array([np.log(7.0), np.log(20.0), np.log(3.0)])
    sigma = np.array([0.4, 0.9, 0.3])
    elapsed = np.array([3.0, 35.0, 12.0])
    median, p_week, window = lognormal_outlook(mu, sigma, elapsed, 7.0)
    for i in range(3):
        law = stats.lognorm(s=sigma[i], scale=np.exp(mu[i]))
        survive = law.sf(elapsed[i])
        assert median[i] == pytest.approx(law.isf(0.5 * survive), rel=1e-6)
        expected_p = 1.0 - law.sf(elapsed[i] + 7.0) / survive
        assert p_week[i] == pytest.approx(expected_p, rel=1e-6)
        half = max(2.0, median[i] / 4.0)
        low = max(median[i] - half, elapsed[i])
        expected_window = (law.sf(low) - law.sf(median[i] + half)) / survive
        assert window[i] == pytest.approx(expected_window, rel=1e-5)


def test_lognormal_outlook_survives_extreme_overdue() -> None:
    median, p_week, window = lognormal_outlook(
        np.array([np.log(2.0)]), np.array([0.2]), np.array([400.0]), 7.0
    )
    assert np.isfinite(median).all()
    assert median[0] >= 400.0
    assert 0.0 <= p_week[0] <= 1.0
    assert 0.0 <= window[0] <= 1.0


def test_simulated_rhythms_are_recovered(shop: Shop) -> None:
    frame = consumption_patterns(shop.history, shop.split, "UTC")
    known = pl.DataFrame(
        {
            "customer_id": [c for c, _ in shop.medians],
            "product_id": [p for _, p in shop.medians],
            "true_median": list(shop.medians.values()),
        }
    )
    joined = frame.join(known, on=["customer_id", "product_id"]).filter(
        pl.col("purchase_days") >= 8
    )
    assert joined.height > 100
    # Distinct days round intervals to whole days; the estimate of the
    # log-median stays within 15% for nine pairs in ten.
    error = (np.exp(joined["mu"].to_numpy()) / joined["true_median"].to_numpy()) - 1.0
    assert np.mean(np.abs(error) < 0.15) > 0.9
    # Calibration of the 7-day probability against what happened next.
    later = shop.future.filter(pl.col("purchased_at") < shop.split + timedelta(days=7))
    bought = (
        later.select("customer_id", "product_id")
        .unique()
        .with_columns(pl.lit(True).alias("bought"))
    )
    scored = joined.join(bought, on=["customer_id", "product_id"], how="left")
    observed = scored["bought"].fill_null(False).to_numpy().mean()
    predicted = scored["probability_7d"].to_numpy().mean()
    assert abs(observed - predicted) < 0.12
