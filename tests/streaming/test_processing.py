"""The insight consumer, driven directly: state, idempotency, time, rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from sqlalchemy import func, select

from omnix.clock import Clock
from omnix.context import AppContext
from omnix.engine.cooccurrence import product_neighbours
from omnix.segments.features import load_features
from omnix.segments.service import place_customers
from omnix.segments.tasks import recompute_now
from omnix.streaming.models import (
    CustomerStreamState,
    ProductOutlook,
    StreamEvent,
    StreamInsight,
    StreamProgress,
)
from omnix.streaming.placement import ReferenceCache, snapshot
from omnix.streaming.processor import InsightProcessor
from omnix.streaming.recommendations import PartnerIndex
from omnix.streaming.state import build_states
from tests.factories import make_customer
from tests.segments.support import Households, store
from tests.streaming.households import (
    START,
    accept,
    add_products,
    purchase_event,
    regular_household,
    runtime_of,
)

UTC_ZONE = ZoneInfo("UTC")
LAST_ORDER = START + timedelta(days=29 * 7)  # H1's 30th weekly order


async def _insights(context: AppContext) -> list[StreamInsight]:
    async with context.db.session() as session:
        return list(
            await session.scalars(select(StreamInsight).order_by(StreamInsight.id))
        )


async def _progress(context: AppContext) -> StreamProgress:
    async with context.db.session() as session:
        progress = await session.get(StreamProgress, "customer-events")
    assert progress is not None
    return progress


async def test_state_counts_every_line_once(context: AppContext) -> None:
    """Built while events are pending, then applied: the state equals the
    segment features computed from the purchases table."""
    await add_products(context)
    await regular_household(context, "H1")
    runtime = runtime_of(context)
    at = LAST_ORDER + timedelta(days=3)
    entries = await accept(
        context,
        runtime,
        [
            purchase_event("H1", "COFFEE", at=at, orderId="new"),
            purchase_event("H1", "MILK", at=at, orderId="new", quantity=2, price=1.5),
            purchase_event("H1", "BREAD", at=at + timedelta(days=1), price=4.0),
        ],
    )
    async with context.db.session() as session:
        before = (await build_states(session, ["H1"], zone=UTC_ZONE, now=at))["H1"]
    assert before.order_count == 30
    assert before.last_purchase_at == LAST_ORDER + timedelta(minutes=2)

    processor = InsightProcessor(context, runtime)
    await processor.handle(entries)

    as_of = datetime(2018, 1, 1, tzinfo=UTC)
    async with context.db.session() as session:
        stored = await session.get(CustomerStreamState, "H1")
        expected = await load_features(session, as_of, ["H1"])
    assert stored is not None
    assert stored.order_count == int(expected.order_count[0]) == 32
    assert round(stored.total_spend, 2) == float(expected.total_spend[0])
    assert stored.last_purchase_at == expected.last_purchase_at[0]
    assert stored.first_purchase_at == expected.first_purchase_at[0]
    assert sum(stored.hour_counts) == 32
    assert stored.department_counts == {"Grocery": 31, "Dairy": 31, "Bakery": 31}


async def test_a_redelivered_batch_changes_nothing(context: AppContext) -> None:
    await add_products(context)
    await regular_household(context, "H1")
    runtime = runtime_of(context)
    at = LAST_ORDER + timedelta(days=2, hours=5)
    entries = await accept(
        context,
        runtime,
        [purchase_event("H1", "TV", at=at, price=450.0, orderId="tv")],
    )
    processor = InsightProcessor(context, runtime)
    await processor.handle(entries)
    insights = [(i.insight_key, i.data) for i in await _insights(context)]
    async with context.db.session() as session:
        state = await session.get(CustomerStreamState, "H1")
    assert state is not None
    orders, spend = state.order_count, state.total_spend

    await processor.handle(entries + entries)  # redelivered, twice in one read

    assert [(i.insight_key, i.data) for i in await _insights(context)] == insights
    async with context.db.session() as session:
        again = await session.get(CustomerStreamState, "H1")
    assert again is not None
    assert (again.order_count, again.total_spend) == (orders, spend)
    progress = await _progress(context)
    assert progress.processed_events == 1
    assert progress.redelivered_events == 2


async def test_late_events_count_but_raise_nothing(context: AppContext) -> None:
    await add_products(context)
    await regular_household(context, "H1")
    runtime = runtime_of(context, allowed_lateness_s=3600)
    processor = InsightProcessor(context, runtime)
    now = LAST_ORDER + timedelta(days=7)
    await processor.handle(
        await accept(context, runtime, [purchase_event("H1", at=now, orderId="a")])
    )
    # 30 minutes late: within the lateness, evaluated (a huge basket).
    slightly = purchase_event(
        "H1", "TV", at=now - timedelta(minutes=30), price=400.0, orderId="b"
    )
    # Two hours late: counted and applied to the features, no insight.
    very = purchase_event(
        "H1", "TV", at=now - timedelta(hours=2), price=400.0, orderId="c"
    )
    await processor.handle(await accept(context, runtime, [slightly, very]))

    keys = {i.insight_key for i in await _insights(context)}
    assert "basket:H1:b" in keys
    assert not any(":c" in key for key in keys)
    progress = await _progress(context)
    assert progress.late_events == 1
    assert progress.processed_events == 3
    assert progress.watermark == now
    async with context.db.session() as session:
        late = await session.scalar(
            select(func.count()).where(StreamEvent.late.is_(True))
        )
        state = await session.get(CustomerStreamState, "H1")
    assert late == 1
    assert state is not None
    assert state.order_count == 33


async def test_an_early_purchase_moves_the_prediction_and_the_timer_raises_due(
    context: AppContext,
) -> None:
    await add_products(context)
    await regular_household(context, "H1")
    runtime = runtime_of(context)
    processor = InsightProcessor(context, runtime)
    # Weekly coffee, bought again after three days: four days early.
    early = LAST_ORDER + timedelta(days=3)
    await processor.handle(
        await accept(context, runtime, [purchase_event("H1", at=early)])
    )
    (insight,) = await _insights(context)
    assert insight.insight_type == "consumption_prediction"
    assert insight.rule == "rhythm_changed"
    assert insight.data["productId"] == "COFFEE"
    assert insight.data["daysFromPrediction"] < -2
    assert insight.priority in ("low", "medium")
    async with context.db.session() as session:
        outlook = await session.get(ProductOutlook, ("H1", "COFFEE"))
    assert outlook is not None
    assert outlook.purchase_days == 31
    predicted = outlook.predicted_date
    assert predicted > early.date()

    # Time alone: nothing yet, due on the predicted day, overdue later.
    context.clock = Clock(datetime.combine(predicted, datetime.min.time(), UTC))
    assert await processor.tick() == 1
    assert await processor.tick() == 0
    context.clock = Clock(context.clock.now() + timedelta(days=4))
    assert await processor.tick() == 1
    assert await processor.tick() == 0
    rules = [(i.rule, i.priority, i.action_required) for i in await _insights(context)]
    assert rules[1:] == [("due", "medium", True), ("overdue", "high", True)]


async def _population(context: AppContext) -> Households:
    """Forty households of varied value and one lapsed big spender."""
    households = Households()
    rng = np.random.default_rng(7)
    last = datetime(2017, 12, 28, 10, tzinfo=UTC)
    for number in range(40):
        customer = households.customer(f"P{number:02d}")
        households.regular(
            customer,
            every_days=int(rng.integers(5, 40)),
            last=last - timedelta(days=int(rng.integers(0, 150))),
            basket=float(rng.integers(10, 120)),
        )
    lapsed = households.customer("LAPSED")
    households.regular(
        lapsed, every_days=4, last=datetime(2017, 7, 1, tzinfo=UTC), basket=150.0
    )
    await store(context, households)
    return households


async def test_placement_equals_the_segments_service(context: AppContext) -> None:
    await _population(context)
    as_of = datetime(2018, 1, 1, tzinfo=UTC)
    ids = ["P00", "P07", "P13", "P21", "P39", "LAPSED"]
    for recomputed in (False, True):
        if recomputed:
            await recompute_now(context, as_of, triggered_by="test")
        async with context.db.session() as session:
            states = await build_states(session, ids, zone=UTC_ZONE, now=as_of)
            reference = await ReferenceCache().get(session, as_of, "UTC")
            expected = await place_customers(session, ids, as_of)
        mine = reference.place(
            [snapshot(states[c], as_of, UTC_ZONE) for c in ids], new_customer_days=30
        )
        order = expected.population.customer_ids
        assert [p.segment_id for p in mine] == [
            str(expected.segment_ids[order.index(c)]) for c in ids
        ]
        assert [p.confidence for p in mine] == [
            float(expected.confidence[order.index(c)]) for c in ids
        ]


async def test_a_lapsed_big_spender_buying_again_is_a_win_back(
    context: AppContext,
) -> None:
    await _population(context)
    await recompute_now(context, datetime(2018, 1, 1, tzinfo=UTC), triggered_by="t")
    runtime = runtime_of(context)
    processor = InsightProcessor(context, runtime)
    at = datetime(2017, 12, 31, 11, tzinfo=UTC)
    event = purchase_event("LAPSED", "P001", at=at, price=75.0, quantity=2)
    await processor.handle(await accept(context, runtime, [event]))

    (migration,) = [i for i in await _insights(context) if i.rule == "segment_changed"]
    assert migration.data["fromSegment"] in ("at_risk", "cant_lose_them")
    assert migration.data["toSegment"] == "champions"
    assert migration.priority == "high"
    assert migration.action_required is True
    assert migration.data["before"]["r"] == 1
    assert migration.data["after"]["r"] == 5
    assert "recency score 1 to 5" in migration.insight
    async with context.db.session() as session:
        state = await session.get(CustomerStreamState, "LAPSED")
    assert state is not None
    assert state.segment_id == "champions"


async def test_a_first_purchase_brings_in_its_basket_partners(
    context: AppContext,
) -> None:
    households = await _population(context)
    # P001 and P002 travel together in a third of the population's orders.
    for number in range(40):
        for week in range(3):
            when = datetime(2017, 9, 4, 10, tzinfo=UTC) + timedelta(weeks=week)
            households.order(
                f"P{number:02d}",
                when + timedelta(hours=number),
                [("P001", 1, 2.0), ("P002", 1, 3.0)],
                order_id=f"pair-{number}-{week}",
            )
    order_lines = pl.DataFrame(
        [(line["order_id"], line["product_id"]) for line in households.lines],
        schema=["order_id", "product_id"],
        orient="row",
    )
    await make_customer(context, "NEWBIE")
    runtime = runtime_of(context)
    processor = InsightProcessor(context, runtime)
    processor.partners.index = PartnerIndex(product_neighbours(order_lines))
    at = datetime(2017, 12, 31, 11, tzinfo=UTC)
    await processor.handle(
        await accept(context, runtime, [purchase_event("NEWBIE", "P001", at=at)])
    )
    (update,) = [
        i for i in await _insights(context) if i.insight_type == "recommendation_update"
    ]
    suggestions = update.data["recommendations"]
    assert suggestions[0]["productId"] == "P002"
    assert suggestions[0]["lift"] >= 2
    assert update.data["triggerProductId"] == "P001"
