"""The insight consumer: applies a batch of events in one transaction.

For a batch read from the stream, one database transaction:

1. locks the households' stream states (PostgreSQL) and builds the missing
   or stale ones from the purchases table, leaving out unprocessed events;
2. *claims* the events: ``processed_at`` is set only on rows where it was
   null, and only the rows claimed here are applied, so a redelivered or
   republished event changes nothing (exactly-once effect over an
   at-least-once bus);
3. marks events older than the watermark minus the allowed lateness as late
   (applied to the features, no real-time insight), applies the rest in
   event-time order and evaluates the rules;
4. stores the insights (a rule's key can be stored once), the states, and
   the stream's watermark and counters.

The notice for live push goes out after the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.catalogue.models import Product
from omnix.context import AppContext
from omnix.segments.segmentation import Policy
from omnix.streaming import schemas
from omnix.streaming.apply import (
    ClaimedEvent,
    apply_purchases,
    apply_segment_updates,
)
from omnix.streaming.bus import StreamEntry, describe_error
from omnix.streaming.fanout import Notice
from omnix.streaming.models import (
    EVENT_CONSUMPTION_PREDICTION,
    EVENT_PURCHASE,
    EVENT_SEGMENT_UPDATE,
    StreamEvent,
    StreamInsight,
    StreamProgress,
    dialect_insert,
)
from omnix.streaming.outlook import purchase_outlooks
from omnix.streaming.placement import ReferenceCache
from omnix.streaming.recommendations import PartnerSource, recommendation_updates
from omnix.streaming.reminders import (
    ReportedPrediction,
    due_reminders,
    reported_predictions,
)
from omnix.streaming.rules import InsightDraft
from omnix.streaming.state import build_states, lock_states, save_states

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


def insight_json(row: StreamInsight | InsightDraft) -> dict[str, Any]:
    """The RealtimeInsight of a stored row or a draft, as JSON."""
    if isinstance(row, InsightDraft):
        values = (row.insight_type, row.text, row.action_required, row.priority)
    else:
        values = (row.insight_type, row.insight, row.action_required, row.priority)
    return schemas.RealtimeInsight(
        customer_id=row.customer_id,
        insight_type=values[0],
        insight=values[1],
        action_required=values[2],
        priority=values[3],
        timestamp=row.event_time,
        data=row.data,
    ).model_dump(mode="json", by_alias=True)


async def store_insights(
    session: AsyncSession, drafts: list[InsightDraft], now: datetime
) -> list[InsightDraft]:
    """Insert the drafts whose key is new; returns those inserted."""
    unique = list({draft.key: draft for draft in drafts}.values())
    inserted: set[str] = set()
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        statement = (
            dialect_insert(session)(StreamInsight)
            .on_conflict_do_nothing()
            .returning(StreamInsight.insight_key)
        )
        rows = [
            {
                "insight_key": d.key,
                "customer_id": d.customer_id,
                "event_id": d.event_id,
                "insight_type": d.insight_type,
                "rule": d.rule,
                "priority": d.priority,
                "action_required": d.action_required,
                "insight": d.text,
                "data": d.data,
                "event_time": d.event_time,
                "created_at": now,
            }
            for d in chunk
        ]
        inserted.update((await session.scalars(statement, rows)).all())
    return [draft for draft in unique if draft.key in inserted]


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

    async def handle(self, entries: list[StreamEntry]) -> None:
        """The bus's batch handler: apply, commit, then notify."""
        ids = list(dict.fromkeys(entry.event_id for entry in entries))
        wall = self.context.clock.wall()
        async with self.context.db.transaction() as session:
            outcome = await self.apply(session, ids, wall)
            outcome.redelivered = len(entries) - len(outcome.claimed)
            await self._progress(session, outcome, wall)
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

    async def apply(
        self, session: AsyncSession, event_ids: list[str], wall: datetime
    ) -> BatchOutcome:
        customers = await self._customers(session, event_ids)
        states = await lock_states(session, customers)
        horizon = wall - timedelta(hours=self.settings.state_refresh_hours)
        stale = [
            c
            for c in customers
            if c not in states or (states[c].refreshed_at or wall) < horizon
        ]
        states.update(await build_states(session, stale, zone=self.zone, now=wall))
        events = await self._claim(session, event_ids, wall)
        outcome = BatchOutcome(claimed=[e.event_id for e in events])
        if not events:
            return outcome
        outcome.latest_event_time = max(e.at for e in events)
        events = await self._mark_late(session, events)
        outcome.late = sum(e.late for e in events)
        drafts: list[InsightDraft] = []
        by_kind: dict[str, list[ClaimedEvent]] = defaultdict(list)
        for event in sorted(events, key=lambda e: e.at):
            if event.customer_id in states:
                by_kind[event.kind].append(event)
        purchases = by_kind[EVENT_PURCHASE]
        departments = await self._departments(session, purchases)
        reference = None
        if purchases:
            reference = await self.references.get(
                session, self.context.clock.now(), self.policy.timezone
            )
        facts, purchase_drafts = apply_purchases(
            purchases,
            states,
            departments,
            reference,
            zone=self.zone,
            new_customer_days=self.policy.new_customer_days,
        )
        drafts += purchase_drafts
        drafts += apply_segment_updates(by_kind[EVENT_SEGMENT_UPDATE], states)
        rhythm, firsts = await purchase_outlooks(
            session, facts, tz=self.policy.timezone, now=wall
        )
        drafts += rhythm
        drafts += await recommendation_updates(session, firsts, self.partners.index)
        drafts += await reported_predictions(
            session, _reports(by_kind[EVENT_CONSUMPTION_PREDICTION]), wall
        )
        await save_states(session, [states[c] for c in sorted(states)], wall)
        stored = await store_insights(session, drafts, wall)
        outcome.insights = [insight_json(draft) for draft in stored]
        return outcome

    async def _customers(self, session: AsyncSession, ids: list[str]) -> list[str]:
        found: set[str] = set()
        for start in range(0, len(ids), _CHUNK):
            rows = await session.scalars(
                select(StreamEvent.customer_id).where(
                    StreamEvent.event_id.in_(ids[start : start + _CHUNK]),
                    StreamEvent.processed_at.is_(None),
                )
            )
            found.update(rows)
        return sorted(found)

    async def _claim(
        self, session: AsyncSession, ids: list[str], wall: datetime
    ) -> list[ClaimedEvent]:
        claimed: list[ClaimedEvent] = []
        for start in range(0, len(ids), _CHUNK):
            rows = await session.execute(
                update(StreamEvent)
                .where(
                    StreamEvent.event_id.in_(ids[start : start + _CHUNK]),
                    StreamEvent.processed_at.is_(None),
                )
                .values(processed_at=wall)
                .returning(
                    StreamEvent.event_id,
                    StreamEvent.event_type,
                    StreamEvent.customer_id,
                    StreamEvent.event_time,
                    StreamEvent.payload,
                )
            )
            claimed.extend(ClaimedEvent(*row) for row in rows.tuples())
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
        late = [e.event_id for e in events if e.at < limit]
        if late:
            await session.execute(
                update(StreamEvent)
                .where(StreamEvent.event_id.in_(late))
                .values(late=True)
            )
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
        statement = dialect_insert(session)(StreamProgress).values(
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
                index_elements=[StreamProgress.stream],
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
