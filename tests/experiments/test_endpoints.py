"""Section 4 endpoints: success, authorization and bad input for each."""

from __future__ import annotations

from datetime import timedelta

from omnix.analysers.registry import (
    BEDROCK_HAIKU_ID,
    BEDROCK_SONNET_ID,
    INTERVAL_BASELINE_ID,
    LOCAL_ENGINE_ID,
)
from tests.experiments.support import (
    BASE,
    CUTOFF,
    LATER,
    body,
    create,
    set_now,
    with_llm_models,
)
from tests.factories import customer_headers, make_customer

ENDPOINTS = [
    ("POST", BASE, body()),
    ("GET", BASE, None),
    ("GET", f"{BASE}/some-test/results", None),
    ("GET", f"{BASE}/some-test/status", None),
    ("PUT", f"{BASE}/some-test/deactivate", None),
    ("PUT", f"{BASE}/some-test/split", {"trafficSplit": 0.3}),
    ("POST", f"{BASE}/quick-test",
     {"testName": "q", "analysisType": "customer_profiling"}),
    ("GET", f"{BASE}/models/available", None),
]  # fmt: skip


async def test_create_list_and_read_a_test(client, staff):
    response = await client.post(BASE, json=body(description="Rhythms"), headers=staff)
    assert response.status_code == 201
    created = response.json()
    assert created["success"] is True
    assert LOCAL_ENGINE_ID in created["message"]

    listing = (await client.get(BASE, headers=staff)).json()
    assert (listing["success"], listing["totalTests"], listing["activeTests"]) == (
        True,
        1,
        1,
    )
    config = listing["data"][0]
    assert config["testId"] == created["testId"]
    assert (config["modelA"], config["modelB"]) == (
        LOCAL_ENGINE_ID,
        INTERVAL_BASELINE_ID,
    )
    assert (config["status"], config["trafficSplit"], config["durationDays"]) == (
        "running",
        0.5,
        14,
    )
    assert config["startDate"] == "2018-01-01T00:00:00Z"
    assert config["endDate"] == "2018-01-15T00:00:00Z"
    assert config["primaryMetric"] == "recommendation_hit_rate"
    assert "next_purchase_error" in config["metrics"]
    assert config["phases"] == [
        {"phase": 1, "trafficSplit": 0.5, "startedAt": "2018-01-01T00:00:00Z"}
    ]


async def test_results_status_and_deactivation_of_an_empty_test(client, staff):
    test_id = await create(client, staff)

    results = (await client.get(f"{BASE}/{test_id}/results", headers=staff)).json()
    assert results["success"] is True
    data = results["data"]
    assert (data["testId"], data["status"], data["winner"]) == (
        test_id,
        "running",
        "tie",
    )
    assert data["significance"] == 0.0
    assert data["modelA"]["name"] == "OMNIX local engine v1"
    assert data["modelA"]["metrics"]["totalRequests"] == 0
    assert data["modelA"]["metrics"]["successRate"] is None
    assert data["sampleRatio"]["status"] == "insufficient_data"
    assert {c["status"] for c in data["comparisons"]} == {"insufficient_data"}
    assert data["rawData"] is None
    assert any("runs until 2018-01-15" in line for line in data["recommendations"])
    assert results["summary"]["readyToDecide"] is False

    status = (await client.get(f"{BASE}/{test_id}/status", headers=staff)).json()
    assert status == {
        "testId": test_id,
        "testName": "Engine against baseline",
        "status": "running",
        "modelsCompared": [LOCAL_ENGINE_ID, INTERVAL_BASELINE_ID],
        "currentWinner": "tie",
        "significance": 0.0,
    }

    deactivated = await client.put(f"{BASE}/{test_id}/deactivate", headers=staff)
    assert deactivated.status_code == 200
    assert deactivated.json()["success"] is True
    listing = (await client.get(BASE, headers=staff)).json()
    assert (listing["data"][0]["status"], listing["activeTests"]) == ("paused", 0)
    again = await client.put(f"{BASE}/{test_id}/deactivate", headers=staff)
    assert again.status_code == 409


async def test_quick_test_falls_back_to_the_local_engines(client, staff):
    response = await client.post(
        f"{BASE}/quick-test",
        json={"testName": "Quick", "analysisType": "consumption_prediction",
              "durationDays": 7},
        headers=staff,
    )  # fmt: skip
    assert response.status_code == 201
    answer = response.json()
    config = answer["config"]
    assert (config["modelA"], config["modelB"]) == (
        LOCAL_ENGINE_ID,
        INTERVAL_BASELINE_ID,
    )
    assert config["endDate"] == "2018-01-08T00:00:00Z"
    assert config["trafficSplit"] == 0.5
    assert "two local engines" in answer["message"]
    assert "OMNIX_BEDROCK_REGION" in answer["message"]
    listing = (await client.get(BASE, headers=staff)).json()
    assert listing["data"][0]["testId"] == answer["testId"]


async def test_quick_test_compares_haiku_and_sonnet_when_bedrock_is_configured(
    client, context, staff
):
    with_llm_models(context, configured=True)
    response = await client.post(
        f"{BASE}/quick-test",
        json={"testName": "Quick", "analysisType": "customer_profiling",
              "trafficSplit": 0.2},
        headers=staff,
    )  # fmt: skip
    assert response.status_code == 201
    config = response.json()["config"]
    assert (config["modelA"], config["modelB"]) == (BEDROCK_HAIKU_ID, BEDROCK_SONNET_ID)
    assert config["trafficSplit"] == 0.2
    assert "Amazon Bedrock" in response.json()["message"]


async def test_available_models(client, staff):
    response = await client.get(f"{BASE}/models/available", headers=staff)
    assert response.status_code == 200
    answer = response.json()
    assert answer["success"] is True
    assert answer["totalModels"] == len(answer["data"]) >= 4
    models = {m["id"]: m for m in answer["data"]}
    assert models[LOCAL_ENGINE_ID]["available"] is True
    assert models[BEDROCK_HAIKU_ID]["available"] is False
    assert models[BEDROCK_HAIKU_ID]["unavailableReason"]


async def test_openapi_names_the_operations(client):
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert paths[BASE]["post"]["operationId"] == "createAbTest"
    assert (
        paths[f"{BASE}/{{testId}}/results"]["get"]["operationId"] == "getAbTestResults"
    )
    assert (
        paths[f"{BASE}/{{testId}}/split"]["put"]["operationId"] == "changeAbTestSplit"
    )


# --- authorization --------------------------------------------------------------


async def test_customers_and_anonymous_callers_are_refused(client, context, staff):
    test_id = await create(client, staff)
    await make_customer(context, "C1")
    headers = await customer_headers(client, context, "C1")
    for method, path, json in ENDPOINTS:
        path = path.replace("some-test", test_id)
        response = await client.request(method, path, json=json, headers=headers)
        assert response.status_code == 403, (method, path)
        assert response.json()["statusCode"] == 403
        anonymous = await client.request(method, path, json=json)
        assert anonymous.status_code == 401, (method, path)
    listing = (await client.get(BASE, headers=staff)).json()
    assert listing["data"][0]["status"] == "running"  # nothing was changed


# --- bad input ------------------------------------------------------------------


async def test_splits_outside_the_unit_interval_are_refused(client, staff):
    for split in (0, 1, -0.2, 150):
        response = await client.post(BASE, json=body(trafficSplit=split), headers=staff)
        assert response.status_code == 400, split
        assert response.json()["details"][0]["field"] == "body.trafficSplit"
        assert "strictly between 0 and 1" in response.json()["message"]


async def test_percentage_splits_are_named_as_such(client, staff):
    for split in (50, 1.5, 100):
        response = await client.post(BASE, json=body(trafficSplit=split), headers=staff)
        assert response.status_code == 400, split
        assert "looks like a percentage" in response.json()["message"]
        assert f"send {split / 100:g}" in response.json()["message"]
        quick = await client.post(
            f"{BASE}/quick-test",
            json={"testName": "q", "analysisType": "customer_profiling",
                  "trafficSplit": split},
            headers=staff,
        )  # fmt: skip
        assert quick.status_code == 400, split


async def test_identical_models_are_refused(client, staff):
    response = await client.post(BASE, json=body(modelB=LOCAL_ENGINE_ID), headers=staff)
    assert response.status_code == 400
    assert response.json()["details"] == [
        {"field": "body.modelB", "message": "must differ from modelA"}
    ]


async def test_unknown_models_are_400_listing_the_available_ones(client, staff):
    response = await client.post(BASE, json=body(modelB="gpt-99"), headers=staff)
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "body.modelB"
    message = response.json()["message"]
    assert "gpt-99" in message
    assert LOCAL_ENGINE_ID in message
    assert INTERVAL_BASELINE_ID in message


async def test_unavailable_models_are_refused(client, staff):
    response = await client.post(
        BASE, json=body(modelB=BEDROCK_SONNET_ID), headers=staff
    )
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "body.modelB"
    assert "unavailable" in response.json()["message"]


BAD_DEFINITIONS = [
    ({"startDate": "2018-02-01T00:00:00Z", "endDate": "2018-01-20T00:00:00Z",
      "durationDays": None}, "body.endDate"),
    ({"startDate": "2018-02-01T00:00:00Z", "endDate": "2018-02-01T00:00:00Z",
      "durationDays": None}, "body.endDate"),
    ({"endDate": "2018-02-01T00:00:00Z"}, "body.durationDays"),
    ({"startDate": "2017-10-01T00:00:00Z"}, "body.endDate"),
    ({"metrics": ["next_purchase_error"],
      "analysisType": "customer_profiling"}, "body.metrics"),
    ({"metrics": ["processing_time"], "primaryMetric": "confidence"},
     "body.primaryMetric"),
    ({"startDate": "2018-02-01T00:00:00"}, "body.startDate"),
    ({"analysisType": "mind_reading"}, "body.analysisType"),
    ({"durationDays": 0}, "body.durationDays"),
    ({"testName": ""}, "body.testName"),
    ({"colour": "blue"}, "body.colour"),
]  # fmt: skip


async def test_bad_definitions_name_the_field(client, staff):
    for overrides, field in BAD_DEFINITIONS:
        response = await client.post(BASE, json=body(**overrides), headers=staff)
        assert response.status_code == 400, response.text
        assert field in [d["field"] for d in response.json()["details"]], overrides
    assert (await client.get(BASE, headers=staff)).json()["totalTests"] == 0


async def test_overlapping_tests_of_one_type_conflict(client, staff):
    first = await create(client, staff)
    response = await client.post(BASE, json=body(testName="Second"), headers=staff)
    assert response.status_code == 409
    assert first in response.json()["message"]
    other_type = await client.post(
        BASE, json=body(analysisType="customer_profiling"), headers=staff
    )
    assert other_type.status_code == 201


async def test_deactivating_a_completed_test_is_a_conflict(client, context, staff):
    set_now(context, CUTOFF)
    test_id = await create(client, staff)
    set_now(context, LATER)
    response = await client.put(f"{BASE}/{test_id}/deactivate", headers=staff)
    assert response.status_code == 409
    assert "completed" in response.json()["message"]
    status = (await client.get(f"{BASE}/{test_id}/status", headers=staff)).json()
    assert status["status"] == "completed"


async def test_a_pending_test_can_be_deactivated(client, context, staff):
    start = (LATER + timedelta(days=3)).isoformat()
    test_id = await create(client, staff, startDate=start)
    status = (await client.get(f"{BASE}/{test_id}/status", headers=staff)).json()
    assert status["status"] == "pending"
    response = await client.put(f"{BASE}/{test_id}/deactivate", headers=staff)
    assert response.status_code == 200


async def test_unknown_tests_are_404(client, staff):
    for method, suffix, json in (
        ("GET", "results", None),
        ("GET", "status", None),
        ("PUT", "deactivate", None),
        ("PUT", "split", {"trafficSplit": 0.4}),
    ):
        response = await client.request(
            method, f"{BASE}/no-such-test/{suffix}", json=json, headers=staff
        )
        assert response.status_code == 404, suffix
        assert "no-such-test" in response.json()["message"]


async def test_unknown_phase_is_404_and_bad_split_changes_are_refused(client, staff):
    test_id = await create(client, staff)
    response = await client.get(f"{BASE}/{test_id}/results?phase=3", headers=staff)
    assert response.status_code == 404
    assert "phases 1 to 1" in response.json()["message"]
    for split, status in ((0.5, 400), (50, 400), (0, 400)):
        changed = await client.put(
            f"{BASE}/{test_id}/split", json={"trafficSplit": split}, headers=staff
        )
        assert changed.status_code == status
        assert changed.json()["details"][0]["field"] == "body.trafficSplit"
    await client.put(f"{BASE}/{test_id}/deactivate", headers=staff)
    paused = await client.put(
        f"{BASE}/{test_id}/split", json={"trafficSplit": 0.3}, headers=staff
    )
    assert paused.status_code == 409
