"""Request values are taken as JSON writes them: a flag is not a number, a
number is not a flag or a string, a day is written YYYY-MM-DD. Each refusal is
a 400 naming the field, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import make_customer, purchase_body, staff_headers

HOUSEHOLD = "H1"
CASES: list[tuple[str, str, Any, str]] = [
    (
        "PUT",
        "/v1/customers/H1/profile",
        {"demographics": {"kidsCount": False}},
        "body.demographics.kidsCount",
    ),
    (
        "PUT",
        "/v1/customers/H1/profile",
        {"demographics": {"householdSize": "2"}},
        "body.demographics.householdSize",
    ),
    (
        "PATCH",
        "/v1/customers/H1/preferences",
        {"marketingOptIn": 0},
        "body.marketingOptIn",
    ),
    (
        "POST",
        "/v1/customers/H1/interactions",
        {"productId": "P1", "interactionType": "view", "rating": True},
        "body.rating",
    ),
    (
        "POST",
        "/v1/customers/H1/interactions",
        {"productId": "P1", "interactionType": "view", "duration": "5"},
        "body.duration",
    ),
    (
        "POST",
        "/v1/customers/segmentation/batch",
        {"customerIds": ["H1"], "forceRecalculation": 0},
        "body.forceRecalculation",
    ),
    (
        "POST",
        "/v1/customers/segments/migrate",
        {
            "customerId": "H1",
            "fromSegment": "lost",
            "toSegment": "champions",
            "reason": "called back",
            "impactScore": True,
        },
        "body.impactScore",
    ),
    (
        "POST",
        "/v1/ab-tests/quick-test",
        {"analysisType": "customer_profiling", "testName": "t", "durationDays": True},
        "body.durationDays",
    ),
    (
        "POST",
        "/v1/ab-tests/quick-test",
        {"analysisType": "customer_profiling", "testName": "t", "trafficSplit": "0.5"},
        "body.trafficSplit",
    ),
    (
        "POST",
        "/v1/customers/batch-analysis",
        {"allCustomers": 1},
        "body.allCustomers",
    ),
    (
        "POST",
        "/v1/streaming/events/consumption-prediction",
        {
            "eventId": "e1",
            "customerId": "H1",
            "productId": "P1",
            "predictedNextPurchaseDate": "2018-01-05",
            "confidence": False,
            "timestamp": "2017-12-30T10:00:00Z",
        },
        "body.confidence",
    ),
    (
        "POST",
        "/v1/streaming/events/consumption-prediction",
        {
            "eventId": "e1",
            "customerId": "H1",
            "productId": "P1",
            "predictedNextPurchaseDate": "0",
            "timestamp": "2017-12-30T10:00:00Z",
        },
        "body.predictedNextPurchaseDate",
    ),
    (
        "PUT",
        "/v1/analytics/revenue-targets/day/2017-12-01",
        {"amount": "500"},
        "body.amount",
    ),
    # "0" would otherwise be read as a Unix time (1970-01-01).
    ("PUT", "/v1/analytics/revenue-targets/day/0", {"amount": 5}, "path.periodStart"),
    (
        "PUT",
        "/v1/analytics/revenue-targets/day/9999-01-01",
        {"amount": 5},
        "path.periodStart",
    ),
    ("DELETE", "/v1/analytics/revenue-targets/day/17", None, "path.periodStart"),
    # A number is not read as a Unix time.
    (
        "POST",
        "/v1/customers/H1/purchases",
        {**purchase_body("P1"), "purchaseDate": 1514628000},
        "body.purchaseDate",
    ),
    (
        "POST",
        "/v1/customers/H1/interactions",
        {"productId": "P1", "interactionType": "view", "timestamp": "1514628000"},
        "body.timestamp",
    ),
    # Its end would overflow the calendar (this was a 500).
    (
        "POST",
        "/v1/ab-tests",
        {
            "testName": "far",
            "modelA": "local:omnix-v1",
            "modelB": "local:interval-baseline-v1",
            "analysisType": "customer_profiling",
            "startDate": "9999-12-31T00:00:00Z",
        },
        "body.startDate",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    CASES,
    ids=[f"{method} {path} {field}" for method, path, _, field in CASES],
)
async def test_a_value_of_the_wrong_json_type_is_refused(
    client, context, method, path, body, field
):
    await make_customer(context, HOUSEHOLD)
    staff = await staff_headers(client, context)
    response = await client.request(method, path, json=body, headers=staff)
    assert response.status_code == 400, response.text
    assert [detail["field"] for detail in response.json()["details"]] == [field]


async def test_an_idempotency_key_outside_printable_ascii_is_refused(client, context):
    await make_customer(context, HOUSEHOLD)
    staff = await staff_headers(client, context)
    response = await client.post(
        f"/v1/customers/{HOUSEHOLD}/purchases",
        json=purchase_body("P1"),
        headers={**staff, "Idempotency-Key": "caf\u00e9-1".encode()},
    )
    assert response.status_code == 400, response.text
    assert response.json()["details"][0]["field"] == "header.Idempotency-Key"
    listed = await client.get(f"/v1/customers/{HOUSEHOLD}/purchases", headers=staff)
    assert listed.json() == []


async def test_the_schema_states_what_the_services_check(client):
    schema = (await client.get("/openapi.json")).json()
    components = schema["components"]["schemas"]
    migration = components["ManualMigrationRequest"]["properties"]["fromSegment"]
    assert len(migration["enum"]) == 8
    assert "champions" in migration["enum"]
    split = components["QuickTestDto"]["properties"]["trafficSplit"]
    assert (split["exclusiveMinimum"], split["exclusiveMaximum"]) == (0, 1)
    purchase = schema["paths"]["/v1/customers/{id}/purchases"]["post"]
    key = next(p for p in purchase["parameters"] if p["name"] == "Idempotency-Key")
    assert key["schema"]["pattern"] == "^[\\x20-\\x7e]{1,200}$"
