"""The insight consumer: applies a batch of events, exactly once each.

A batch is *planned* from a read-only snapshot, then *committed* in a short
writing transaction, so that on SQLite (one writer at a time) the accepting
requests are not held up by the reads and the rule evaluation:

1. plan: load the batch's unprocessed events and the households' stream
   states (building missing or stale ones from the purchases table, leaving
   out the lines of every unprocessed event and of the batch itself), mark
   late events, apply the events in event-time order and evaluate the rules;
2. commit: *claim* the events (``processed_at`` is set only where it was
   null); if all the planned events were claimed and no household state
   changed since the plan, store the plan; otherwise (another consumer got
   there first) plan again inside the transaction, with the states locked,
   for the events actually claimed. Then store the insights (a rule's key
   can be stored once), the states, the predictions, the watermark and the
   counters.

A redelivered or republished event is already processed: it is not claimed
and changes nothing. The notice for live push goes out after the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import polars as pl
import structlog
from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.catalogue.models import Product
from omnix.context import AppContext
from omnix.segments.segmentation import Policy
from omnix.streaming.apply import (
    ClaimedEvent,
    apply_purchases,
    apply_segment_updates,
)
from omnix.streaming.bus import StreamEntry, describe_error
from omnix.streaming.fanout import Notice
from omnix.streaming.history import (
    HISTORY_SCHEMA,
    HistoryCache,
    LineKey,
    WarmUp,
    by_household,
    empty_history,
    read_histories,
    warm_histories,
)
from omnix.streaming.insights import insight_json, store_insights
from omnix.streaming.models import (
    EVENT_CONSUMPTION_PREDICTION,
    EVENT_PURCHASE,
    EVENT_SEGMENT_UPDATE,
    StreamEvent,
    StreamProgress,
    dialect_insert,
)
from omnix.streaming.outlook import purchase_outlooks, store_outlooks
from omnix.streaming.placement import ReferenceCache
from omnix.streaming.recommendations import PartnerSource, recommendation_updates
from omnix.streaming.reminders import (
    ReportedPrediction,
    due_reminders,
    reported_predictions,
)
from omnix.streaming.rules import InsightDraft
from omnix.streaming.state import (
    CustomerState,
    build_states,
    load_states,
    save_states,
    stored_versions,
)
from omnix.streaming.state import versions as state_versions

if TYPE_CHECKING:
    from omnix.streaming.runtime import StreamingRuntime

log = structlog.get_logger()

_CHUNK = 500


@dataclass
class BatchOutcome:
    claimed: list[str] = field(default_factory=list)
    redelivered: int = 0
    late: int = 0
    latest_event_time: datetime | None = None
    insights: list[dict[str, Any]] = field(default_factory=list)

    @property
    def notice(self) -> Notice:
        return {"eventIds": self.claimed, "insights": self.insights}


@dataclass
class Plan:
    """What applying some events changes, computed before writing it."""

    events: list[ClaimedEvent]
    states: dict[str, CustomerState]
    # The households' lines known before these events, and the lines they add.
    histories: dict[str, pl.DataFrame] = field(default_factory=dict)
    applied: pl.DataFrame = field(default_factory=empty_history)
    drafts: list[InsightDraft] = field(default_factory=list)
    outlook_rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def event_ids(self) -> set[str]:
        return {event.event_id for event in self.events}


class InsightProcessor:
    """Turns batches of stream entries into insights (see the module doc)."""

    def __init__(self, context: AppContext, runtime: StreamingRuntime) -> None:
        self.context = context
        self.runtime = runtime
        self.settings = runtime.settings
        self.policy = Policy.of(context)
        self.zone = ZoneInfo(self.policy.timezone)
        self.references = ReferenceCache()
        self.partners = PartnerSource(context)
        self.histories = HistoryCache(self.settings.history_cache_households)

    async def warm_up(self) -> WarmUp:
        """Read the histories of the households that bought most recently,
        up to the cache's capacity, before taking events (see
        :mod:`omnix.streaming.history`)."""
        started = time.perf_counter()
        wall = self.context.clock.wall()
        async with self.context.db.session() as snapshot:
            stored = await stored_versions(snapshot)
            lines = await warm_histories(snapshot, self.histories, stored, wall)
        return WarmUp(len(self.histories), lines, time.perf_counter() - started)

    async def handle(self, entries: list[StreamEntry]) -> None:
        """The bus's batch handler: plan, commit, then notify."""
        ids = list(dict.fromkeys(entry.event_id for entry in entries))
        wall = self.context.clock.wall()
        async with self.context.db.session() as snapshot:
            events = await self._unprocessed(snapshot, ids)
            plan = await self.plan(snapshot, events, wall, lock=False)
        async with self.context.db.transaction() as session:
            claimed = await self._claim(session, list(plan.event_ids), wall)
            if set(claimed) != plan.event_ids or not await self._unchanged(
                session, plan
            ):
                taken = set(claimed)
                retry = [event for event in events if event.event_id in taken]
                plan = await self.plan(session, retry, wall, lock=True)
            outcome = await self._store(session, plan, wall)
            outcome.redelivered = len(entries) - len(outcome.claimed)
            await self._progress(session, outcome, wall)
        if plan.events:
            self._remember(plan, wall)
        if outcome.claimed:
            await self.runtime.notify(outcome.notice)

    async def tick(self) -> int:
        """One timer round: due and overdue products; returns insights raised."""
        wall = self.context.clock.wall()
        async with self.context.db.transaction() as session:
            drafts = await due_reminders(
                session, self.context.clock.now(), self.policy.timezone, wall
            )
            stored = await store_insights(session, drafts, wall)
        if stored:
            await self.runtime.notify(
                {"eventIds": [], "insights": [insight_json(d) for d in stored]}
            )
        return len(stored)

    async def plan(
        self,
        session: AsyncSession,
        events: list[ClaimedEvent],
        wall: datetime,
        *,
        lock: bool,
    ) -> Plan:
        """Apply ``events`` to their households' states, in memory."""
        customers = sorted({event.customer_id for event in events})
        states = await load_states(session, customers, lock=lock)
        horizon = wall - timedelta(hours=self.settings.state_refresh_hours)
        stale = {
            c
            for c in customers
            if c not in states or (states[c].refreshed_at or wall) < horizon
        }
        histories: dict[str, pl.DataFrame] = {}
        for customer_id in set(customers) - stale:
            known = self.histories.get(customer_id, states[customer_id].version)
            if known is not None:
                histories[customer_id] = known
        # Households never stored, whose lines the warm-up read: their state
        # is built from those lines, as refreshed when they were read.
        warmed = {
            c: kept
            for c in stale - set(states)
            if (kept := self.histories.unstated(c)) is not None
        }
        histories.update({c: kept.lines for c, kept in warmed.items()})
        buyers = {e.customer_id for e in events if e.kind == EVENT_PURCHASE}
        unread = sorted((buyers | stale) - set(histories))
        lines = empty_history()
        if unread:
            lines = await read_histories(session, unread, leave_out=_lines(events))
            histories.update(by_household(lines, unread))
        if stale:
            lines = pl.concat([lines, *(kept.lines for kept in warmed.values())])
            built = await build_states(
                session, sorted(stale), zone=self.zone, now=wall, lines=lines
            )
            for customer_id, state in built.items():
                state.version = (
                    states[customer_id].version if customer_id in states else None
                )
                if customer_id in warmed:
                    state.refreshed_at = warmed[customer_id].read_at
                states[customer_id] = state
        plan = Plan(
            events=await self._mark_late(session, events),
            states=states,
            histories={c: h for c, h in histories.items() if c in states},
        )
        by_kind: dict[str, list[ClaimedEvent]] = defaultdict(list)
        for event in sorted(plan.events, key=lambda e: e.at):
            if event.customer_id in states:
                by_kind[event.kind].append(event)
        purchases = by_kind[EVENT_PURCHASE]
        reference = None
        if purchases:
            reference = await self.references.get(
                session, self.context.clock.now(), self.policy.timezone
            )
        departments = await self._departments(session, purchases)
        plan.applied = _applied_lines(purchases, departments)
        facts, drafts = apply_purchases(
            purchases,
            states,
            departments,
            reference,
            zone=self.zone,
            new_customer_days=self.policy.new_customer_days,
        )
        plan.drafts += drafts
        plan.drafts += apply_segment_updates(by_kind[EVENT_SEGMENT_UPDATE], states)
        outlook = await purchase_outlooks(
            plan.histories, facts, tz=self.policy.timezone, now=wall
        )
        plan.drafts += outlook.drafts
        plan.outlook_rows += outlook.rows
        plan.drafts += await recommendation_updates(
            session, outlook.firsts, self.partners.index
        )
        reported, rows = await reported_predictions(
            session, _reports(by_kind[EVENT_CONSUMPTION_PREDICTION]), wall
        )
        plan.drafts += reported
        plan.outlook_rows += rows
        return plan

    def _remember(self, plan: Plan, wall: datetime) -> None:
        """Keep the households' lines after a commit that stored their states
        at version ``wall``."""
        added = by_household(plan.applied, plan.histories)
        for customer_id, history in plan.histories.items():
            lines = added[customer_id]
            if not lines.is_empty():
                history = pl.concat([history, lines])
            self.histories.put(customer_id, history, wall, wall)

    async def _unchanged(self, session: AsyncSession, plan: Plan) -> bool:
        """No household state of the plan was stored since it was read."""
        stored = await state_versions(session, list(plan.states))
        return all(
            stored.get(customer_id) == state.version
            for customer_id, state in plan.states.items()
        )

    async def _store(
        self, session: AsyncSession, plan: Plan, wall: datetime
    ) -> BatchOutcome:
        outcome = BatchOutcome(claimed=sorted(plan.event_ids))
        if not plan.events:
            return outcome
        outcome.latest_event_time = max(e.at for e in plan.events)
        late = [e.event_id for e in plan.events if e.late]
        outcome.late = len(late)
        if late:
            await session.execute(
                update(StreamEvent)
                .where(StreamEvent.event_id.in_(late))
                .values(late=True)
            )
        await save_states(session, [plan.states[c] for c in sorted(plan.states)], wall)
        await store_outlooks(session, plan.outlook_rows)
        stored = await store_insights(session, plan.drafts, wall)
        outcome.insights = [insight_json(draft) for draft in stored]
        return outcome

    async def _unprocessed(
        self, session: AsyncSession, ids: list[str]
    ) -> list[ClaimedEvent]:
        found: list[ClaimedEvent] = []
        for start in range(0, len(ids), _CHUNK):
            rows = await session.execute(
                select(
                    StreamEvent.event_id,
                    StreamEvent.event_type,
                    StreamEvent.customer_id,
                    StreamEvent.event_time,
                    StreamEvent.payload,
                ).where(
                    StreamEvent.event_id.in_(ids[start : start + _CHUNK]),
                    StreamEvent.processed_at.is_(None),
                )
            )
            found.extend(ClaimedEvent(*row) for row in rows.tuples())
        return found

    async def _claim(
        self, session: AsyncSession, ids: list[str], wall: datetime
    ) -> list[str]:
        claimed: list[str] = []
        for start in range(0, len(ids), _CHUNK):
            rows = await session.scalars(
                update(StreamEvent)
                .where(
                    StreamEvent.event_id.in_(ids[start : start + _CHUNK]),
                    StreamEvent.processed_at.is_(None),
                )
                .values(processed_at=wall)
                .returning(StreamEvent.event_id)
            )
            claimed.extend(rows)
        return claimed

    async def _mark_late(
        self, session: AsyncSession, events: list[ClaimedEvent]
    ) -> list[ClaimedEvent]:
        watermark = await session.scalar(
            select(StreamProgress.watermark).where(
                StreamProgress.stream == self.settings.stream
            )
        )
        if watermark is None:
            return events
        limit = watermark - timedelta(seconds=self.settings.allowed_lateness_s)
        return [
            ClaimedEvent(e.event_id, e.kind, e.customer_id, e.at, e.payload, True)
            if e.at < limit
            else e
            for e in events
        ]

    async def _departments(
        self, session: AsyncSession, purchases: list[ClaimedEvent]
    ) -> dict[str, str | None]:
        ids = sorted({e.payload["productId"] for e in purchases})
        found: dict[str, str | None] = {}
        for start in range(0, len(ids), _CHUNK):
            rows = await session.execute(
                select(Product.id, Product.department).where(
                    Product.id.in_(ids[start : start + _CHUNK])
                )
            )
            found.update(dict(rows.tuples().all()))
        return found

    async def _progress(
        self, session: AsyncSession, outcome: BatchOutcome, wall: datetime
    ) -> None:
        statement = dialect_insert(session, StreamProgress).values(
            stream=self.settings.stream,
            watermark=outcome.latest_event_time,
            processed_events=len(outcome.claimed),
            late_events=outcome.late,
            redelivered_events=outcome.redelivered,
            updated_at=wall,
        )
        table = StreamProgress.__table__.c
        new = statement.excluded
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["stream"],
                set_={
                    "watermark": case(
                        (table.watermark.is_(None), new.watermark),
                        (new.watermark.is_(None), table.watermark),
                        (new.watermark > table.watermark, new.watermark),
                        else_=table.watermark,
                    ),
                    "processed_events": table.processed_events + new.processed_events,
                    "late_events": table.late_events + new.late_events,
                    "redelivered_events": table.redelivered_events
                    + new.redelivered_events,
                    "updated_at": new.updated_at,
                },
            )
        )


def _lines(events: list[ClaimedEvent]) -> frozenset[LineKey]:
    """The purchase lines of the batch's purchase events."""
    return frozenset(
        (
            e.customer_id,
            str(e.payload["orderId"]),
            str(e.payload["productId"]),
            int(e.payload["lineNo"]),
        )
        for e in events
        if e.kind == EVENT_PURCHASE
    )


def _applied_lines(
    purchases: list[ClaimedEvent], departments: dict[str, str | None]
) -> pl.DataFrame:
    """The purchase lines of applied events, as a household history holds them."""
    return pl.DataFrame(
        [
            (
                e.customer_id,
                str(e.payload["orderId"]),
                str(e.payload["productId"]),
                int(e.payload["lineNo"]),
                e.at,
                float(e.payload["quantity"]),
                float(e.payload["price"]),
                departments.get(str(e.payload["productId"])),
            )
            for e in purchases
        ],
        schema=HISTORY_SCHEMA,
        orient="row",
    )


def _reports(events: list[ClaimedEvent]) -> list[ReportedPrediction]:
    return [
        ReportedPrediction(
            event_id=e.event_id,
            customer_id=e.customer_id,
            product_id=e.payload["productId"],
            product_name=e.payload.get("productName"),
            category=e.payload.get("productCategory"),
            predicted=date.fromisoformat(e.payload["predictedNextPurchaseDate"]),
            interval_days=e.payload.get("averageDaysBetweenPurchases"),
            confidence=float(e.payload.get("confidence", 0.5)),
            at=e.at,
            late=e.late,
        )
        for e in events
    ]


async def run_timer(processor: InsightProcessor, stop: asyncio.Event) -> None:
    """Raise time-only insights every ``due_check_s`` until ``stop``."""
    while not stop.is_set():
        try:
            await processor.tick()
        except Exception as exc:  # the next tick retries
            log.warning("streaming.timer_failed", error=describe_error(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), processor.settings.due_check_s)
