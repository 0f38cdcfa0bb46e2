"""Recomputation, migrations, recalculation, manual moves and the schedule."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import func, select

from omnix.errors import BadRequest, Conflict, NotFound
from omnix.segments.config import SegmentSettings
from omnix.segments.current import current_assignment_of, current_table
from omnix.segments.models import (
    SegmentAssignment,
    SegmentMigration,
    SegmentRun,
    SegmentRunTotal,
)
from omnix.segments.service import (
    forget_customer,
    migrate_manually,
    place_customers,
    recompute_all,
)
from omnix.segments.tasks import compute_demo_snapshots, run_segment_schedule
from omnix.segments.views import segment_since
from tests.segments.support import (
    AS_OF,
    YEAR_START,
    Households,
    champion_and_regulars,
    random_households,
    store,
)

OCTOBER = datetime(2017, 10, 1, tzinfo=UTC)


async def recompute(context, as_of, **options):
    async with context.db.transaction() as session:
        return await recompute_all(session, as_of, **options)


async def current(context, customer_id):
    """The current assignment and the start of its unbroken stay."""
    async with context.db.session() as session:
        assignment = await current_assignment_of(session, customer_id)
        assert assignment is not None
        since = await segment_since(session, customer_id, assignment.segment_id)
        return since, assignment


async def migrations(context, customer_id=None):
    async with context.db.session() as session:
        query = select(SegmentMigration).order_by(SegmentMigration.id)
        if customer_id:
            query = query.where(SegmentMigration.customer_id == customer_id)
        return (await session.scalars(query)).all()


async def test_time_alone_moves_a_champion_down(context):
    await store(context, champion_and_regulars())

    first = await recompute(context, OCTOBER)
    _, before = await current(context, "champ")
    assert before.segment_id == "champions"
    assert first.migration_count == 0  # nobody had a segment before

    # No new purchase by the champion; the calendar moved on.
    second = await recompute(context, AS_OF)
    since, after = await current(context, "champ")
    assert after.segment_id == "cant_lose_them"
    assert (before.r, after.r) == (4, 1)
    assert (after.f, after.m) == (5, 5)
    assert since == AS_OF
    assert second.migration_count >= 1

    [move] = await migrations(context, "champ")
    assert (move.from_segment_id, move.to_segment_id) == ("champions", after.segment_id)
    assert f"recency score {before.r} to {after.r}" in move.reason
    assert "last order 95 days ago, was 3" in move.reason
    # (value(Can't Lose Them) - value(Champions)) * (0.5 + 0.1 * 5)
    assert move.impact_score == pytest.approx(-4 / 7, abs=1e-4)
    assert move.manual is False
    assert move.as_of == AS_OF


async def test_a_new_customer_leaves_the_window_without_any_purchase(context):
    households = Households()
    households.customer("fresh", datetime(2017, 12, 20, tzinfo=UTC))
    households.order("fresh", datetime(2017, 12, 20, 9, tzinfo=UTC), [("P001", 1, 4.0)])
    households.customer("browser", datetime(2017, 12, 22, tzinfo=UTC))
    await store(context, households)

    await recompute(context, datetime(2017, 12, 25, tzinfo=UTC))
    assert (await current(context, "fresh"))[1].segment_id == "new_customers"
    assert (await current(context, "browser"))[1].segment_id == "new_customers"

    await recompute(context, datetime(2018, 2, 1, tzinfo=UTC))
    _, fresh = await current(context, "fresh")
    _, browser = await current(context, "browser")
    assert fresh.segment_id != "new_customers"
    assert browser.segment_id == "lost"  # never bought: placed by rule
    assert browser.confidence == 1.0
    assert browser.r is None
    reasons = {m.customer_id: m.reason for m in await migrations(context)}
    assert "past the 30-day new-customer window" in reasons["fresh"]
    assert "no purchase in 41 days since the account opened" in reasons["browser"]


async def test_snapshot_stores_everyone_with_features_and_totals(context):
    households = random_households(seed=5, customers=120)
    await store(context, households)

    summary = await recompute(context, AS_OF)

    async with context.db.session() as session:
        stored = (await session.scalars(select(SegmentAssignment))).all()
        totals = (await session.scalars(select(SegmentRunTotal))).all()
        pointers = await session.scalar(
            select(func.count()).select_from(current_table())
        )
    assert len(stored) == summary.customer_count == len(households.created) == pointers
    assert sum(summary.counts.values()) == 120
    assert {t.segment_id: t.customer_count for t in totals} == summary.counts
    assert sum(t.order_count for t in totals) == sum(a.order_count for a in stored)
    for a in stored:
        assert a.as_of == AS_OF
        assert 0.0 <= a.confidence <= 1.0
        if a.has_purchases:
            assert a.recency_days is not None
            assert 1 <= a.r <= 5
        else:
            assert a.r is None
            assert a.segment_id in ("new_customers", "lost")
    confidences = np.array([a.confidence for a in stored if a.has_purchases])
    assert confidences.std() > 0.05  # not a constant


async def test_back_dated_snapshot_does_not_move_anyone(context):
    await store(context, champion_and_regulars())
    await recompute(context, AS_OF)
    _, latest = await current(context, "champ")

    summary = await recompute(context, OCTOBER, back_dated=True)

    _, now = await current(context, "champ")
    assert summary.migration_count == 0
    assert (now.run_id, now.as_of) == (latest.run_id, AS_OF)
    assert await migrations(context) == []


async def test_recalculating_a_customer_reproduces_the_snapshot(context):
    await store(context, random_households(seed=9, customers=150))
    await recompute(context, AS_OF)
    ids = [f"H{i:04d}" for i in range(0, 150, 7)]

    async with context.db.session() as session:
        placed = await place_customers(session, ids, AS_OF)
        stored = {
            a.customer_id: a
            for a in await session.scalars(
                select(SegmentAssignment).where(SegmentAssignment.customer_id.in_(ids))
            )
        }

    positions = placed.population.positions
    for i, customer_id in enumerate(placed.population.customer_ids):
        a = stored[customer_id]
        assert placed.segment_ids[i] == a.segment_id
        assert placed.confidence[i] == pytest.approx(a.confidence)
        if a.has_purchases:
            assert (positions.r[i], positions.f[i], positions.m[i]) == (a.r, a.f, a.m)
            assert positions.m_pct[i] == pytest.approx(a.m_pct)


async def test_placing_before_any_snapshot_ranks_the_live_population(context):
    await store(context, champion_and_regulars())
    async with context.db.session() as session:
        placed = await place_customers(session, ["champ", "nobody"], OCTOBER)
    assert placed.population.customer_ids == ["champ"]
    assert placed.segment_ids.tolist() == ["champions"]


async def test_manual_migration_is_recorded_and_undone_by_the_next_recompute(context):
    await store(context, champion_and_regulars())
    await recompute(context, OCTOBER)

    async with context.db.transaction() as session:
        move = await migrate_manually(
            session, customer_id="champ", from_segment="champions",
            to_segment="loyal_customers", reason="VIP review", impact_score=None,
            as_of=OCTOBER, recorded_by="user-1",
        )  # fmt: skip
    assert move.manual
    assert move.reason == "VIP review"
    assert move.impact_score == pytest.approx(-1 / 7, abs=1e-4)  # (6/7 - 1) * 1
    since, assignment = await current(context, "champ")
    assert (assignment.segment_id, assignment.confidence) == ("loyal_customers", 1.0)
    assert since == OCTOBER
    assert assignment.order_count > 50  # the features travel with the move

    await recompute(context, AS_OF)
    moves = await migrations(context, "champ")
    assert [(m.from_segment_id, m.manual) for m in moves] == [
        ("champions", True),
        ("loyal_customers", False),
    ]


SAME = {"from_segment": "champions", "to_segment": "champions"}
UNKNOWN = {"from_segment": "vip", "to_segment": "lost"}
STALE = {"from_segment": "lost", "to_segment": "at_risk"}


@pytest.mark.parametrize(
    ("options", "error", "text"),
    [
        (SAME, BadRequest, "not a migration"),
        (UNKNOWN, BadRequest, "valid: champions"),
        (STALE, Conflict, "is in 'champions'"),
        ({"customer_id": "ghost"}, NotFound, "ghost"),
    ],
)
async def test_bad_manual_migrations(context, options, error, text):
    await store(context, champion_and_regulars())
    await recompute(context, OCTOBER)
    arguments = {
        "customer_id": "champ",
        "from_segment": "champions",
        "to_segment": "lost",
        **options,
    }
    async with context.db.transaction() as session:
        with pytest.raises(error, match=text):
            await migrate_manually(
                session, reason="x", impact_score=None, as_of=OCTOBER,
                recorded_by="user-1", **arguments,
            )  # fmt: skip


async def test_schedule_is_off_unless_configured(context):
    context.extras["segment_settings"] = SegmentSettings()
    await asyncio.wait_for(run_segment_schedule(context), timeout=1)


async def test_schedule_recomputes_repeatedly(context):
    await store(context, champion_and_regulars())
    context.extras["segment_settings"] = SegmentSettings(recompute_minutes=0.002)
    task = asyncio.create_task(run_segment_schedule(context))

    async def runs() -> int:
        async with context.db.session() as session:
            return (
                await session.scalar(select(func.count()).select_from(SegmentRun)) or 0
            )

    try:
        for _ in range(200):
            if await runs() >= 2:
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert await runs() >= 2


async def test_demo_snapshots_are_computed_once(context):
    await store(context, champion_and_regulars())
    await compute_demo_snapshots(context)
    await compute_demo_snapshots(context)

    async with context.db.session() as session:
        runs = (await session.scalars(select(SegmentRun).order_by(SegmentRun.id))).all()
    assert [r.as_of for r in runs] == [OCTOBER, AS_OF]
    assert runs[1].migration_count > 0
    assert YEAR_START < OCTOBER


async def test_forgetting_a_customer_removes_their_assignments(context):
    await store(context, champion_and_regulars())
    await recompute(context, OCTOBER)
    await recompute(context, AS_OF)

    async with context.db.transaction() as session:
        deleted = await forget_customer(session, "champ")
    async with context.db.session() as session:
        assert await current_assignment_of(session, "champ") is None
        assert await current_assignment_of(session, "R01") is not None
    assert deleted == 2
