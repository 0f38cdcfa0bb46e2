"""Applying claimed events to household states, and the rules they trigger.

Pure functions over :class:`~omnix.streaming.state.CustomerState`: the
processor loads and stores, these decide. Events arrive here in event-time
order; late events update the features but raise nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from omnix.engine.segments_catalogue import get_segment
from omnix.streaming.outlook import PurchaseFact
from omnix.streaming.placement import Reference, Snapshot, snapshot
from omnix.streaming.rules import (
    MIN_ORDERS_FOR_BASKET,
    InsightDraft,
    OrderLine,
    basket_anomaly,
    log_spread,
    migration_draft,
    migration_priority,
    new_department,
    reported_migration_impact,
    segment_migration,
    unusual_hour,
)
from omnix.streaming.state import CustomerState


@dataclass(frozen=True)
class ClaimedEvent:
    """An event this transaction claimed from the outbox."""

    event_id: str
    kind: str
    customer_id: str
    at: datetime
    payload: dict[str, Any]
    late: bool = False


# (household, order, orders compared, their total) -> log_spread of them: the
# other orders do not change while the lines of one basket arrive.
SpreadCache = dict[tuple[str, str, int, float], tuple[float, float]]


def _apply_line(
    state: CustomerState,
    event: ClaimedEvent,
    department: str | None,
    zone: ZoneInfo,
    spreads: SpreadCache,
) -> list[InsightDraft]:
    payload = event.payload
    value = float(payload["quantity"]) * float(payload["price"])
    order_id = str(payload["orderId"])
    drafts: list[InsightDraft] = []
    if not event.late:
        previous = state.order_value(order_id)
        line = OrderLine(event.customer_id, event.event_id, order_id, event.at)
        others = state.other_order_values(order_id)
        spread = None
        if len(others) >= MIN_ORDERS_FOR_BASKET:
            key = (event.customer_id, order_id, len(others), sum(others))
            if key not in spreads:
                spreads[key] = log_spread(others)
            spread = spreads[key]
        found = [
            basket_anomaly(
                line,
                basket_value=(previous or 0.0) + value,
                other_orders=others,
                spread=spread,
            ),
            new_department(
                line,
                department=department,
                product_id=str(payload["productId"]),
                department_counts=state.department_counts,
                orders_before=state.order_count - (0 if previous is None else 1),
            ),
        ]
        if previous is None:
            found.append(
                unusual_hour(
                    line,
                    hour=event.at.astimezone(zone).hour,
                    hour_counts=state.hour_counts,
                )
            )
        drafts = [draft for draft in found if draft is not None]
    state.add_line(order_id, event.at, value, department, zone)
    return drafts


def apply_purchases(
    events: list[ClaimedEvent],
    states: Mapping[str, CustomerState],
    departments: Mapping[str, str | None],
    reference: Reference | None,
    *,
    zone: ZoneInfo,
    new_customer_days: int,
) -> tuple[list[PurchaseFact], list[InsightDraft]]:
    """Apply purchase lines; behaviour and segment insights.

    A household's segment is placed before and after its purchases of the
    batch, at the time of its latest one, against the same reference; a
    change is attributed to that latest purchase. (Batches are small when
    events trickle in, so this is the purchase that moved it.)
    """
    by_customer: dict[str, list[ClaimedEvent]] = {}
    spreads: SpreadCache = {}
    for event in events:
        by_customer.setdefault(event.customer_id, []).append(event)
    facts: list[PurchaseFact] = []
    drafts: list[InsightDraft] = []
    befores: list[Snapshot] = []
    afters: list[Snapshot] = []
    triggers: list[ClaimedEvent] = []
    for customer_id, mine in by_customer.items():
        state = states[customer_id]
        live = [event for event in mine if not event.late]
        before = snapshot(state, live[-1].at, zone) if live else None
        for event in mine:
            department = departments.get(str(event.payload["productId"]))
            drafts += _apply_line(state, event, department, zone, spreads)
            facts.append(
                PurchaseFact(
                    event_id=event.event_id,
                    customer_id=customer_id,
                    product_id=str(event.payload["productId"]),
                    product_name=str(event.payload["productName"]),
                    category=event.payload.get("productCategory"),
                    at=event.at,
                    late=event.late,
                    order_id=str(event.payload["orderId"]),
                    quantity=float(event.payload["quantity"]),
                    price=float(event.payload["price"]),
                )
            )
        if before is not None:
            befores.append(before)
            afters.append(snapshot(state, live[-1].at, zone))
            triggers.append(live[-1])
    if reference is None or not befores:
        return facts, drafts
    placed = reference.place(befores + afters, new_customer_days=new_customer_days)
    count = len(befores)
    for i, event in enumerate(triggers):
        draft = segment_migration(
            customer_id=event.customer_id,
            event_id=event.event_id,
            before=placed[i],
            after=placed[count + i],
            at=event.at,
            new_customer_days=new_customer_days,
        )
        if draft is not None:
            drafts.append(draft)
        states[event.customer_id].segment_id = placed[count + i].segment_id
    return facts, drafts


def apply_segment_updates(
    events: list[ClaimedEvent], states: Mapping[str, CustomerState]
) -> list[InsightDraft]:
    """Segments reported by other systems; a change is a migration insight."""
    drafts = []
    for event in events:
        state = states[event.customer_id]
        payload = event.payload
        new = str(payload["newSegment"])
        previous = payload.get("previousSegment") or state.segment_id
        if not event.late and previous and previous != new:
            impact = reported_migration_impact(previous, new)
            priority, action = migration_priority(previous, new, impact)
            text = payload.get("reason") or (
                f"Moved from {get_segment(previous).name} to {get_segment(new).name} "
                "(reported)"
            )
            drafts.append(
                migration_draft(
                    customer_id=event.customer_id,
                    event_id=event.event_id,
                    from_id=previous,
                    to_id=new,
                    text=text,
                    impact=impact,
                    priority=priority,
                    action=action,
                    at=event.at,
                    extra={
                        "source": "segment_update",
                        "reportedConfidence": payload.get("confidence"),
                    },
                )
            )
        state.segment_id = new
    return drafts
