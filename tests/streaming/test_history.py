"""Households' lines kept by the consumer between batches (streaming.history)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select

from omnix.context import AppContext
from omnix.customers.models import PurchaseLine
from omnix.streaming.models import (
    CustomerStreamState,
    ProductOutlook,
    StreamEvent,
    StreamInsight,
    StreamProgress,
)
from omnix.streaming.processor import InsightProcessor
from omnix.streaming.state import build_states
from tests.streaming.households import (
    START,
    accept,
    add_products,
    purchase_event,
    regular_household,
    runtime_of,
)

LAST_ORDER = START + timedelta(days=29 * 7)
UTC_ZONE = ZoneInfo("UTC")


async def _outlook(context: AppContext, customer_id: str) -> ProductOutlook:
    async with context.db.session() as session:
        outlook = await session.get(ProductOutlook, (customer_id, "COFFEE"))
    assert outlook is not None
    return outlook


async def test_a_household_changed_by_another_consumer_is_read_again(
    context: AppContext,
) -> None:
    """Two consumers take turns on one household: each sees the other's lines
    (a kept history of an older state version would miss them)."""
    await add_products(context)
    await regular_household(context, "H1")
    runtime = runtime_of(context)
    first, second = (
        InsightProcessor(context, runtime),
        InsightProcessor(context, runtime),
    )
    days = [LAST_ORDER + timedelta(days=d, hours=1) for d in (2, 4, 6)]

    for processor, day in zip((first, second, first), days, strict=True):
        event = purchase_event("H1", "COFFEE", at=day, orderId=f"o-{day.day}")
        await processor.handle(await accept(context, runtime, [event]))

    assert len(first.histories) == 1
    assert (await _outlook(context, "H1")).purchase_days == 33
    async with context.db.session() as session:
        stored = await session.get(CustomerStreamState, "H1")
        rebuilt = await build_states(session, ["H1"], zone=UTC_ZONE, now=days[-1])
    assert stored is not None
    assert stored.order_count == rebuilt["H1"].order_count == 33
    assert round(stored.total_spend, 2) == round(rebuilt["H1"].total_spend, 2)
    assert stored.department_counts == rebuilt["H1"].department_counts


async def test_kept_histories_decide_as_reading_them_every_batch(
    context: AppContext,
) -> None:
    """The same batches applied with the histories kept and with none kept
    store the same states, predictions and insights."""
    await add_products(context)
    for customer_id in ("H1", "H2"):
        await regular_household(context, customer_id)
    batches = [
        [
            purchase_event("H1", "COFFEE", at=LAST_ORDER + timedelta(days=3)),
            purchase_event("H2", "TV", at=LAST_ORDER + timedelta(days=3), price=450),
        ],
        [
            purchase_event("H1", "MILK", at=LAST_ORDER + timedelta(days=5)),
            purchase_event("H1", "COFFEE", at=LAST_ORDER + timedelta(days=5)),
            purchase_event("H2", "COFFEE", at=LAST_ORDER + timedelta(days=6)),
        ],
    ]
    outcomes = []
    for kept in (5, 0):
        context.extras.pop("streaming", None)  # a runtime with these settings
        runtime = runtime_of(context, history_cache_households=kept)
        processor = InsightProcessor(context, runtime)
        for number, batch in enumerate(batches):
            events = [
                {**event, "orderId": f"k{kept}-{number}-{event['customerId']}"}
                for event in batch
            ]
            await processor.handle(await accept(context, runtime, events))
        assert len(processor.histories) == min(kept, 2)
        async with context.db.session() as session:
            states = {
                s.customer_id: (s.order_count, round(s.total_spend, 2))
                for s in await session.scalars(select(CustomerStreamState))
            }
            outlooks = {
                (o.customer_id, o.product_id): (o.purchase_days, o.predicted_date)
                for o in await session.scalars(select(ProductOutlook))
            }
            rules = sorted(
                (i.customer_id, i.rule)
                for i in await session.scalars(select(StreamInsight))
            )
        outcomes.append((states, outlooks, rules))
        await _forget_stream(context)
    assert outcomes[0] == outcomes[1]


async def _forget_stream(context: AppContext) -> None:
    """Undo what the consumer stored and the events' lines, for a rerun."""
    async with context.db.transaction() as session:
        for table in (
            StreamInsight,
            ProductOutlook,
            CustomerStreamState,
            StreamEvent,
            StreamProgress,
        ):
            await session.execute(delete(table))
        await session.execute(
            delete(PurchaseLine).where(PurchaseLine.order_id.like("k%"))
        )


async def test_a_rebuilt_state_reads_the_lines_of_other_paths(
    context: AppContext,
) -> None:
    """A line stored through the purchases table, not the stream, reaches the
    kept history when the household's state is rebuilt."""
    await add_products(context)
    await regular_household(context, "H1")
    runtime = runtime_of(context, state_refresh_hours=1e-9)  # rebuilt every batch
    processor = InsightProcessor(context, runtime)
    first, other, last = (LAST_ORDER + timedelta(days=d) for d in (2, 4, 6))
    await processor.handle(
        await accept(context, runtime, [purchase_event("H1", at=first)])
    )
    async with context.db.transaction() as session:
        session.add(
            PurchaseLine(
                customer_id="H1",
                order_id="till",
                product_id="COFFEE",
                line_no=0,
                quantity=1,
                price=8.0,
                purchased_at=other,
            )
        )
    await processor.handle(
        await accept(context, runtime, [purchase_event("H1", at=last)])
    )
    assert (await _outlook(context, "H1")).purchase_days == 33


async def test_a_warmed_up_consumer_decides_as_one_reading_on_first_sight(
    context: AppContext,
) -> None:
    """Histories read before the first event (the warm-up) store the same
    states, predictions and insights as histories read on first sight."""
    await add_products(context)
    for customer_id in ("H1", "H2"):
        await regular_household(context, customer_id)
    batch = [
        purchase_event("H1", "COFFEE", at=LAST_ORDER + timedelta(days=3)),
        purchase_event("H2", "TV", at=LAST_ORDER + timedelta(days=3), price=450),
        purchase_event("H2", "COFFEE", at=LAST_ORDER + timedelta(days=6)),
    ]
    outcomes = []
    for warm in (True, False):
        context.extras.pop("streaming", None)
        runtime = runtime_of(context)
        processor = InsightProcessor(context, runtime)
        if warm:
            done = await processor.warm_up()
            assert (done.households, done.lines) == (2, 180)
        events = [{**event, "orderId": f"k{warm}-{i}"} for i, event in enumerate(batch)]
        await processor.handle(await accept(context, runtime, events))
        async with context.db.session() as session:
            states = {
                s.customer_id: (s.order_count, round(s.total_spend, 2))
                for s in await session.scalars(select(CustomerStreamState))
            }
            outlooks = {
                (o.customer_id, o.product_id): (o.purchase_days, o.predicted_date)
                for o in await session.scalars(select(ProductOutlook))
            }
            rules = sorted(
                (i.customer_id, i.rule)
                for i in await session.scalars(select(StreamInsight))
            )
        outcomes.append((states, outlooks, rules))
        await _forget_stream(context)
    assert outcomes[0] == outcomes[1]


async def test_a_state_stored_after_the_warm_up_sends_the_household_back(
    context: AppContext,
) -> None:
    """Another consumer applies an event of a household after this one's
    warm-up: this one reads the household again and sees that line."""
    await add_products(context)
    await regular_household(context, "H1")
    runtime = runtime_of(context)
    warmed, other = (
        InsightProcessor(context, runtime),
        InsightProcessor(context, runtime),
    )
    await warmed.warm_up()
    first, last = (LAST_ORDER + timedelta(days=d, hours=1) for d in (2, 4))
    event = purchase_event("H1", "COFFEE", at=first, orderId="o-first")
    await other.handle(await accept(context, runtime, [event]))
    event = purchase_event("H1", "COFFEE", at=last, orderId="o-last")
    await warmed.handle(await accept(context, runtime, [event]))
    assert (await _outlook(context, "H1")).purchase_days == 32
