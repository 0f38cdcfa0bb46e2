"""Section 1 of the guide: success, authorization and bad input per endpoint."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.factories import (
    customer_headers,
    make_customer,
    purchase_body,
    staff_headers,
)

PROFILE = "/v1/customers/{}/profile"
PURCHASES = "/v1/customers/{}/purchases"


@pytest.fixture
async def household(context):
    return await make_customer(context, "1001", age_group="35-44", household_size=3)


@pytest.fixture
async def neighbour(context):
    return await make_customer(context, "2002")


async def test_profile_round_trip(client, context, household):
    headers = await customer_headers(client, context, household)
    response = await client.get(PROFILE.format(household), headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["customerId"] == household
    assert body["demographics"]["ageGroup"] == "35-44"
    assert body["purchaseSummary"]["lineCount"] == 0

    update = await client.put(
        PROFILE.format(household),
        headers=headers,
        json={"name": "Ada Lovelace", "demographics": {"householdSize": 4}},
    )
    assert update.status_code == 200
    assert update.json()["name"] == "Ada Lovelace"
    assert update.json()["demographics"] == {**body["demographics"], "householdSize": 4}


async def test_preferences_patch_changes_only_what_is_sent(client, context, household):
    headers = await customer_headers(client, context, household)
    first = await client.patch(
        f"/v1/customers/{household}/preferences",
        headers=headers,
        json={"favoriteCategories": ["Coffee"], "marketingOptIn": True},
    )
    assert first.status_code == 200
    second = await client.patch(
        f"/v1/customers/{household}/preferences",
        headers=headers,
        json={"preferredBrands": ["Private"]},
    )
    prefs = second.json()["preferences"]
    assert prefs["favoriteCategories"] == ["Coffee"]
    assert prefs["preferredBrands"] == ["Private"]
    assert prefs["marketingOptIn"] is True


async def test_preferences_sent_as_null_keep_their_value(client, context, household):
    headers = await customer_headers(client, context, household)
    path = f"/v1/customers/{household}/preferences"
    await client.patch(path, headers=headers, json={"marketingOptIn": True})
    patched = await client.patch(
        path,
        headers=headers,
        json={"marketingOptIn": None, "replenishmentReminders": None},
    )
    assert patched.status_code == 200, patched.text
    prefs = patched.json()["preferences"]
    assert (prefs["marketingOptIn"], prefs["replenishmentReminders"]) == (True, True)
    profile = await client.get(f"/v1/customers/{household}/profile", headers=headers)
    assert profile.json()["preferences"] == prefs


async def test_fields_a_caller_may_not_set_are_rejected(client, context, household):
    headers = await customer_headers(client, context, household)
    for body in (
        {"customerId": "other"},
        {"createdAt": "2017-01-01T00:00:00Z"},
        {"role": "admin"},
        {"purchaseSummary": {"totalSpent": 1}},
    ):
        response = await client.put(
            PROFILE.format(household), headers=headers, json=body
        )
        assert response.status_code == 400, body
    profile = (await client.get(PROFILE.format(household), headers=headers)).json()
    assert profile["customerId"] == household


async def test_another_customers_records_are_refused_everywhere(
    client, context, household, neighbour
):
    headers = await customer_headers(client, context, household)
    calls = [
        ("GET", PROFILE.format(neighbour), None),
        ("PUT", PROFILE.format(neighbour), {"name": "x"}),
        ("PATCH", f"/v1/customers/{neighbour}/preferences", {"marketingOptIn": True}),
        ("GET", PURCHASES.format(neighbour), None),
        ("POST", PURCHASES.format(neighbour), purchase_body()),
        (
            "POST",
            PURCHASES.format(neighbour) + "/import",
            {"purchases": [purchase_body()]},
        ),
        (
            "POST",
            f"/v1/customers/{neighbour}/interactions",
            {"productId": "P1", "interactionType": "view"},
        ),
        ("GET", f"/v1/customers/{neighbour}/interactions", None),
        # Unknown ids answer the same, so existence does not leak.
        ("GET", PROFILE.format("9999"), None),
    ]
    for method, url, body in calls:
        response = await client.request(method, url, headers=headers, json=body)
        assert response.status_code == 403, (method, url)
        assert response.json()["statusCode"] == 403
        assert neighbour not in response.text or "9999" in url


async def test_staff_functions_are_refused_to_customers(client, context, household):
    headers = await customer_headers(client, context, household)
    for method, url, body in [
        ("GET", "/v1/customers", None),
        ("POST", "/v1/customers/register", {"name": "New"}),
        ("GET", "/v1/customers/products/P1/interactions", None),
    ]:
        response = await client.request(method, url, headers=headers, json=body)
        assert response.status_code == 403, url


async def test_anonymous_calls_are_401(client, household):
    for url in (
        PROFILE.format(household),
        PURCHASES.format(household),
        "/v1/customers",
    ):
        assert (await client.get(url)).status_code == 401


async def test_unknown_customer_is_404_for_staff(client, context):
    headers = await staff_headers(client, context)
    response = await client.get(PROFILE.format("nobody"), headers=headers)
    assert response.status_code == 404
    assert response.json() == {
        "statusCode": 404,
        "error": "Not Found",
        "message": "Customer nobody not found",
    }


async def test_register_then_conflict(client, context):
    headers = await staff_headers(client, context)
    body = {
        "customerId": "NEW-1",
        "name": "Grace",
        "email": "grace@example.com",
        "demographics": {"ageGroup": "25-34"},
    }
    created = await client.post("/v1/customers/register", headers=headers, json=body)
    assert created.status_code == 201
    assert created.json()["demographics"]["ageGroup"] == "25-34"
    again = await client.post("/v1/customers/register", headers=headers, json=body)
    assert again.status_code == 409
    generated = await client.post(
        "/v1/customers/register", headers=headers, json={"name": "No id"}
    )
    assert generated.status_code == 201
    assert generated.json()["customerId"].startswith("C")
    bad = await client.post(
        "/v1/customers/register",
        headers=headers,
        json={"demographics": {"ageGroup": "7-11"}},
    )
    assert bad.status_code == 400
    assert bad.json()["details"][0]["field"] == "body.demographics.ageGroup"


async def test_customer_list_searches_and_pages(client, context):
    for number in range(5):
        await make_customer(context, f"H{number}", name=f"Household {number}")
    headers = await staff_headers(client, context)
    first = (await client.get("/v1/customers?limit=2", headers=headers)).json()
    assert [item["customerId"] for item in first["items"]] == ["H0", "H1"]
    second = (
        await client.get(
            f"/v1/customers?limit=2&cursor={first['nextCursor']}", headers=headers
        )
    ).json()
    assert [item["customerId"] for item in second["items"]] == ["H2", "H3"]
    found = (
        await client.get("/v1/customers?search=household 4", headers=headers)
    ).json()
    assert [item["customerId"] for item in found["items"]] == ["H4"]
    garbage = await client.get("/v1/customers?cursor=%%%", headers=headers)
    assert garbage.status_code == 400
    for limit in (0, -1, 10_000):
        response = await client.get(f"/v1/customers?limit={limit}", headers=headers)
        assert response.status_code == 400
        assert response.json()["details"][0]["field"] == "query.limit"


async def test_purchases_are_listed_newest_first_with_a_cursor(
    client, context, household
):
    headers = await customer_headers(client, context, household)
    for day in (1, 3, 2):
        when = datetime(2017, 12, day, 9, tzinfo=UTC)
        response = await client.post(
            PURCHASES.format(household),
            headers=headers,
            json=purchase_body(f"P{day}", when=when, quantity=2, price=1.25),
        )
        assert response.status_code == 201
        assert response.json()["totalAmount"] == 2.5
    page = await client.get(PURCHASES.format(household) + "?limit=2", headers=headers)
    assert [p["productId"] for p in page.json()] == ["P3", "P2"]
    rest = await client.get(
        PURCHASES.format(household)
        + f"?limit=2&cursor={page.headers['X-Next-Cursor']}",
        headers=headers,
    )
    assert [p["productId"] for p in rest.json()] == ["P1"]
    assert "X-Next-Cursor" not in rest.headers


async def test_a_resent_purchase_is_stored_once(client, context, household):
    headers = await customer_headers(client, context, household)
    body = purchase_body("P1", orderId="B-1")
    first = await client.post(PURCHASES.format(household), headers=headers, json=body)
    second = await client.post(PURCHASES.format(household), headers=headers, json=body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    clash = await client.post(
        PURCHASES.format(household), headers=headers, json={**body, "quantity": 5}
    )
    assert clash.status_code == 409
    listed = await client.get(PURCHASES.format(household), headers=headers)
    assert len(listed.json()) == 1


async def test_lines_without_order_id_group_by_minute(client, context, household):
    headers = await customer_headers(client, context, household)
    when = datetime(2017, 12, 5, 9, 30, 10, tzinfo=UTC)
    a = await client.post(
        PURCHASES.format(household), headers=headers, json=purchase_body("A", when=when)
    )
    b = await client.post(
        PURCHASES.format(household),
        headers=headers,
        json=purchase_body("B", when=when.replace(second=50)),
    )
    assert a.json()["orderId"] == b.json()["orderId"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity": 0}, "body.quantity"),
        ({"quantity": -1}, "body.quantity"),
        ({"quantity": 1e9}, "body.quantity"),
        ({"quantity": "NaN"}, "body.quantity"),
        ({"quantity": "Infinity"}, "body.quantity"),
        ({"quantity": "three"}, "body.quantity"),
        ({"price": -0.01}, "body.price"),
        ({"price": "NaN"}, "body.price"),
        ({"purchaseDate": "2017-12-01T10:00:00"}, "body.purchaseDate"),
        ({"purchaseDate": "2019-06-01T10:00:00Z"}, "body.purchaseDate"),
        ({"purchaseDate": "yesterday"}, "body.purchaseDate"),
        ({"productId": ""}, "body.productId"),
        ({"productId": "a/b"}, "body.productId"),
        ({"id": "123"}, "body.id"),
    ],
)
async def test_bad_purchases_are_400_and_store_nothing(
    client, context, household, change, field
):
    headers = await staff_headers(client, context)
    response = await client.post(
        PURCHASES.format(household), headers=headers, json={**purchase_body(), **change}
    )
    assert response.status_code == 400, response.text
    assert field in {d["field"] for d in response.json().get("details", [])}
    listed = await client.get(PURCHASES.format(household), headers=headers)
    assert listed.json() == []


async def test_purchase_for_unknown_customer_is_404(client, context):
    headers = await staff_headers(client, context)
    response = await client.post(
        PURCHASES.format("ghost"), headers=headers, json=purchase_body()
    )
    assert response.status_code == 404


async def test_import_is_all_or_nothing_and_idempotent(client, context, household):
    headers = await staff_headers(client, context)
    lines = [purchase_body(f"P{n}", orderId="B-9") for n in range(3)]
    url = PURCHASES.format(household) + "/import"
    first = await client.post(url, headers=headers, json={"purchases": lines})
    assert first.json() == {"imported": 3, "duplicates": 0}
    again = await client.post(url, headers=headers, json={"purchases": lines})
    assert again.json() == {"imported": 0, "duplicates": 3}

    broken = [purchase_body("Q1"), {**purchase_body("Q2"), "quantity": -2}]
    refused = await client.post(url, headers=headers, json={"purchases": broken})
    assert refused.status_code == 400
    assert refused.json()["details"][0]["field"] == "body.purchases.1.quantity"
    listed = await client.get(
        PURCHASES.format(household) + "?limit=50", headers=headers
    )
    assert {p["productId"] for p in listed.json()} == {"P0", "P1", "P2"}


async def test_import_caps_and_empty(client, context, household):
    headers = await staff_headers(client, context)
    url = PURCHASES.format(household) + "/import"
    empty = await client.post(url, headers=headers, json={"purchases": []})
    assert empty.status_code == 400
    many = [purchase_body(f"P{n}", orderId="B") for n in range(1001)]
    too_many = await client.post(url, headers=headers, json={"purchases": many})
    assert too_many.status_code in (413,)


async def test_idempotency_key_replays_and_refuses_other_bodies(
    client, context, household
):
    headers = {**await staff_headers(client, context), "Idempotency-Key": "k-1"}
    url = PURCHASES.format(household) + "/import"
    body = {"purchases": [purchase_body("P1", orderId="B-1")]}
    first = await client.post(url, headers=headers, json=body)
    replay = await client.post(url, headers=headers, json=body)
    assert first.json() == replay.json() == {"imported": 1, "duplicates": 0}
    assert replay.headers.get("Idempotent-Replayed") == "true"
    other = await client.post(
        url, headers=headers, json={"purchases": [purchase_body("P2", orderId="B-1")]}
    )
    assert other.status_code == 422


async def test_bodies_over_the_limit_are_413_also_when_chunked(
    client, context, household
):
    headers = await staff_headers(client, context)
    url = PURCHASES.format(household) + "/import"
    big = b'{"purchases": [' + b" " * (300 * 1024) + b"]}"
    sized = await client.post(
        url, headers={**headers, "content-type": "application/json"}, content=big
    )
    assert sized.status_code == 413

    async def chunks():
        for start in range(0, len(big), 16 * 1024):
            yield big[start : start + 16 * 1024]

    chunked = await client.post(
        url, headers={**headers, "content-type": "application/json"}, content=chunks()
    )
    assert chunked.status_code == 413
    assert chunked.json()["statusCode"] == 413


async def test_interactions_track_and_list(client, context, household):
    headers = await customer_headers(client, context, household)
    url = f"/v1/customers/{household}/interactions"
    created = await client.post(
        url,
        headers=headers,
        json={
            "productId": "P1",
            "interactionType": "rating",
            "rating": 5,
            "timestamp": "2017-12-20T10:00:00+01:00",
            "metadata": {"source": "app"},
        },
    )
    assert created.status_code == 201
    assert created.json()["timestamp"].startswith("2017-12-20T09:00:00")
    listed = await client.get(url + "?limit=10", headers=headers)
    assert [i["productId"] for i in listed.json()] == ["P1"]
    staff = await staff_headers(client, context)
    by_product = await client.get(
        "/v1/customers/products/P1/interactions", headers=staff
    )
    assert [i["customerId"] for i in by_product.json()] == [household]
    for body, field in [
        ({"productId": "P1", "interactionType": "teleport"}, "body.interactionType"),
        ({"productId": "P1", "interactionType": "rating", "rating": 9}, "body.rating"),
        ({"productId": "P1", "interactionType": "rating"}, "body.rating"),
        (
            {"productId": "P1", "interactionType": "view", "duration": -3},
            "body.duration",
        ),
    ]:
        response = await client.post(url, headers=headers, json=body)
        assert response.status_code == 400
        assert response.json()["details"][0]["field"] == field


async def test_malformed_json_is_400(client, context, household):
    headers = await staff_headers(client, context)
    response = await client.post(
        PURCHASES.format(household),
        headers={**headers, "content-type": "application/json"},
        content=b"{not json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"statusCode", "error", "message", "details"}


async def test_a_purchase_cannot_rename_a_product_in_other_households(
    client, context, household, neighbour
):
    staff = await staff_headers(client, context)
    first = purchase_body("P9", productName="Ground Coffee 500g", category="Coffee")
    response = await client.post(PURCHASES.format(neighbour), json=first, headers=staff)
    assert response.status_code == 201
    own = await customer_headers(client, context, household)
    renamed = purchase_body(
        "P9",
        productName="Renamed by a customer",
        category="Hacked",
        when=datetime(2017, 12, 2, 10, 0, tzinfo=UTC),
    )
    response = await client.post(PURCHASES.format(household), json=renamed, headers=own)
    assert response.status_code == 201
    for customer_id in (neighbour, household):
        lines = (await client.get(PURCHASES.format(customer_id), headers=staff)).json()
        assert {(line["productName"], line["category"]) for line in lines} == {
            ("Ground Coffee 500g", "Coffee")
        }


@pytest.mark.parametrize(
    "when", ["1800-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00", "1999-12-31T23:59Z"]
)
async def test_instants_before_the_earliest_accepted_are_refused(
    client, context, household, when
):
    staff = await staff_headers(client, context)
    body = {**purchase_body("P1"), "purchaseDate": when}
    response = await client.post(PURCHASES.format(household), json=body, headers=staff)
    assert response.status_code == 400, response.text
    [detail] = response.json()["details"]
    assert detail["field"] == "body.purchaseDate"
    assert "2000-01-01" in detail["message"]
    interaction = {"productId": "P1", "interactionType": "view", "timestamp": when}
    response = await client.post(
        f"/v1/customers/{household}/interactions", json=interaction, headers=staff
    )
    assert response.status_code == 400, response.text
    assert [d["field"] for d in response.json()["details"]] == ["body.timestamp"]


@pytest.mark.parametrize("change", [{"quantity": True}, {"price": "2.5"}])
async def test_numbers_must_be_numbers(client, context, household, change):
    staff = await staff_headers(client, context)
    body = {**purchase_body("P1"), **change}
    response = await client.post(PURCHASES.format(household), json=body, headers=staff)
    assert response.status_code == 400, response.text
    assert [d["field"] for d in response.json()["details"]] == [
        f"body.{next(iter(change))}"
    ]
