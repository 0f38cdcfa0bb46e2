"""Section 6 cost analytics: figures by hand from ledger rows, authorization,
bad input and route order."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from omnix.customers.models import PurchaseLine
from omnix.segments.models import CurrentSegment
from tests.costs.conftest import add_usage
from tests.factories import customer_headers, staff_headers

BASE = "/v1/customers/"
HAIKU, LOCAL, OPENAI = "bedrock:claude-haiku", "local:omnix-v1", "openai:compatible"
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


async def _ledger(context, household: str) -> None:
    """H0: five calls in the last 30 days, one older; H1: one dear call."""
    await add_usage(context, household, LOCAL, ago=HOUR, analysis_type="full_analysis")
    await add_usage(
        context, household, HAIKU, ago=2 * DAY, tokens=(1000, 200, 100), cost=0.0005
    )
    await add_usage(
        context, household, HAIKU, ago=2 * DAY, tokens=(500, 0, 0), cost=0.000125,
        success=False,
    )  # fmt: skip
    await add_usage(context, household, LOCAL, ago=2 * DAY, fallback_for=HAIKU)
    await add_usage(
        context, household, OPENAI, ago=3 * DAY, tokens=(800, 100, 0), cost=None,
        analysis_type="recommendation_generation",
    )  # fmt: skip
    await add_usage(context, household, HAIKU, ago=40 * DAY, cost=1.0)
    await add_usage(context, "H1", HAIKU, ago=DAY, tokens=(9000, 900, 0), cost=0.5)


async def _spend(context, customer_id: str | None, days: int) -> float:
    end = context.clock.now()
    async with context.db.session() as session:
        lines = await session.scalars(select(PurchaseLine))
        return sum(
            line.quantity * line.price
            for line in lines
            if end - timedelta(days=days) <= line.purchased_at < end
            and customer_id in (None, line.customer_id)
        )


async def _segment_of(context, customer_id: str) -> str:
    async with context.db.session() as session:
        segment = await session.scalar(
            select(CurrentSegment.segment_id).where(
                CurrentSegment.customer_id == customer_id
            )
        )
    assert segment is not None
    return segment


async def test_customer_figures_by_hand(client, context, segmented):
    await _ledger(context, segmented)
    headers = await customer_headers(client, context, segmented)
    response = await client.get(
        BASE + f"{segmented}/cost-analytics?days=30", headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()

    assert (body["scope"], body["customerId"], body["days"]) == (
        "customer",
        segmented,
        30,
    )
    totals = body["totals"]
    assert {k: totals[k] for k in ("calls", "successfulCalls", "failedCalls")} == {
        "calls": 5,
        "successfulCalls": 4,
        "failedCalls": 1,
    }
    assert (totals["fallbackCalls"], totals["pricedCalls"]) == (1, 4)
    assert (totals["inputTokens"], totals["outputTokens"]) == (2300, 300)
    assert (totals["cachedTokens"], totals["totalTokens"]) == (100, 2700)
    assert totals["totalCost"] == pytest.approx(0.000625)
    assert (totals["unpricedCalls"], totals["unpricedTokens"]) == (1, 900)
    assert totals["costPerAnalysis"] == pytest.approx(0.000625 / 4)
    assert totals["averageLatencyMs"] == 100.0

    models = [(m["key"], m["calls"], m["totalCost"]) for m in body["byModel"]]
    assert models == [
        (HAIKU, 2, pytest.approx(0.000625)),
        (LOCAL, 2, 0.0),
        (OPENAI, 1, 0.0),
    ]
    assert body["byModel"][0]["name"] == "Claude Haiku on Amazon Bedrock"
    assert body["byModel"][2]["unpricedCalls"] == 1
    types = {t["key"]: t["calls"] for t in body["byAnalysisType"]}
    assert types == {
        "consumption_prediction": 3,
        "full_analysis": 1,
        "recommendation_generation": 1,
    }
    (segment,) = body["bySegment"]
    assert segment["key"] == await _segment_of(context, segmented)
    assert segment["name"]
    assert segment["calls"] == 5

    spend = await _spend(context, segmented, 30)
    assert spend > 0
    assert body["customerSpend"] == pytest.approx(spend, abs=0.01)
    assert body["costToSpendRatio"] == pytest.approx(0.000625 / round(spend, 2))
    assert body["spendPeriodEnd"].startswith("2018-01-01")

    series = body["timeSeries"]
    assert len(series) == 31
    assert sum(day["calls"] for day in series) == 5
    assert max(day["calls"] for day in series) >= 3
    assert sum(day["unpricedCalls"] for day in series) == 1


async def test_overview_by_time_range(client, context, segmented):
    await _ledger(context, segmented)
    headers = await staff_headers(client, context)

    week = (await client.get(BASE + "cost-analytics/overview?timeRange=week",
                             headers=headers)).json()  # fmt: skip
    assert (week["scope"], week["timeRange"], week["days"]) == ("overview", "week", 7)
    assert week["totals"]["calls"] == 6
    assert week["totals"]["totalCost"] == pytest.approx(0.500625)
    segments = {s["key"] for s in week["bySegment"]}
    assert segments == {
        await _segment_of(context, segmented),
        await _segment_of(context, "H1"),
    }
    assert week["customerSpend"] == pytest.approx(
        await _spend(context, None, 7), abs=0.01
    )
    assert len(week["timeSeries"]) == 8

    day = (await client.get(BASE + "cost-analytics/overview?timeRange=day",
                            headers=headers)).json()  # fmt: skip
    assert day["totals"]["calls"] == 1
    month = (await client.get(BASE + "cost-analytics/overview?timeRange=month",
                              headers=headers)).json()  # fmt: skip
    assert month["totals"]["calls"] == 6
    default = (await client.get(BASE + "cost-analytics/overview",
                                headers=headers)).json()  # fmt: skip
    assert default["timeRange"] == "day"


async def test_customers_without_a_segment_are_grouped(client, context, store):
    await add_usage(context, store, HAIKU, ago=HOUR, tokens=(10, 10, 0), cost=0.01)
    headers = await staff_headers(client, context)
    body = (await client.get(BASE + "cost-analytics/overview",
                             headers=headers)).json()  # fmt: skip
    assert [(s["key"], s["name"]) for s in body["bySegment"]] == [("unsegmented", None)]


async def test_top_customers(client, context, segmented):
    await _ledger(context, segmented)
    await add_usage(context, "H2", OPENAI, ago=HOUR, tokens=(5, 5, 0), cost=None)
    headers = await staff_headers(client, context)
    response = await client.get(
        BASE + "cost-analytics/top-customers?limit=10&days=30", headers=headers
    )
    assert response.status_code == 200, response.text
    ranking = response.json()
    # H2's only call is unpriced: known cost 0, ranked after real costs.
    assert [c["customerId"] for c in ranking] == ["H1", segmented, "H2"]
    first = ranking[0]
    assert first["totalCost"] == pytest.approx(0.5)
    assert first["totalTokens"] == 9900
    assert first["segmentId"] == await _segment_of(context, "H1")
    assert first["segmentName"]
    assert first["customerSpend"] == pytest.approx(
        await _spend(context, "H1", 30), abs=0.01
    )
    assert ranking[2]["unpricedCalls"] == 1
    assert ranking[2]["costPerAnalysis"] is None

    limited = await client.get(
        BASE + "cost-analytics/top-customers?limit=1", headers=headers
    )
    assert [c["customerId"] for c in limited.json()] == ["H1"]
    recent = await client.get(
        BASE + "cost-analytics/top-customers?days=1", headers=headers
    )
    # Last day: H0's free local call, H2's unpriced one (an unknown cost ranks
    # above a known zero).
    assert [c["customerId"] for c in recent.json()] == ["H2", segmented]


async def test_authorization(client, context, store):
    own = await customer_headers(client, context, store)
    for path in ("cost-analytics/overview", "cost-analytics/top-customers"):
        assert (await client.get(BASE + path, headers=own)).status_code == 403
        assert (await client.get(BASE + path)).status_code == 401
    other = await client.get(BASE + "H1/cost-analytics", headers=own)
    assert other.status_code == 403
    assert (await client.get(BASE + f"{store}/cost-analytics")).status_code == 401
    mine = await client.get(BASE + f"{store}/cost-analytics", headers=own)
    assert mine.status_code == 200
    staff = await staff_headers(client, context, role="admin")
    theirs = await client.get(BASE + "H1/cost-analytics", headers=staff)
    assert theirs.status_code == 200


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("cost-analytics/overview?timeRange=year", "query.timeRange"),
        ("cost-analytics/top-customers?limit=0", "query.limit"),
        ("cost-analytics/top-customers?limit=101", "query.limit"),
        ("cost-analytics/top-customers?days=0", "query.days"),
        ("cost-analytics/top-customers?days=10000", "query.days"),
        ("H0/cost-analytics?days=0", "query.days"),
        ("H0/cost-analytics?days=-1", "query.days"),
        ("H0/cost-analytics?days=10000", "query.days"),
        ("H0/cost-analytics?days=ten", "query.days"),
    ],
)
async def test_bad_input_names_the_field(client, context, path, field):
    # Parameters are checked before the customer is looked up.
    headers = await staff_headers(client, context)
    response = await client.get(BASE + path, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["details"][0]["field"] == field


async def test_unknown_customer_is_404(client, context, store):
    headers = await staff_headers(client, context)
    response = await client.get(BASE + "ghost/cost-analytics", headers=headers)
    assert response.status_code == 404


async def test_cost_routes_are_not_read_as_customer_ids(client, context, store):
    headers = await staff_headers(client, context)
    overview = await client.get(BASE + "cost-analytics/overview", headers=headers)
    assert overview.json()["scope"] == "overview"
    paths = client._transport.app.openapi()["paths"]  # type: ignore[attr-defined]
    assert "/v1/customers/cost-analytics/overview" in paths
    assert "/v1/customers/cost-analytics/top-customers" in paths
    assert "/v1/customers/{id}/cost-analytics" in paths


async def test_analyses_show_in_the_figures(client, context, store):
    headers = await staff_headers(client, context)
    for path in ("ai-analysis", "ai-recommendations", "ai-analysis"):
        response = await client.get(BASE + f"{store}/{path}", headers=headers)
        assert response.status_code == 200
    body = (await client.get(BASE + f"{store}/cost-analytics",
                             headers=headers)).json()  # fmt: skip
    assert body["totals"]["calls"] == 3
    assert body["totals"]["totalCost"] == 0.0
    assert body["totals"]["unpricedCalls"] == 0
    assert {t["key"]: t["calls"] for t in body["byAnalysisType"]} == {
        "full_analysis": 2,
        "recommendation_generation": 1,
    }
    assert [m["key"] for m in body["byModel"]] == [LOCAL]


async def test_openapi_documents_the_cost_schemas(client):
    schema = client._transport.app.openapi()  # type: ignore[attr-defined]
    analytics = schema["components"]["schemas"]["CostAnalytics"]
    assert {
        "totals",
        "byModel",
        "byAnalysisType",
        "bySegment",
        "customerSpend",
        "costToSpendRatio",
        "timeSeries",
    } <= set(analytics["properties"])
    assert analytics["description"]
    figures = schema["components"]["schemas"]["CostFigures"]["properties"]
    assert "description" in figures["unpricedCalls"]
    operations = {
        op["operationId"] for path in schema["paths"].values() for op in path.values()
    }
    assert {
        "getCostOverview",
        "getTopCustomersByCost",
        "getCustomerCostAnalytics",
    } <= operations
