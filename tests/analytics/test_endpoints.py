"""Section 2: success, authorization and bad input for every analysis endpoint."""

from __future__ import annotations

import json
import math

import pytest
from sqlalchemy import func, select

from omnix.costs.models import AnalysisUsage
from tests.factories import customer_headers, staff_headers

BASE = "/v1/customers/{}/"
ENDPOINTS = [
    "ai-analysis",
    "consumption-predictions",
    "customer-profile-analysis",
    "ai-recommendations?limit=5",
    "replenishment-alerts",
    "purchase-prediction/COFFEE",
    "analysis-history",
]


def _finite(value) -> bool:
    text = json.dumps(value)
    return "NaN" not in text and "Infinity" not in text


async def test_full_analysis_for_a_regular_household(client, context, store):
    headers = await customer_headers(client, context, store)
    response = await client.get(BASE.format(store) + "ai-analysis", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["customerId"] == store
    assert isinstance(body["consumptionPatterns"], list)
    assert body["consumptionPatterns"]
    coffee = next(p for p in body["consumptionPatterns"] if p["productId"] == "COFFEE")
    assert coffee["productName"] == "Ground Coffee 500g"
    assert coffee["averageDaysBetweenPurchases"] > 0
    assert 0 <= coffee["confidence"] <= 1
    assert body["modelId"] == "local:omnix-v1"
    assert body["dataCutoff"].startswith("2018-01-01")
    assert set(body["customerProfile"]) == {
        "customerId",
        "spendingPatterns",
        "behavioralInsights",
        "demographics",
    }
    assert _finite(body)


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_each_endpoint_answers_the_household_and_staff(
    client, context, store, path
):
    for headers in (
        await customer_headers(client, context, store),
        await staff_headers(client, context),
    ):
        response = await client.get(BASE.format(store) + path, headers=headers)
        assert response.status_code == 200, (path, response.text)
        assert _finite(response.json())


async def test_predictions_are_ranked_and_filtered(client, context, store):
    headers = await staff_headers(client, context)
    url = BASE.format(store) + "consumption-predictions?limit=2&minPurchaseDays=3"
    patterns = (await client.get(url, headers=headers)).json()
    assert len(patterns) <= 2
    assert all(p["purchaseDays"] >= 3 for p in patterns)
    confidences = [p["confidence"] for p in patterns]
    assert confidences == sorted(confidences, reverse=True)


async def test_recommendations_read_as_the_guide_does(client, context, store):
    headers = await customer_headers(client, context, store)
    recs = (
        await client.get(
            BASE.format(store) + "ai-recommendations?limit=3", headers=headers
        )
    ).json()
    assert len(recs["recommendations"]) <= 3
    assert 0 <= recs["confidence"] <= 1
    for item in recs["recommendations"]:
        assert item["kind"] in ("repurchase", "discovery")
        assert item["reason"]


async def test_prediction_for_a_bought_and_an_unbought_product(client, context, store):
    headers = await staff_headers(client, context)
    bought = (
        await client.get(
            BASE.format(store) + "purchase-prediction/COFFEE", headers=headers
        )
    ).json()
    assert bought["productId"] == "COFFEE"
    assert bought["confidence"] > 0
    never = (
        await client.get(
            BASE.format("ONCE") + "purchase-prediction/TEA", headers=headers
        )
    ).json()
    assert never["confidence"] <= bought["confidence"]


@pytest.mark.parametrize("household", ["EMPTY", "ONCE", "ONEDAY"])
async def test_thin_histories_get_valid_low_confidence_answers(
    client, context, store, household
):
    headers = await staff_headers(client, context)
    for path in ENDPOINTS:
        response = await client.get(BASE.format(household) + path, headers=headers)
        assert response.status_code == 200, (household, path, response.text)
        assert _finite(response.json())
    analysis = (
        await client.get(BASE.format(household) + "ai-analysis", headers=headers)
    ).json()
    assert analysis["confidence"] <= 0.5
    assert not math.isnan(analysis["confidence"])


async def test_analyze_stores_and_history_lists_newest_first(client, context, store):
    headers = await customer_headers(client, context, store)
    first = (await client.post(BASE.format(store) + "analyze", headers=headers)).json()
    second = (await client.post(BASE.format(store) + "analyze", headers=headers)).json()
    assert first["analysisId"] != second["analysisId"]
    history = (
        await client.get(
            BASE.format(store) + "analysis-history?limit=10", headers=headers
        )
    ).json()
    assert [h["analysisId"] for h in history] == [
        second["analysisId"],
        first["analysisId"],
    ]
    assert history[0]["dataCutoff"].startswith("2018-01-01")


async def test_every_call_writes_one_ledger_row(client, context, store):
    headers = await staff_headers(client, context)
    for path in ("ai-analysis", "consumption-predictions", "ai-recommendations"):
        await client.get(BASE.format(store) + path, headers=headers)
    await client.post(BASE.format(store) + "analyze", headers=headers)
    async with context.db.session() as session:
        rows = (
            await session.execute(
                select(AnalysisUsage.analysis_type, func.count()).group_by(
                    AnalysisUsage.analysis_type
                )
            )
        ).all()
    assert dict(rows) == {
        "full_analysis": 2,
        "consumption_prediction": 1,
        "recommendation_generation": 1,
    }


async def test_other_households_and_model_choice_are_refused_to_customers(
    client, context, store
):
    headers = await customer_headers(client, context, store)
    for path in ENDPOINTS:
        response = await client.get(BASE.format("H1") + path, headers=headers)
        assert response.status_code == 403, path
    refused = await client.get(BASE.format("H1") + "analyze", headers=headers)
    assert refused.status_code in (403, 405)
    post = await client.post(BASE.format("H1") + "analyze", headers=headers)
    assert post.status_code == 403
    chosen = await client.get(
        BASE.format(store) + "ai-analysis?model=local:omnix-v1", headers=headers
    )
    assert chosen.status_code == 403


async def test_anonymous_is_401(client, store):
    for path in ENDPOINTS:
        assert (await client.get(BASE.format(store) + path)).status_code == 401


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("ai-recommendations?limit=0", 400, "query.limit"),
        ("ai-recommendations?limit=1000", 400, "query.limit"),
        ("replenishment-alerts?horizonDays=0", 400, "query.horizonDays"),
        ("replenishment-alerts?horizonDays=abc", 400, "query.horizonDays"),
        ("analysis-history?limit=-1", 400, "query.limit"),
        ("consumption-predictions?limit=5000", 400, "query.limit"),
        ("consumption-predictions?minPurchaseDays=0", 400, "query.minPurchaseDays"),
        ("purchase-prediction/NOPE", 404, None),
        ("ai-analysis?model=gpt-7", 400, "query.model"),
    ],
)
async def test_bad_input(client, context, store, path, status, field):
    headers = await staff_headers(client, context)
    response = await client.get(BASE.format(store) + path, headers=headers)
    assert response.status_code == status, response.text
    if field:
        assert response.json()["details"][0]["field"] == field


async def test_unknown_household_is_404_for_staff(client, context, store):
    headers = await staff_headers(client, context)
    response = await client.get(BASE.format("ghost") + "ai-analysis", headers=headers)
    assert response.status_code == 404
