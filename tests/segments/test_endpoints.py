"""Section 3 endpoints: success, authorization and bad input for each."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from omnix.segments.service import recompute_all
from tests.factories import customer_headers, staff_headers
from tests.segments.support import AS_OF, champion_and_regulars, store

BASE = "/v1/customers"
OCTOBER = datetime(2017, 10, 1, tzinfo=UTC)


@pytest.fixture
async def population(context):
    """Thirty households, a browser who never bought, two snapshots."""
    households = champion_and_regulars()
    households.customer("browser", datetime(2017, 3, 1, tzinfo=UTC))
    await store(context, households)
    for as_of in (OCTOBER, AS_OF):
        async with context.db.transaction() as session:
            await recompute_all(session, as_of)
    return households


@pytest.fixture
async def staff(client, context):
    return await staff_headers(client, context)


@pytest.fixture
async def champ(client, context, population):
    return await customer_headers(client, context, "champ")


async def test_fixed_paths_reach_their_own_routes(client, context, staff):
    # Customers whose ids collide with the fixed path words.
    households = champion_and_regulars()
    households.customer("segments")
    households.customer("segmentation")
    await store(context, households)

    overview = await client.get(f"{BASE}/segments/overview", headers=staff)
    batch = await client.post(
        f"{BASE}/segmentation/batch", json={"customerIds": ["champ"]}, headers=staff
    )
    performance = await client.get(f"{BASE}/segments/lost/performance", headers=staff)
    own = await client.post(f"{BASE}/segments/segmentation", json={}, headers=staff)
    other = await client.get(f"{BASE}/segmentation/segment", headers=staff)

    assert len(overview.json()["segments"]) == 8
    assert batch.json()["assignments"][0]["customerId"] == "champ"
    assert performance.json()["segmentId"] == "lost"
    assert own.json()["assignments"][0]["customerId"] == "segments"
    assert other.json()["customerId"] == "segmentation"


async def test_openapi_documents_the_segment_schemas(client):
    schema = (await client.get("/openapi.json")).json()
    components = schema["components"]["schemas"]
    assignment = components["CustomerSegmentAssignment"]["properties"]
    assert {"customerId", "segmentId", "assignedAt", "confidence", "features"} <= set(
        assignment
    )
    assert assignment["confidence"]["description"]
    assert "SegmentPerformanceMetrics" in components
    operation = schema["paths"]["/v1/customers/segments/overview"]["get"]
    assert operation["operationId"] == "getSegmentOverview"


# --- POST /customers/{id}/segmentation ------------------------------------------


async def test_segment_a_customer_returns_the_stored_assignment(
    client, staff, population
):
    response = await client.post(f"{BASE}/champ/segmentation", json={}, headers=staff)
    assert response.status_code == 200, response.text
    body = response.json()
    [assignment] = body["assignments"]
    assert body["analysisDepth"] == "basic"
    assert body["analyses"] is None
    assert assignment["segmentId"] == "cant_lose_them"
    assert assignment["source"] == "recompute"
    assert assignment["previousSegmentId"] == "champions"
    assert "recency score" in assignment["migrationReason"]
    assert assignment["features"]["rfmScore"] == "155"
    assert body["segmentCounts"] == {"cant_lose_them": 1}


async def test_forced_recalculation_stores_a_new_assignment(client, staff, population):
    url = f"{BASE}/champ/segmentation"
    first = (await client.post(url, json={}, headers=staff)).json()["assignments"][0]
    forced = await client.post(url, json={"forceRecalculation": True}, headers=staff)
    again = forced.json()["assignments"][0]
    assert again["source"] == "recalculation"
    assert again["segmentId"] == first["segmentId"]
    assert again["features"] == first["features"]
    assert again["assignedAt"] >= first["assignedAt"]


async def test_detailed_and_comprehensive_analysis(client, staff, population):
    url = f"{BASE}/champ/segmentation"
    detailed = await client.post(url, json={"analysisDepth": "detailed"}, headers=staff)
    [analysis] = detailed.json()["analyses"]
    assert [s["axis"] for s in analysis["scores"]] == [
        "recency",
        "frequency",
        "monetary",
    ]
    assert analysis["scores"][0]["text"].startswith("Last order 95 days ago")
    assert analysis["nearestOtherSegmentId"] in (
        "at_risk",
        "champions",
        "loyal_customers",
    )
    assert analysis["distanceInQuintiles"] >= 0
    assert analysis["history"] is None

    full = await client.post(
        url,
        json={"analysisDepth": "comprehensive", "includeRecommendations": True},
        headers=staff,
    )
    body = full.json()
    [analysis] = body["analyses"]
    assert [h["segmentId"] for h in analysis["history"]] == ["champions"]
    assert analysis["migrations"][0]["toSegmentId"] == "cant_lose_them"
    [recommendations] = body["recommendations"]
    assert recommendations["strategy"]["channels"]
    products = recommendations["products"]
    assert products
    assert products[0]["kind"] in ("repurchase", "discovery")


async def test_customer_may_segment_only_themself(client, champ, context, population):
    own = await client.post(f"{BASE}/champ/segmentation", json={}, headers=champ)
    other = await client.post(f"{BASE}/R01/segmentation", json={}, headers=champ)
    anonymous = await client.post(f"{BASE}/champ/segmentation", json={})
    assert own.status_code == 200
    assert other.status_code == 403
    assert anonymous.status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"analysisDepth": "deep"}, "body.analysisDepth"),
        ({"force": True}, "body.force"),
        ({"includeRecommendations": "often"}, "body.includeRecommendations"),
    ],
)
async def test_segmentation_bad_input(client, staff, population, body, field):
    response = await client.post(f"{BASE}/champ/segmentation", json=body, headers=staff)
    assert response.status_code == 400
    assert field in [detail["field"] for detail in response.json()["details"]]


async def test_segmentation_unknown_customer(client, staff, population):
    response = await client.post(f"{BASE}/ghost/segmentation", json={}, headers=staff)
    assert response.status_code == 404
    assert "ghost" in response.json()["message"]


# --- POST /customers/segmentation/batch ---------------------------------------------


async def test_batch_segmentation(client, staff, population):
    response = await client.post(
        f"{BASE}/segmentation/batch",
        json={"customerIds": ["champ", "browser", "ghost", "champ", "R03"]},
        headers=staff,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [a["customerId"] for a in body["assignments"]] == ["champ", "browser", "R03"]
    assert body["notFound"] == ["ghost"]
    browser = body["assignments"][1]
    assert browser["segmentId"] == "lost"
    assert browser["features"]["hasPurchases"] is False
    assert sum(body["segmentCounts"].values()) == 3


async def test_batch_with_recommendations_serves_several_customers(
    client, staff, population
):
    response = await client.post(
        f"{BASE}/segmentation/batch",
        json={"customerIds": ["R01", "R02"], "includeRecommendations": True},
        headers=staff,
    )
    sets = response.json()["recommendations"]
    assert sets
    assert all(p["kind"] is None for s in sets for p in s["products"])


@pytest.mark.parametrize(
    "ids", [[], [f"C{i}" for i in range(501)]], ids=["empty", "oversized"]
)
async def test_batch_rejects_empty_and_oversized(client, staff, population, ids):
    response = await client.post(
        f"{BASE}/segmentation/batch", json={"customerIds": ids}, headers=staff
    )
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "body.customerIds"


async def test_batch_is_for_staff(client, champ):
    url = f"{BASE}/segmentation/batch"
    body = {"customerIds": ["champ"]}
    assert (await client.post(url, json=body, headers=champ)).status_code == 403
    assert (await client.post(url, json=body)).status_code == 401


# --- GET /customers/{id}/segment ----------------------------------------------------


async def test_current_segment_serves_the_guide_client(client, champ, population):
    response = await client.get(f"{BASE}/champ/segment", headers=champ)
    assert response.status_code == 200, response.text
    body = response.json()
    first = body["assignments"][0]
    assert (body["segmentId"], body["segmentName"]) == (
        "cant_lose_them",
        "Can't Lose Them",
    )
    assert first["segmentId"] == body["segmentId"]
    assert first["assignedAt"] == body["assignedAt"]
    assert first["confidence"] == body["confidence"]
    assert [a["segmentId"] for a in body["assignments"]] == [
        "cant_lose_them",
        "champions",
    ]
    assert body["segmentSince"].startswith("2018-01-01")


async def test_current_segment_of_a_customer_never_segmented(client, context, staff):
    await store(context, champion_and_regulars())
    response = await client.get(f"{BASE}/champ/segment", headers=staff)
    body = response.json()
    assert body["assignments"][0]["source"] == "on_demand"
    assert body["segmentSince"] is None
    assert body["segmentId"] == "cant_lose_them"


async def test_current_segment_access(client, champ, staff):
    assert (await client.get(f"{BASE}/R01/segment", headers=champ)).status_code == 403
    assert (await client.get(f"{BASE}/champ/segment")).status_code == 401
    assert (await client.get(f"{BASE}/ghost/segment", headers=staff)).status_code == 404


# --- GET /customers/segments/overview -----------------------------------------------


async def test_overview(client, staff, population):
    response = await client.get(f"{BASE}/segments/overview", headers=staff)
    assert response.status_code == 200, response.text
    body = response.json()
    segments = {s["segmentId"]: s for s in body["segments"]}
    assert len(segments) == 8
    assert sum(s["customerCount"] for s in segments.values()) == 31
    assert segments["cant_lose_them"]["customerCount"] >= 1
    assert segments["champions"]["criteria"]["rfmBoxes"][0]["recency"] == {
        "min": 4,
        "max": 5,
    }
    assert segments["lost"]["recommendations"]["goal"]
    assert segments["champions"]["createdAt"] <= segments["champions"]["updatedAt"]
    stats = body["statistics"]
    assert stats["totalCustomers"] == stats["segmentedCustomers"] == 31
    assert stats["customersWithoutPurchases"] == 1
    assert stats["recomputeCount"] == 2
    assert stats["lastAsOf"].startswith("2018-01-01")
    assert stats["migrationsLast30Days"] >= 1
    loyal = segments["loyal_customers"]
    assert loyal["averageOrderValue"] > 0
    assert loyal["averagePurchaseFrequency"] > 0


async def test_overview_is_for_staff(client, champ):
    url = f"{BASE}/segments/overview"
    assert (await client.get(url, headers=champ)).status_code == 403
    assert (await client.get(url)).status_code == 401


# --- GET /customers/segments/{segmentId}/performance --------------------------------


async def test_segment_performance(client, staff, population):
    url = f"{BASE}/segments/cant_lose_them/performance?periodDays=120"
    response = await client.get(url, headers=staff)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["period"]["days"] == 120
    assert body["customerCount"] >= 1
    assert body["migrationsIn"] >= 1
    sources = {flow["segmentId"]: flow["count"] for flow in body["topSources"]}
    assert sources["champions"] >= 1  # the champion among them
    assert sum(sources.values()) <= body["migrationsIn"]
    assert [p["asOf"][:10] for p in body["trend"]] == ["2017-10-01", "2018-01-01"]
    assert body["trend"][-1]["customerCount"] == body["customerCount"]
    # The champion spent in the period before stopping at the end of September.
    assert body["revenue"] > 0
    assert 0 < body["revenueShare"] < 1
    champions = (
        await client.get(f"{BASE}/segments/champions/performance", headers=staff)
    ).json()
    assert champions["retentionRate"] is not None
    assert champions["retentionBase"] >= 1


async def test_performance_unknown_segment_names_the_valid_ones(client, staff):
    response = await client.get(f"{BASE}/segments/vip/performance", headers=staff)
    assert response.status_code == 404
    message = response.json()["message"]
    assert "'vip'" in message
    assert "champions" in message
    assert "lost" in message


async def test_performance_bad_period_and_access(client, staff, champ):
    url = f"{BASE}/segments/lost/performance"
    bad = await client.get(url + "?periodDays=0", headers=staff)
    assert bad.status_code == 400
    assert bad.json()["details"][0]["field"] == "query.periodDays"
    assert (await client.get(url, headers=champ)).status_code == 403
    assert (await client.get(url)).status_code == 401


# --- POST /customers/segments/migrate -----------------------------------------------


async def test_manual_migration(client, staff, population):
    body = {
        "customerId": "champ",
        "fromSegment": "cant_lose_them",
        "toSegment": "champions",
        "reason": "Won back by the store manager's call",
    }
    response = await client.post(f"{BASE}/segments/migrate", json=body, headers=staff)
    assert response.status_code == 200, response.text
    assert response.json()["success"] is True
    assert "cant_lose_them to champions" in response.json()["message"]

    current = (await client.get(f"{BASE}/champ/segment", headers=staff)).json()
    assert current["segmentId"] == "champions"
    assert current["assignments"][0]["source"] == "manual"
    assert current["assignments"][0]["migrationReason"] == body["reason"]


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"toSegment": "cant_lose_them"}, 400),
        ({"toSegment": "vip"}, 400),
        ({"fromSegment": "vip"}, 400),
        ({"impactScore": 3}, 400),
        ({"reason": ""}, 400),
        ({"fromSegment": "at_risk"}, 409),
        ({"customerId": "ghost"}, 404),
    ],
)
async def test_manual_migration_bad_input(client, staff, population, changes, status):
    body = {
        "customerId": "champ",
        "fromSegment": "cant_lose_them",
        "toSegment": "lost",
        "reason": "test",
        **changes,
    }
    response = await client.post(f"{BASE}/segments/migrate", json=body, headers=staff)
    assert response.status_code == status, response.text
    if "vip" in changes.values():
        assert "valid: champions" in response.json()["message"]


async def test_manual_migration_is_for_staff(client, champ):
    body = {"customerId": "champ", "fromSegment": "lost", "toSegment": "at_risk",
            "reason": "x"}  # fmt: skip
    url = f"{BASE}/segments/migrate"
    assert (await client.post(url, json=body, headers=champ)).status_code == 403
    assert (await client.post(url, json=body)).status_code == 401


# --- GET /customers/{id}/segment-recommendations ------------------------------------


async def test_segment_recommendations(client, champ, population):
    url = f"{BASE}/champ/segment-recommendations"
    response = await client.get(url + "?includeStrategy=true&limit=3", headers=champ)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["segment"] == "cant_lose_them"
    assert body["strategy"]["goal"]
    assert 1 <= len(body["recommendations"]) <= 3
    first = body["recommendations"][0]
    assert first["productId"] == "P000"  # every household bought it lately
    assert first["kind"] == "repurchase"
    assert "%" in first["reason"]
    plain = (await client.get(url, headers=champ)).json()
    assert plain["strategy"] is None


async def test_segment_recommendations_access_and_input(client, champ, staff):
    url = f"{BASE}/R01/segment-recommendations"
    assert (await client.get(url, headers=champ)).status_code == 403
    assert (await client.get(url)).status_code == 401
    ghost = f"{BASE}/ghost/segment-recommendations"
    assert (await client.get(ghost, headers=staff)).status_code == 404
    bad = await client.get(url + "?limit=0", headers=staff)
    assert bad.status_code == 400
    assert bad.json()["details"][0]["field"] == "query.limit"
