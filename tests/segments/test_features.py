"""RFM features and scores computed in SQL agree with the NumPy reference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from omnix.engine.rfm import rfm_positions
from omnix.segments.features import load_features, load_population, population_query
from tests.segments.support import (
    AS_OF,
    YEAR_START,
    Households,
    expected_features,
    random_households,
    store,
)


@pytest.mark.parametrize("as_of", [AS_OF, datetime(2017, 7, 15, 13, tzinfo=UTC)])
async def test_sql_scores_equal_the_numpy_reference(context, as_of):
    households = random_households(seed=11, customers=400)
    await store(context, households)
    expected = expected_features(households, as_of)

    async with context.db.session() as session:
        population = await load_population(session, as_of)

    ids = population.customer_ids
    assert sorted(ids) == sorted(households.created)  # nobody dropped
    bought = population.has_purchases
    assert {c for c, b in zip(ids, bought, strict=True) if b} == set(
        expected.order_count
    )
    buyers = [c for c, b in zip(ids, bought, strict=True) if b]
    assert 100 < len(buyers) < 400  # both kinds of customer are present
    reference = rfm_positions(
        [expected.recency_days[c] for c in buyers],
        [expected.order_count[c] for c in buyers],
        [expected.total_spend[c] for c in buyers],
    )

    positions = population.positions
    assert positions is not None
    for name in ("r", "f", "m"):
        assert (
            getattr(positions, name)[bought].tolist()
            == getattr(reference, name).tolist()
        )
        assert np.allclose(
            getattr(positions, f"{name}_pct")[bought], getattr(reference, f"{name}_pct")
        )
    assert population.recency_days[bought].tolist() == [
        expected.recency_days[c] for c in buyers
    ]
    assert population.total_spend[bought].tolist() == [
        expected.total_spend[c] for c in buyers
    ]
    assert population.tenure_days.tolist() == [expected.tenure_days[c] for c in ids]
    # Ties exist, so the reference is exercised on equal values too.
    assert len(set(expected.order_count.values())) < len(buyers) / 4


async def test_purchases_after_the_snapshot_are_ignored(context):
    households = Households()
    customer = households.customer("A")
    households.order(customer, datetime(2017, 12, 1, tzinfo=UTC), [("P001", 1, 5.0)])
    households.order(
        customer, datetime(2018, 1, 1, 0, 0, 1, tzinfo=UTC), [("P001", 1, 7.0)]
    )
    await store(context, households)

    async with context.db.session() as session:
        population = await load_features(session, AS_OF, ["A"])

    assert population.order_count.tolist() == [1]
    assert population.total_spend.tolist() == [5.0]
    assert population.recency_days.tolist() == [31]
    assert population.positions is None


async def test_back_dated_snapshots_leave_out_accounts_not_yet_opened(context):
    households = Households()
    households.customer("early", YEAR_START)
    households.customer("late", datetime(2017, 11, 1, tzinfo=UTC))
    households.customer("late_buyer", datetime(2017, 11, 1, tzinfo=UTC))
    # Bought before the account's recorded opening (imported history).
    households.order("late_buyer", datetime(2017, 9, 1, tzinfo=UTC), [("P001", 1, 3.0)])
    await store(context, households)
    october = datetime(2017, 10, 1, tzinfo=UTC)

    async with context.db.session() as session:
        back_dated = await load_population(session, october, back_dated=True)
        present = await load_population(session, october)

    assert sorted(back_dated.customer_ids) == ["early", "late_buyer"]
    assert sorted(present.customer_ids) == ["early", "late", "late_buyer"]
    # An account stamped after the snapshot counts as opened at it.
    late = present.customer_ids.index("late")
    assert present.tenure_days[late] == 0


async def test_days_are_counted_in_the_store_time_zone(context):
    households = Households()
    households.customer("NY")
    # 03:00 UTC on 31 December is 22:00 on 30 December in New York.
    households.order("NY", datetime(2017, 12, 31, 3, tzinfo=UTC), [("P001", 1, 3.0)])
    await store(context, households)
    # Midnight of 1 January in New York.
    as_of = datetime(2018, 1, 1, 5, tzinfo=UTC)

    async with context.db.session() as session:
        utc = await load_features(session, as_of, ["NY"])
        local = await load_features(session, as_of, ["NY"], timezone="America/New_York")

    assert utc.recency_days.tolist() == [1]
    assert local.recency_days.tolist() == [2]


async def test_customers_without_purchases_are_not_ranked(context):
    households = Households()
    households.customer("buyer")
    households.order("buyer", AS_OF - timedelta(days=3), [("P001", 2, 2.5)])
    households.customer("browser", AS_OF - timedelta(days=4))
    await store(context, households)

    async with context.db.session() as session:
        population = await load_population(session, AS_OF)

    by_id = dict(zip(population.customer_ids, range(2), strict=True))
    assert population.positions is not None
    buyer, browser = by_id["buyer"], by_id["browser"]
    assert population.has_purchases.tolist()[buyer] is True
    assert population.has_purchases.tolist()[browser] is False
    assert population.recency_days[browser] == -1
    assert population.tenure_days[browser] == 4
    # A population of one buyer: the worst and only value scores 1.
    assert population.positions.r[buyer] == 1


async def test_both_aggregation_plans_agree(context):
    """Orders-first grouping (used on PostgreSQL) equals the one-pass form."""
    await store(context, random_households(seed=3, customers=150))
    one_pass = population_query(AS_OF, group_orders_first=False)
    two_step = population_query(AS_OF, group_orders_first=True)

    async with context.db.session() as session:
        first = sorted((await session.execute(one_pass)).all())
        second = sorted((await session.execute(two_step)).all())

    assert len(first) == 150
    assert first == second
