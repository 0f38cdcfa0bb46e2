"""Accepting events: validate, give each an id, store it in the outbox.

An event is acknowledged to its sender once its ``stream_events`` row is
committed; a purchase event stores its purchase line in the same
transaction, so analytics see the purchase whatever happens to the stream.
Publishing to the bus comes after the commit (:mod:`omnix.streaming.relay`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.catalogue.models import Product
from omnix.customers.models import Customer, PurchaseLine
from omnix.customers.service import FUTURE_TOLERANCE, default_order_id
from omnix.errors import Conflict, NotFound, field_error
from omnix.segments.service import check_segment_id
from omnix.streaming import schemas
from omnix.streaming.models import (
    EVENT_CONSUMPTION_PREDICTION,
    EVENT_PURCHASE,
    EVENT_SEGMENT_UPDATE,
    StreamEvent,
    dialect_insert,
)

_KIND = {
    schemas.PurchaseEvent: EVENT_PURCHASE,
    schemas.CustomerSegmentUpdateEvent: EVENT_SEGMENT_UPDATE,
    schemas.ConsumptionPredictionEvent: EVENT_CONSUMPTION_PREDICTION,
}
# Lines compared to tell a re-sent line from a different one (as the
# purchases API does).
_SAME_LINE = ("quantity", "price", "purchased_at", "store_id")
_CHUNK = 500
# A predicted next purchase further than this from its event is not a rhythm.
MAX_PREDICTION_DAYS = 730


@dataclass(frozen=True)
class PreparedEvent:
    """An event with its id, normalised payload and content hash."""

    index: int
    event_id: str
    kind: str
    customer_id: str
    event_time: datetime
    payload: dict[str, Any]
    content_hash: str
    field_prefix: str


@dataclass
class Acceptance:
    """What one request changed: new events, and the ids that changed nothing."""

    event_ids: list[str]
    fresh: list[PreparedEvent] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


def _prefix(index: int, batch: bool) -> str:
    return f"body.{index}." if batch else "body."


def prepare_event(
    item: schemas.AnyEvent, index: int, now: datetime, *, batch: bool
) -> PreparedEvent:
    """Check what the schema cannot (time, segment ids) and derive the id.

    The id, when the sender gave none, is a hash of the content with the
    timestamp in UTC, so the same event re-sent gets the same id.
    """
    prefix = _prefix(index, batch)
    kind = _KIND[type(item)]
    at = item.timestamp.astimezone(UTC)
    if at > now + FUTURE_TOLERANCE:
        raise field_error(
            f"{prefix}timestamp",
            f"is after the store's current date ({now.date()}) plus one day",
        )
    if isinstance(item, schemas.ConsumptionPredictionEvent):
        gap = abs((item.predicted_next_purchase_date - at.date()).days)
        if gap > MAX_PREDICTION_DAYS:
            raise field_error(
                f"{prefix}predictedNextPurchaseDate",
                f"is more than {MAX_PREDICTION_DAYS} days from the event's timestamp",
            )
    if isinstance(item, schemas.CustomerSegmentUpdateEvent):
        check_segment_id(f"{prefix}newSegment", item.new_segment)
        if item.previous_segment is not None:
            check_segment_id(f"{prefix}previousSegment", item.previous_segment)
    content = item.model_dump(
        mode="json",
        by_alias=True,
        exclude_none=True,
        exclude={"event_id", "event_type"},
    )
    content["timestamp"] = at.isoformat()
    if isinstance(item, schemas.PurchaseEvent) and item.order_id is None:
        content["orderId"] = default_order_id(item.customer_id, at)
    digest = hashlib.sha256(
        orjson.dumps([kind, content], option=orjson.OPT_SORT_KEYS)
    ).hexdigest()
    event_id = item.event_id or f"{kind}-{digest[:40]}"
    return PreparedEvent(
        index=index,
        event_id=event_id,
        kind=kind,
        customer_id=item.customer_id,
        event_time=at,
        payload={"eventId": event_id, "eventType": kind, **content},
        content_hash=digest,
        field_prefix=prefix,
    )


def _reused(event: PreparedEvent) -> Conflict:
    return Conflict(
        f"Event id {event.event_id} was already used for a different event",
        details=[
            {
                "field": f"{event.field_prefix}eventId",
                "message": "already used with other content",
            }
        ],
    )


async def _check_customers(session: AsyncSession, events: list[PreparedEvent]) -> None:
    wanted = sorted({event.customer_id for event in events})
    known: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        rows = await session.scalars(
            select(Customer.id).where(Customer.id.in_(wanted[start : start + _CHUNK]))
        )
        known.update(rows)
    missing = [event for event in events if event.customer_id not in known]
    if missing:
        first = missing[0].customer_id
        raise NotFound(
            f"Customer {first} not found",
            details=[
                {"field": f"{e.field_prefix}customerId", "message": "unknown customer"}
                for e in missing[:20]
            ],
        )


async def _stored_hashes(session: AsyncSession, ids: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = await session.execute(
            select(StreamEvent.event_id, StreamEvent.content_hash).where(
                StreamEvent.event_id.in_(ids[start : start + _CHUNK])
            )
        )
        found.update(dict(rows.tuples().all()))
    return found


def _line_row(event: PreparedEvent) -> dict[str, Any]:
    payload = event.payload
    return {
        "customer_id": event.customer_id,
        "order_id": payload["orderId"],
        "product_id": payload["productId"],
        "line_no": payload["lineNo"],
        "store_id": payload.get("storeId"),
        "quantity": float(payload["quantity"]),
        "price": float(payload["price"]),
        "purchased_at": event.event_time,
    }


def _line_key(row: dict[str, Any]) -> tuple[str, str, str, int]:
    return (row["customer_id"], row["order_id"], row["product_id"], row["line_no"])


async def _known_lines(
    session: AsyncSession, rows: list[dict[str, Any]]
) -> dict[tuple[str, str, str, int], PurchaseLine]:
    customers = sorted({row["customer_id"] for row in rows})
    orders = sorted({row["order_id"] for row in rows})
    found: dict[tuple[str, str, str, int], PurchaseLine] = {}
    for start in range(0, len(orders), _CHUNK):
        stored = await session.scalars(
            select(PurchaseLine).where(
                PurchaseLine.customer_id.in_(customers),
                PurchaseLine.order_id.in_(orders[start : start + _CHUNK]),
            )
        )
        for line in stored:
            found[(line.customer_id, line.order_id, line.product_id, line.line_no)] = (
                line
            )
    return found


async def _split_known_lines(
    session: AsyncSession, purchases: list[PreparedEvent]
) -> set[str]:
    """Ids of purchase events whose line is already stored with the same content.

    Such a purchase is already known (sent through another path, say), so its
    event is a duplicate; the same line with other content is a 409.
    """
    if not purchases:
        return set()
    rows = {event.event_id: _line_row(event) for event in purchases}
    known = await _known_lines(session, list(rows.values()))
    duplicates: set[str] = set()
    for event in purchases:
        row = rows[event.event_id]
        stored = known.get(_line_key(row))
        if stored is None:
            continue
        if all(getattr(stored, column) == row[column] for column in _SAME_LINE):
            duplicates.add(event.event_id)
            continue
        raise Conflict(
            f"Order {row['order_id']} already has a different line "
            f"{row['line_no']} for product {row['product_id']}",
            details=[
                {
                    "field": f"{event.field_prefix}lineNo",
                    "message": "this line of the order is stored with other "
                    "content; send another lineNo for another line",
                }
            ],
        )
    return duplicates


async def _store_lines(
    session: AsyncSession, purchases: list[PreparedEvent], now: datetime
) -> None:
    if not purchases:
        return
    products = {
        event.payload["productId"]: {
            "id": event.payload["productId"],
            "name": event.payload["productName"],
            "category": event.payload["productCategory"],
            "active": True,
            "updated_at": now,
        }
        for event in purchases
    }
    # Unknown products join the catalogue; known ones keep what it says.
    await session.execute(
        dialect_insert(session, Product).on_conflict_do_nothing(),
        list(products.values()),
    )
    await session.execute(
        dialect_insert(session, PurchaseLine).on_conflict_do_nothing(),
        [_line_row(event) for event in purchases],
    )


def _outbox_row(
    event: PreparedEvent, stream: str, wall_now: datetime, *, published: bool
) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "stream": stream,
        "event_type": event.kind,
        "customer_id": event.customer_id,
        "content_hash": event.content_hash,
        "payload": event.payload,
        "event_time": event.event_time,
        "accepted_at": wall_now,
        "published_at": wall_now if published else None,
        "publish_attempts": 1 if published else 0,
        "processed_at": None,
        "late": False,
    }


async def accept_events(
    session: AsyncSession,
    stream: str,
    items: Sequence[schemas.AnyEvent],
    *,
    business_now: datetime,
    wall_now: datetime,
    batch: bool,
    published: bool = False,
) -> Acceptance:
    """Store the new events of a request, all or nothing (the caller commits).

    The same id twice in the request with the same content is applied once;
    with other content, or an id stored earlier for other content, is a 409.
    With ``published``, the events are stored as published at ``wall_now``
    (the caller publishes them right after its commit, and calls
    :func:`omnix.streaming.relay.unpublish` if the bus refuses them), which
    saves a second transaction per request.
    """
    prepared = [
        prepare_event(item, i, business_now, batch=batch)
        for i, item in enumerate(items)
    ]
    acceptance = Acceptance(event_ids=[event.event_id for event in prepared])
    first: dict[str, PreparedEvent] = {}
    for event in prepared:
        seen = first.get(event.event_id)
        if seen is None:
            first[event.event_id] = event
        elif seen.content_hash != event.content_hash:
            raise _reused(event)
        else:
            acceptance.duplicates.append(event.event_id)
    candidates = list(first.values())
    await _check_customers(session, candidates)
    stored = await _stored_hashes(session, list(first))
    new: list[PreparedEvent] = []
    for event in candidates:
        if event.event_id not in stored:
            new.append(event)
        elif stored[event.event_id] != event.content_hash:
            raise _reused(event)
        else:
            acceptance.duplicates.append(event.event_id)
    purchases = [event for event in new if event.kind == EVENT_PURCHASE]
    known_lines = await _split_known_lines(session, purchases)
    new = [event for event in new if event.event_id not in known_lines]
    if new:
        # A concurrent request may have stored the same id meanwhile: only
        # the rows inserted here are this request's.
        inserted = set(
            (
                await session.scalars(
                    dialect_insert(session, StreamEvent)
                    .on_conflict_do_nothing()
                    .returning(StreamEvent.__table__.c.event_id),
                    [
                        _outbox_row(event, stream, wall_now, published=published)
                        for event in new
                    ],
                )
            ).all()
        )
        known_lines.update(e.event_id for e in new if e.event_id not in inserted)
        new = [event for event in new if event.event_id in inserted]
    acceptance.duplicates.extend(
        event.event_id for event in candidates if event.event_id in known_lines
    )
    acceptance.fresh = new
    await _store_lines(
        session, [event for event in new if event.kind == EVENT_PURCHASE], wall_now
    )
    return acceptance
