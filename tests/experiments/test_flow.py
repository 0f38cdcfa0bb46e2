"""Analyses under a running test: assignment, the ledger, predictions kept and
scored against later purchases, phases, fallbacks, the demo experiment."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
from sqlalchemy import select

from omnix.analysers.registry import (
    BEDROCK_HAIKU_ID,
    INTERVAL_BASELINE_ID,
    LOCAL_ENGINE_ID,
)
from omnix.app import create_app
from omnix.clock import Clock
from omnix.context import AppContext
from omnix.customers.models import PurchaseLine
from omnix.experiments.buckets import arm_for, bucket
from omnix.experiments.demo import run_demo_experiment
from tests.conftest import AS_OF
from tests.experiments.support import (
    BASE,
    CUTOFF,
    HOUSEHOLDS,
    LATER,
    analyse,
    create,
    create_with_both_arms,
    ledger,
    set_now,
    stored_calls,
    with_llm_models,
)

MODELS = {"A": LOCAL_ENGINE_ID, "B": INTERVAL_BASELINE_ID}


async def _results(client, headers, test_id, query=""):
    response = await client.get(f"{BASE}/{test_id}/results{query}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _outcomes_by_hand(context, call, window_days):
    """First purchase day per product in the window, then hits and errors."""
    end = call.data_cutoff + timedelta(days=window_days)
    async with context.db.session() as session:
        lines = await session.execute(
            select(PurchaseLine.product_id, PurchaseLine.purchased_at).where(
                PurchaseLine.customer_id == call.customer_id
            )
        )
        first: dict[str, date] = {}
        for product, when in lines:
            if call.data_cutoff < when <= end:
                day = when.date()
                first[product] = min(first.get(product, day), day)
    hits = [p in first for p in call.recommended]
    errors = [
        abs((first[p] - date.fromisoformat(d)).days)
        for p, d in call.predicted_dates.items()
        if p in first
    ]
    return sum(hits) / len(hits), float(any(hits)), sum(errors) / len(errors)


async def test_analyses_are_assigned_recorded_and_scored(client, context, store, staff):
    set_now(context, CUTOFF)
    test_id = await create_with_both_arms(client, staff, HOUSEHOLDS)
    answered = await analyse(client, staff, HOUSEHOLDS)

    arms = [arm_for(test_id, h, 0.5) for h in HOUSEHOLDS]
    assert answered == [MODELS[arm] for arm in arms]
    rows = await ledger(context)
    assert [(r.experiment_id, r.analyser_id) for r in rows] == [
        (test_id, MODELS[arm]) for arm in arms
    ]
    calls = await stored_calls(context)
    assert [(c.customer_id, c.arm, c.phase) for c in calls] == [
        (h, arm, 1) for h, arm in zip(HOUSEHOLDS, arms, strict=True)
    ]
    assert {c.data_cutoff for c in calls} == {CUTOFF}
    assert all(c.recommended and c.predicted_dates for c in calls)

    early = await _results(client, staff, test_id)
    assert early["data"]["pendingOutcomes"] == 10
    assert early["data"]["status"] == "running"

    set_now(context, LATER)
    results = await _results(client, staff, test_id, "?includeRawData=true")
    data = results["data"]
    assert (data["status"], data["pendingOutcomes"]) == ("completed", 0)
    assert data["modelA"]["metrics"]["totalRequests"] == arms.count("A")
    assert data["modelB"]["metrics"]["successRate"] == 1.0
    assert data["sampleRatio"]["observed"] == [arms.count("A"), arms.count("B")]
    comparisons = {c["metric"]: c for c in data["comparisons"]}
    # Two local engines never fail and cost nothing: no variation to test.
    for metric in ("success_rate", "token_cost"):
        assert comparisons[metric]["status"] == "insufficient_data"
        assert "no variation" in comparisons[metric]["reason"]

    raw = {row["customerId"]: row for row in data["rawData"]}
    for call in calls:
        hit_share, any_hit, error = await _outcomes_by_hand(context, call, 14)
        row = raw[call.customer_id]
        assert row["arm"] == call.arm
        assert row["hitShare"] == hit_share
        assert row["anyHit"] == any_hit
        assert abs(row["dateErrorDays"] - error) < 1e-9
    hits_a = [raw[h]["hitShare"] for h, arm in zip(HOUSEHOLDS, arms, strict=True)
              if arm == "A"]  # fmt: skip
    assert comparisons["recommendation_hit_rate"]["modelA"]["mean"] == (
        sum(hits_a) / len(hits_a)
    )


async def test_assignment_is_sticky_across_app_instances(
    client, context, settings, store, staff
):
    test_id = await create(client, staff)
    first = await analyse(client, staff, HOUSEHOLDS)

    # A second process: its own context, database pool and caches.
    other = AppContext.from_settings(settings, Clock(AS_OF))
    transport = httpx.ASGITransport(app=create_app(other))
    async with httpx.AsyncClient(transport=transport, base_url="http://b.test") as b:
        second = await analyse(b, staff, HOUSEHOLDS[::-1])
    await other.db.dispose()

    assert second[::-1] == first
    assert first == [MODELS[arm_for(test_id, h, 0.5)] for h in HOUSEHOLDS]


async def test_one_customer_gives_insufficient_data(client, context, store, staff):
    test_id = await create(client, staff)
    await analyse(client, staff, ["H0"])
    data = (await _results(client, staff, test_id))["data"]
    assert {c["status"] for c in data["comparisons"]} == {"insufficient_data"}
    assert all(c["pValue"] is None and c["ciLow"] is None for c in data["comparisons"])
    assert data["sampleRatio"]["status"] == "insufficient_data"
    assert (data["winner"], data["significance"]) == ("tie", 0.0)
    assert any("Keep the test running" in line for line in data["recommendations"])


async def test_a_new_split_starts_a_phase(client, context, store, staff):
    set_now(context, CUTOFF)
    test_id = await create_with_both_arms(client, staff, HOUSEHOLDS, split=0.2)
    before = await analyse(client, staff, HOUSEHOLDS)
    changed = await client.put(
        f"{BASE}/{test_id}/split", json={"trafficSplit": 0.8}, headers=staff
    )
    assert changed.status_code == 200
    assert (changed.json()["phase"], changed.json()["trafficSplit"]) == (2, 0.8)
    after = await analyse(client, staff, HOUSEHOLDS)

    assert before == [MODELS[arm_for(test_id, h, 0.2)] for h in HOUSEHOLDS]
    assert after == [MODELS[arm_for(test_id, h, 0.8)] for h in HOUSEHOLDS]
    for household, old, new in zip(HOUSEHOLDS, before, after, strict=True):
        moved = 0.2 <= bucket(test_id, household) < 0.8
        assert (old != new) == moved  # only A -> B moves, and only these
    assert [c.phase for c in await stored_calls(context)] == [1] * 10 + [2] * 10

    set_now(context, LATER)
    phase_1 = (await _results(client, staff, test_id, "?phase=1"))["data"]
    phase_2 = (await _results(client, staff, test_id))["data"]
    assert phase_1["phase"]["trafficSplit"] == 0.2
    assert phase_2["phase"] == {
        "phase": 2, "trafficSplit": 0.8, "startedAt": "2017-11-01T00:00:00Z"
    }  # fmt: skip
    assert len(phase_2["phases"]) == 2
    assert phase_1["sampleRatio"]["expected"] == [8.0, 2.0]
    assert phase_2["sampleRatio"]["expected"] == [2.0, 8.0]
    for data, answers in ((phase_1, before), (phase_2, after)):
        counts = [answers.count(MODELS["A"]), answers.count(MODELS["B"])]
        assert data["sampleRatio"]["observed"] == counts
        assert data["modelA"]["metrics"]["totalRequests"] == counts[0]


async def test_failed_llm_calls_count_against_their_arm(client, context, store, staff):
    # Haiku is "available" but has no provider model: every call to it fails
    # and the local engine answers instead.
    with_llm_models(context, configured=True)
    test_id = await create_with_both_arms(
        client, staff, HOUSEHOLDS, modelB=BEDROCK_HAIKU_ID,
        analysisType="consumption_prediction",
    )  # fmt: skip
    for household in HOUSEHOLDS:
        response = await client.get(
            f"/v1/customers/{household}/consumption-predictions", headers=staff
        )
        assert response.status_code == 200
    arms = [arm_for(test_id, h, 0.5) for h in HOUSEHOLDS]
    rows = await ledger(context)
    assert {r.experiment_id for r in rows} == {test_id}
    assert len(rows) == arms.count("A") + 2 * arms.count("B")
    failed = [r for r in rows if not r.success]
    assert {r.analyser_id for r in failed} == {BEDROCK_HAIKU_ID}
    calls = await stored_calls(context)
    assert {c.answered_by for c in calls} == {LOCAL_ENGINE_ID}
    assert {c.assigned_model for c in calls if c.arm == "B"} == {BEDROCK_HAIKU_ID}

    data = (await _results(client, staff, test_id))["data"]
    b = data["modelB"]["metrics"]
    assert (b["totalRequests"], b["successRate"], b["fallbackRequests"]) == (
        arms.count("B"),
        0.0,
        arms.count("B"),
    )
    assert data["modelA"]["metrics"]["successRate"] == 1.0
    success = next(c for c in data["comparisons"] if c["metric"] == "success_rate")
    assert (success["status"], success["difference"]) == ("ok", -1.0)
    assert success["modelB"]["n"] == arms.count("B")


async def test_a_deactivated_test_stops_assigning(client, context, store, staff):
    test_id = await create(client, staff, modelA=INTERVAL_BASELINE_ID,
                           modelB=LOCAL_ENGINE_ID, trafficSplit=0.01)  # fmt: skip
    await client.put(f"{BASE}/{test_id}/deactivate", headers=staff)
    answered = await analyse(client, staff, HOUSEHOLDS[:3])
    assert answered == [LOCAL_ENGINE_ID] * 3  # the default, not arm A's baseline
    assert {r.experiment_id for r in await ledger(context)} == {None}
    assert await stored_calls(context) == []


async def test_the_demo_runs_one_finished_experiment(client, context, store, staff):
    test_id = await run_demo_experiment(context, households=12)
    assert await run_demo_experiment(context, households=12) == test_id
    calls = await stored_calls(context)
    assert len(calls) == 12
    assert {c.data_cutoff for c in calls} == {CUTOFF}

    data = (await _results(client, staff, test_id))["data"]
    assert (data["status"], data["pendingOutcomes"]) == ("completed", 0)
    assert (data["modelA"]["id"], data["modelB"]["id"]) == (
        LOCAL_ENGINE_ID,
        INTERVAL_BASELINE_ID,
    )
    assert sum(data["sampleRatio"]["observed"]) == 12
    hit_rate = next(
        c for c in data["comparisons"] if c["metric"] == "recommendation_hit_rate"
    )
    assert hit_rate["modelA"]["n"] + hit_rate["modelB"]["n"] == 12
