"""Purchase days and baskets as arrays: the statistics at a cut-off, read off
prefixes of sorted rows, against the same figures recomputed by hand from
the lines before the cut-off."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from omnix.engine import rhythm
from omnix.engine.baskets import (
    ORDER_DECAY,
    SHORT_HALF_LIFE,
    baskets_of,
    microseconds,
    next_orders,
    repurchase_arrays,
)
from omnix.engine.features import day_number, prepare_lines
from omnix.engine.rhythm import (
    group_median,
    purchase_days,
    rhythm_at,
    seasonal_share,
    visits_at,
)
from tests.engine.conftest import LINE_SCHEMA, START

CLOCK = START + timedelta(days=200)


def random_lines(seed: int = 4) -> pl.DataFrame:
    """Six households, eight products, one order per household and visit."""
    rng = np.random.default_rng(seed)
    rows = []
    for h in range(6):
        for visit in np.sort(rng.choice(200, size=25, replace=False)):
            at = START + timedelta(days=int(visit), hours=int(rng.integers(8, 20)))
            for product in rng.choice(8, size=int(rng.integers(1, 4)), replace=False):
                for _ in range(int(rng.integers(1, 3))):  # repeated lines
                    rows.append(
                        (f"h{h}", f"h{h}-{visit}", f"p{product}", at, 1.0, 2.0)
                        + ("Grocery", "Food", "National")
                    )
    return pl.DataFrame(rows, schema=LINE_SCHEMA, orient="row")


@pytest.fixture(scope="module")
def prepared() -> pl.DataFrame:
    return prepare_lines(random_lines(), CLOCK, "UTC")


def by_hand(prepared: pl.DataFrame, before: date) -> dict[tuple[str, str], list[int]]:
    days: dict[tuple[str, str], set[int]] = defaultdict(set)
    for customer, product, day in prepared.select(
        "customer_id", "product_id", "day"
    ).iter_rows():
        if day < before:
            days[(customer, product)].add(day_number(day))
    return {pair: sorted(found) for pair, found in days.items()}


def test_statistics_at_a_cut_off_equal_a_recount(prepared: pl.DataFrame) -> None:
    days = purchase_days(prepared, "product_id")
    cutoff = date(2024, 5, 1)
    table = rhythm_at(
        days, day_number(cutoff), before=day_number(cutoff), horizons=(7,)
    )
    expected = by_hand(prepared, cutoff)
    assert table["pair"].size == len(expected)
    for at, pair in enumerate(table["pair"]):
        key = (
            days.customers[int(days.pair_customer[pair])],
            days.keys[int(days.pair_key[pair])],
        )
        found = expected[key]
        gaps = np.diff(found).astype(float)
        elapsed = day_number(cutoff) - found[-1]
        assert table["n_days"][at] == len(found)
        assert table["last_day"][at] == found[-1]
        assert table["elapsed_days"][at] == elapsed
        if gaps.size:
            assert table["mean_interval"][at] == pytest.approx(gaps.mean())
            assert table["log_mean"][at] == pytest.approx(np.log(gaps).mean())
            log_ss = ((np.log(gaps) - np.log(gaps).mean()) ** 2).sum()
            assert table["log_ss"][at] == pytest.approx(log_ss, abs=1e-12)
        else:
            assert np.isnan(table["mean_interval"][at])
        if gaps.size >= 2:
            assert table["std_interval"][at] == pytest.approx(gaps.std(ddof=1))
        longer = gaps > elapsed
        assert table["longer_intervals"][at] == longer.sum()
        assert table["ended_within_7"][at] == (longer & (gaps <= elapsed + 7)).sum()
        recent = sum(d >= day_number(cutoff) - 56 for d in found)
        assert table["recent_purchase_days"][at] == recent


def test_visits_at_a_cut_off_equal_a_recount(prepared: pl.DataFrame) -> None:
    days = purchase_days(prepared, "product_id")
    cutoff = day_number(date(2024, 5, 1))
    visits = visits_at(days, cutoff, cutoff)
    for code, customer in enumerate(days.customers.to_list()):
        shopped = sorted(
            {
                day_number(d)
                for c, d in prepared.select("customer_id", "day").iter_rows()
                if c == customer and day_number(d) < cutoff
            }
        )
        assert visits.shopping_days[code] == len(shopped)
        assert visits.household_elapsed[code] == cutoff - shopped[-1]
        assert visits.visit_rate[code] == pytest.approx(
            len(shopped) / max(cutoff - shopped[0], 1)
        )
        assert visits.recent_days_28[code] == sum(d >= cutoff - 28 for d in shopped)


def test_group_medians_agree_on_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    group = rng.integers(0, 30, 500)
    values = rng.integers(1, 20, 500).astype(float)
    values[::7] = np.nan  # left out, as nulls
    expected = np.array(
        [np.median(values[(group == g) & ~np.isnan(values)]) for g in range(30)]
    )
    small = group_median(group, values, 32)
    monkeypatch.setattr(rhythm, "_SMALL", 0)
    large = group_median(group, values, 32)
    assert small[:30] == pytest.approx(expected)
    assert large[:30] == pytest.approx(expected)
    assert np.isnan(small[30:]).all()
    assert np.isnan(large[30:]).all()


def test_seasonal_share_is_the_busiest_three_months() -> None:
    days = [0, 10, 40, 70, 200, 300]  # Jan, Jan, Feb, Mar, Jul, Oct
    lines = pl.DataFrame(
        [
            ("c", f"o{d}", "p", START + timedelta(days=d), 1.0, 1.0)
            + ("Grocery", "Food", "National")
            for d in days
        ],
        schema=LINE_SCHEMA,
        orient="row",
    )
    table = purchase_days(
        prepare_lines(lines, CLOCK + timedelta(days=200), "UTC"), "product_id"
    )
    assert seasonal_share(table).tolist() == pytest.approx([4 / 6])


def test_order_features_at_a_cut_off_equal_a_recount(prepared: pl.DataFrame) -> None:
    baskets = baskets_of(prepared)
    cutoff = datetime(2024, 5, 1, tzinfo=UTC)
    table = repurchase_arrays(baskets, microseconds(cutoff))
    orders = (
        prepared.filter(pl.col("purchased_at") < cutoff)
        .group_by("customer_id", "order_id")
        .agg(pl.col("purchased_at").min(), pl.col("product_id").unique())
        .sort("customer_id", "purchased_at", "order_id")
    )
    for at, pair in enumerate(table["pair"]):
        customer = baskets.customers[int(baskets.pair_customer[pair])]
        product = baskets.products[int(baskets.pair_product[pair])]
        mine = orders.filter(pl.col("customer_id") == customer)
        holding = [product in held for held in mine["product_id"].to_list()]
        ago = np.arange(mine.height)[::-1]
        age = [(cutoff - t).total_seconds() / 86400 for t in mine["purchased_at"]]
        assert table["orders_with"][at] == sum(holding)
        assert table["household_orders"][at] == mine.height
        assert table["w_order"][at] == pytest.approx(
            sum(ORDER_DECAY**a for a, h in zip(ago, holding, strict=True) if h)
        )
        assert table["w_short"][at] == pytest.approx(
            sum(
                0.5 ** (d / SHORT_HALF_LIFE)
                for d, h in zip(age, holding, strict=True)
                if h
            )
        )
        assert table["orders_since"][at] == min(
            a for a, h in zip(ago, holding, strict=True) if h
        )
        assert table["days_since"][at] == pytest.approx(
            min(d for d, h in zip(age, holding, strict=True) if h)
        )


def test_next_orders_are_each_households_first_after_the_cut_off(
    prepared: pl.DataFrame,
) -> None:
    baskets = baskets_of(prepared)
    start, end = datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 8, tzinfo=UTC)
    table = repurchase_arrays(baskets, microseconds(start))
    items, weight = next_orders(
        baskets, table["orders_before"], microseconds(start), microseconds(end)
    )
    window = prepared.filter(
        (pl.col("purchased_at") >= start) & (pl.col("purchased_at") < end)
    )
    first = (
        window.sort("purchased_at", "order_id")
        .group_by("customer_id", maintain_order=True)
        .first()
    )
    expected = {
        (c, p)
        for c, o in first.select("customer_id", "order_id").iter_rows()
        for p in window.filter(pl.col("order_id") == o)["product_id"].unique()
    }
    found = {
        (
            baskets.customers[int(baskets.pair_customer[i])],
            baskets.products[int(baskets.pair_product[i])],
        )
        for i in items
    }
    assert found == expected
    for code, customer in enumerate(baskets.customers.to_list()):
        size = sum(c == customer for c, _ in expected)
        assert weight[code] == (pytest.approx(1 / size) if size else 0.0)
