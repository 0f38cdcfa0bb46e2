"""Section 5 endpoints: success, authorization and bad input for each."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from omnix.context import AppContext
from omnix.customers.models import PurchaseLine
from omnix.streaming.models import StreamEvent
from tests.factories import customer_headers, make_customer, staff_headers
from tests.streaming.households import (
    START,
    add_products,
    consuming,
    purchase_event,
    regular_household,
    runtime_of,
)

WEEK_30 = START + timedelta(days=30 * 7, hours=-10)  # 2018-01-01 00:00, the clock
PURCHASE = "/v1/streaming/events/purchase"
BATCH = "/v1/streaming/events/batch"


@pytest.fixture
async def store(context: AppContext) -> AppContext:
    await add_products(context)
    await regular_household(context, "H1")
    await make_customer(context, "H2")
    runtime_of(context)
    return context


async def _count(context: AppContext, model: Any) -> int:
    async with context.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def _fields(response: httpx.Response) -> list[str]:
    return [detail["field"] for detail in response.json()["details"]]


async def test_a_purchase_answers_with_its_insights_and_a_resend_changes_nothing(
    client: httpx.AsyncClient, store: AppContext
) -> None:
    headers = await staff_headers(client, store)
    event = purchase_event("H1", "TV", at=WEEK_30, price=499.0, orderId="big-1")
    async with consuming(store):
        first = await client.post(PURCHASE, json=event, headers=headers)
        again = await client.post(PURCHASE, json=event, headers=headers)

    assert first.status_code == 200, first.text
    body = first.json()
    assert body["processed"] is True
    assert body["duplicate"] is False
    assert body["relayed"] is True
    rules = {i["data"]["rule"]: i for i in body["insights"]}
    assert set(rules) == {"basket_value", "new_department", "unusual_hour"}
    basket = rules["basket_value"]
    assert basket["insightType"] == "behavior_anomaly"
    assert basket["customerId"] == "H1"
    assert basket["priority"] == "critical"
    assert basket["actionRequired"] is True
    assert basket["data"]["robustZ"] > 8
    assert basket["data"]["eventId"] == body["eventId"]
    assert basket["timestamp"] == "2018-01-01T00:00:00Z"

    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["eventId"] == body["eventId"]
    assert again.json()["insights"] == body["insights"]
    assert "already accepted" in again.json()["message"]
    assert await _count(store, StreamEvent) == 1
    assert await _count(store, PurchaseLine) == 90 + 1


async def test_a_customer_publishes_their_own_purchases_only(
    client: httpx.AsyncClient, store: AppContext
) -> None:
    own = await customer_headers(client, store, "H1")
    event = purchase_event("H1", "MILK", at=WEEK_30, quantity=2, price=1.5)
    assert (await client.post(PURCHASE, json=event, headers=own)).status_code == 200

    other = purchase_event("H2", "MILK", at=WEEK_30)
    refused = await client.post(PURCHASE, json=other, headers=own)
    assert refused.status_code == 403
    assert (await client.post(PURCHASE, json=other)).status_code == 401
    assert await _count(store, StreamEvent) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"productName": None}, "body.productName"),
        ({"quantity": 0}, "body.quantity"),
        ({"price": -1}, "body.price"),
        ({"quantity": "NaN"}, "body.quantity"),
        ({"quantity": True}, "body.quantity"),
        ({"price": "2.5"}, "body.price"),
        ({"totalAmount": 8.02}, "body.totalAmount"),
        ({"timestamp": "2017-12-30T10:15:00"}, "body.timestamp"),
        ({"timestamp": "2018-01-03T10:15:00+00:00"}, "body.timestamp"),
        ({"timestamp": "1900-01-01T00:00:00Z"}, "body.timestamp"),
        ({"timestamp": "0001-01-01T00:00:00+14:00"}, "body.timestamp"),
        ({"eventId": "has spaces"}, "body.eventId"),
        ({"deviceType": "fax"}, "body.deviceType"),
        ({"role": "admin"}, "body.role"),
    ],
)
async def test_malformed_purchases_are_refused_naming_the_field(
    client: httpx.AsyncClient,
    store: AppContext,
    change: dict[str, Any],
    field: str,
) -> None:
    headers = await staff_headers(client, store)
    event = {**purchase_event("H1", at=WEEK_30), **change}
    event = {key: value for key, value in event.items() if value is not None}
    response = await client.post(PURCHASE, json=event, headers=headers)
    assert response.status_code == 400, response.text
    assert field in _fields(response)
    assert await _count(store, StreamEvent) == 0


async def test_total_within_a_cent_of_quantity_times_price_is_accepted(
    client: httpx.AsyncClient, store: AppContext
) -> None:
    headers = await staff_headers(client, store)
    event = purchase_event("H1", at=WEEK_30, quantity=3, price=0.333, totalAmount=1.0)
    response = await client.post(PURCHASE, json=event, headers=headers)
    assert response.status_code == 200, response.text


async def test_unknown_customer_and_reused_event_id(
    client: httpx.AsyncClient, store: AppContext
) -> None:
    headers = await staff_headers(client, store)
    unknown = await client.post(
        PURCHASE, json=purchase_event("NOBODY", at=WEEK_30), headers=headers
    )
    assert unknown.status_code == 404
    assert _fields(unknown) == ["body.customerId"]

    event = purchase_event("H1", at=WEEK_30, eventId="till-7:42")
    assert (await client.post(PURCHASE, json=event, headers=headers)).status_code == 200
    reused = {**event, "quantity": 2, "totalAmount": 16.0}
    conflict = await client.post(PURCHASE, json=reused, headers=headers)
    assert conflict.status_code == 409
    assert _fields(conflict) == ["body.eventId"]


async def test_a_line_already_stored_by_another_path_is_a_duplicate(
    client: httpx.AsyncClient, store: AppContext
) -> None:
    """The history's first line, sent again as an event, adds nothing."""
    headers = await staff_headers(client, store)
    event = purchase_event(
        "H1", "COFFEE", at=START, price=8.0, orderId="H1-o0", lineNo=0
    )
    response = await client.post(PURCHASE, json=event, headers=headers)
    assert response.status_code == 200
    assert response.json()["duplicate"] is True
    assert await _count(store, StreamEvent) == 0

    changed = {**event, "price": 9.0, "totalAmount": 9.0}
    conflict = await client.post(PURCHASE, json=changed, headers=headers)
    assert conflict.status_code == 409
    assert _fields(conflict) == ["body.lineNo"]


async def test_segment_updates_are_for_staff_and_raise_a_migration(
    client: httpx.AsyncClient, store: AppContext
) -> None:
    staff = await staff_headers(client, store)
    own = await customer_headers(client, store, "H1")
    event = {
        "customerId": "H1",
        "previousSegment": "champions",
        "newSegment": "at_risk",
        "reason": "No visit in six weeks",
        "timestamp": WEEK_30.isoformat(),
    }
    path = "/v1/streaming/events/segment-update"
    assert (await client.post(path, json=event, headers=own)).status_code == 403
    bad = await client.post(path, json={**event, "newSegment": "vip"}, headers=staff)
    assert bad.status_code == 400
    assert _fields(bad) == ["body.newSegment"]
    async with consuming(store):
        response = await client.post(path, json=event, headers=staff)
    assert response.status_code == 200, response.text
    (insight,) = response.json()["insights"]
    assert insight["insightType"] == "segment_migration"
    assert insight["priority"] == "critical"  # Champions to At Risk
    assert insight["actionRequired"] is True
    assert insight["insight"] == "No visit in six weeks"
    assert insight["data"]["fromSegment"] == "champions"
    assert insight["data"]["toSegment"] == "at_risk"


async def test_consumption_predictions_are_for_staff_and_a_move_is_reported(
    client: httpx.AsyncClient, store: AppContext
) -> None:
    staff = await staff_headers(client, store)
    own = await customer_headers(client, store, "H1")
    path = "/v1/streaming/events/consumption-prediction"
    event = {
        "customerId": "H1",
        "productId": "COFFEE",
        "predictedNextPurchaseDate": "2018-01-05",
        "averageDaysBetweenPurchases": 7,
        "confidence": 0.6,
        "timestamp": WEEK_30.isoformat(),
    }
    assert (await client.post(path, json=event, headers=own)).status_code == 403
    bad = await client.post(path, json={**event, "confidence": 2}, headers=staff)
    assert bad.status_code == 400
    assert _fields(bad) == ["body.confidence"]
    far = {**event, "predictedNextPurchaseDate": "2031-01-01"}
    bad = await client.post(path, json=far, headers=staff)
    assert bad.status_code == 400
    assert _fields(bad) == ["body.predictedNextPurchaseDate"]
    async with consuming(store):
        first = await client.post(path, json=event, headers=staff)
        moved = {**event, "predictedNextPurchaseDate": "2018-01-12"}
        second = await client.post(path, json=moved, headers=staff)
    assert first.status_code == 200
    assert first.json()["insights"] == []
    (insight,) = second.json()["insights"]
    assert insight["insightType"] == "consumption_prediction"
    assert insight["data"]["rule"] == "prediction_moved"
    assert insight["data"]["shiftDays"] == 7
    assert insight["priority"] == "medium"  # a whole interval


async def test_a_batch_stores_everything_once_and_reports_duplicates(
    client: httpx.AsyncClient, store: AppContext
) -> None:
    headers = await staff_headers(client, store)
    milk = purchase_event("H1", "MILK", at=WEEK_30, eventId="e-1")
    events = [
        milk,
        purchase_event("H2", "BREAD", at=WEEK_30, eventId="e-2"),
        milk,  # the same event twice in one batch
        {
            "eventType": "segment_update",
            "customerId": "H2",
            "newSegment": "new_customers",
            "timestamp": WEEK_30.isoformat(),
        },
    ]
    async with consuming(store):
        response = await client.post(BATCH, json=events, headers=headers)
        again = await client.post(BATCH, json=events[:2], headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["publishedCount"] == 3
    assert body["duplicateCount"] == 1
    assert body["duplicates"] == ["e-1"]
    assert body["eventIds"][:3] == ["e-1", "e-2", "e-1"]
    assert body["relayed"] is True
    assert again.json()["publishedCount"] == 0
    assert again.json()["duplicates"] == ["e-1", "e-2"]
    assert await _count(store, StreamEvent) == 3
    assert await _count(store, PurchaseLine) == 90 + 2


async def test_batch_limits_and_bad_items(
    client: httpx.AsyncClient, store: AppContext
) -> None:
    headers = await staff_headers(client, store)
    store.extras["streaming_settings"].max_batch_events = 3
    over = [purchase_event("H1", at=WEEK_30, lineNo=i) for i in range(4)]
    too_many = await client.post(BATCH, json=over, headers=headers)
    assert too_many.status_code == 413
    empty = await client.post(BATCH, json=[], headers=headers)
    assert empty.status_code == 400
    bad = [purchase_event("H1", at=WEEK_30), {**purchase_event("H1", at=WEEK_30)}]
    bad[1]["quantity"] = -2
    response = await client.post(BATCH, json=bad, headers=headers)
    assert response.status_code == 400
    assert "body.1.purchase.quantity" in _fields(response)
    reused = [
        purchase_event("H1", at=WEEK_30, eventId="x"),
        purchase_event("H1", "MILK", at=WEEK_30, eventId="x"),
    ]
    conflict = await client.post(BATCH, json=reused, headers=headers)
    assert conflict.status_code == 409
    assert _fields(conflict) == ["body.1.eventId"]
    assert await _count(store, StreamEvent) == 0


async def test_batch_access_for_customers(
    client: httpx.AsyncClient, store: AppContext
) -> None:
    own = await customer_headers(client, store, "H1")
    mine = [purchase_event("H1", at=WEEK_30)]
    assert (await client.post(BATCH, json=mine, headers=own)).status_code == 200
    theirs = [
        purchase_event("H1", "MILK", at=WEEK_30),
        purchase_event("H2", at=WEEK_30),
    ]
    assert (await client.post(BATCH, json=theirs, headers=own)).status_code == 403
    segment = [
        {
            "customerId": "H1",
            "newSegment": "champions",
            "timestamp": "2017-12-31T10:00:00Z",
        }
    ]
    assert (await client.post(BATCH, json=segment, headers=own)).status_code == 403
    assert (await client.post(BATCH, json=mine)).status_code == 401
    assert await _count(store, StreamEvent) == 1


async def test_stream_management_is_for_staff(
    client: httpx.AsyncClient, store: AppContext
) -> None:
    staff = await staff_headers(client, store)
    own = await customer_headers(client, store, "H1")
    paths = ["/stream/status", "/stream/metrics", "/streams"]
    for path in paths:
        url = "/v1/streaming" + path
        assert (await client.get(url, headers=own)).status_code == 403
        assert (await client.get(url)).status_code == 401
    create = "/v1/streaming/stream/create"
    assert (await client.post(create, headers=own)).status_code == 403

    status = (await client.get("/v1/streaming/stream/status", headers=staff)).json()
    assert status["status"] == "NOT_CREATED"
    assert status["config"]["engine"] == "memory"
    missing = await client.get("/v1/streaming/stream/metrics", headers=staff)
    assert missing.status_code == 404

    created = await client.post(create, headers=staff)
    assert created.status_code == 201
    assert created.json() == {
        "message": "Stream customer-events created",
        "streamName": "customer-events",
        "created": True,
    }
    assert (await client.post(create, headers=staff)).status_code == 200
    other = await client.post(create, json={"streamName": "returns"}, headers=staff)
    assert other.status_code == 201
    bad = await client.post(create, json={"streamName": "no spaces"}, headers=staff)
    assert bad.status_code == 400
    streams = (await client.get("/v1/streaming/streams", headers=staff)).json()
    assert streams == {"streams": ["customer-events", "returns"]}
    status = (await client.get("/v1/streaming/stream/status", headers=staff)).json()
    assert status["status"] == "ACTIVE"


async def test_stream_metrics_report_the_consumers(
    client: httpx.AsyncClient, store: AppContext
) -> None:
    headers = await staff_headers(client, store)
    events = [purchase_event("H1", at=WEEK_30, lineNo=i) for i in range(5)]
    async with consuming(store):
        assert (await client.post(BATCH, json=events, headers=headers)).status_code
        for _ in range(100):
            metrics = (
                await client.get("/v1/streaming/stream/metrics", headers=headers)
            ).json()
            handled = [c["handledTotal"] for c in metrics["processing"]]
            if handled == [5]:
                break
            await asyncio.sleep(0.05)
    assert metrics["length"] == 5
    assert metrics["pending"] == 0
    assert metrics["lag"] == 0
    assert metrics["deadLetters"] == 0
    assert metrics["eventsAwaitingProcessing"] == 0
    assert metrics["eventsAwaitingRelay"] == 0
    (consumer,) = metrics["processing"]
    assert consumer["handledTotal"] == 5
    assert consumer["latencyP99Ms"] >= consumer["latencyP50Ms"] >= 0
    assert metrics["throughputPerSecond"] > 0
    assert metrics["watermark"] == "2018-01-01T00:00:00Z"


async def test_customer_insights_over_hours(
    client: httpx.AsyncClient, store: AppContext
) -> None:
    staff = await staff_headers(client, store)
    own = await customer_headers(client, store, "H1")
    big = purchase_event("H1", "TV", at=WEEK_30, price=499.0, orderId="big")
    async with consuming(store):
        await client.post(PURCHASE, json=big, headers=staff)
    url = "/v1/streaming/insights/H1"
    mine = await client.get(url, params={"hours": 1}, headers=own)
    assert mine.status_code == 200
    body = mine.json()
    assert body["customerId"] == "H1"
    assert body["timeRange"] == "1h"
    assert {i["data"]["rule"] for i in body["insights"]} == {
        "basket_value",
        "new_department",
        "unusual_hour",
    }
    # Event time 2018-01-01T00:00Z is the clock's now: inside one hour.
    limited = await client.get(url, params={"hours": 1, "limit": 1}, headers=staff)
    assert len(limited.json()["insights"]) == 1
    assert (await client.get(url, headers=own)).json()["timeRange"] == "24h"

    h2 = await client.get("/v1/streaming/insights/H2", headers=own)
    assert h2.status_code == 403
    assert (await client.get(url)).status_code == 401
    for bad in ({"hours": 0}, {"hours": -3}, {"hours": 10**6}, {"limit": 0}):
        response = await client.get(url, params=bad, headers=staff)
        assert response.status_code == 400
    unknown = await client.get("/v1/streaming/insights/NOBODY", headers=staff)
    assert unknown.status_code == 404


async def test_system_overview_counts_insights(
    client: httpx.AsyncClient, store: AppContext
) -> None:
    staff = await staff_headers(client, store)
    own = await customer_headers(client, store, "H1")
    big = purchase_event("H1", "TV", at=WEEK_30, price=499.0, orderId="big")
    async with consuming(store):
        await client.post(PURCHASE, json=big, headers=staff)
    url = "/v1/streaming/insights/system/overview"
    assert (await client.get(url, headers=own)).status_code == 403
    assert (await client.get(url)).status_code == 401
    body = (await client.get(url, headers=staff)).json()
    assert body["totalInsights"] == 3
    assert body["insightsByType"] == {
        "segment_migration": 0,
        "consumption_prediction": 0,
        "behavior_anomaly": 3,
        "recommendation_update": 0,
    }
    assert body["insightsByPriority"] == {
        "low": 2,
        "medium": 0,
        "high": 0,
        "critical": 1,
    }
    metrics = body["processingMetrics"]
    assert metrics["eventsAccepted"] == 1
    assert metrics["eventsProcessed"] == 1
    assert metrics["eventsAwaitingProcessing"] == 0
    assert metrics["lateEvents"] == 0


async def _publication(context: AppContext) -> list[tuple[bool, int]]:
    async with context.db.session() as session:
        rows = await session.execute(
            select(StreamEvent.published_at, StreamEvent.publish_attempts)
        )
        return [(at is not None, attempts) for at, attempts in rows]


async def test_a_batch_is_stored_as_published_in_the_accepting_transaction(
    client: httpx.AsyncClient, store: AppContext
) -> None:
    headers = await staff_headers(client, store)
    events = [purchase_event("H1", "MILK", at=WEEK_30, eventId="e-1")]
    response = await client.post(BATCH, json=events, headers=headers)
    assert response.json()["relayed"] is True
    assert await _publication(store) == [(True, 1)]


async def test_events_the_bus_refuses_are_left_to_the_relay(
    client: httpx.AsyncClient, store: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stored as published, then marked unpublished when the bus fails."""
    runtime = runtime_of(store)

    async def refuse(*_: object) -> list[str]:
        raise OSError("the bus is down")

    monkeypatch.setattr(runtime.bus, "publish_many", refuse)
    headers = await staff_headers(client, store)
    events = [
        purchase_event("H1", "MILK", at=WEEK_30, eventId="e-1"),
        purchase_event("H2", "BREAD", at=WEEK_30, eventId="e-2"),
    ]
    response = await client.post(BATCH, json=events, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["relayed"] is False
    assert await _publication(store) == [(False, 0), (False, 0)]
