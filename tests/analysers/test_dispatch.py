"""Analyses answered through the chosen analyser, end to end over HTTP.

LLM analysers run their real provider client against the scripted local
server (tests/analysers/conftest.py); each call's ledger rows are read back.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from omnix.analysers.registry import (
    ANTHROPIC_HAIKU_ID,
    BEDROCK_HAIKU_ID,
    INTERVAL_BASELINE_ID,
    LOCAL_ENGINE_ID,
    OPENAI_COMPATIBLE_ID,
)
from omnix.analytics import service
from omnix.costs.models import AnalysisUsage
from tests.analysers.support import (
    OPENAI_MODEL,
    USAGE,
    chatty,
    configure,
    cooperative,
    facts_of,
    texts_of,
)
from tests.factories import customer_headers, staff_headers

BASE = "/v1/customers/{}/"
# A made-up self-hosted price, so that the cost of a call is known exactly.
PRICE = {OPENAI_MODEL: {"input": 2, "output": 10, "version": "test-price"}}


async def _ledger(context) -> list[AnalysisUsage]:
    async with context.db.session() as session:
        rows = await session.scalars(select(AnalysisUsage).order_by(AnalysisUsage.id))
        return list(rows)


def _openai(context, server, **extra) -> None:
    configure(
        context,
        openai_base_url=f"{server.base_url}/v1",
        openai_model=OPENAI_MODEL,
        **extra,
    )


async def test_staff_choose_the_interval_baseline(client, context, store):
    headers = await staff_headers(client, context)
    url = BASE.format(store) + "ai-analysis?model=" + INTERVAL_BASELINE_ID
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["modelId"] == INTERVAL_BASELINE_ID
    assert body["activity"]["insufficientData"] is True
    coffee = next(p for p in body["consumptionPatterns"] if p["productId"] == "COFFEE")
    assert coffee["daysUntilNextPurchase"] >= 0
    (row,) = await _ledger(context)
    assert (row.analyser_id, row.success, row.cost_usd) == (
        INTERVAL_BASELINE_ID,
        True,
        0.0,
    )
    assert row.price_version == "local-engines"


async def test_unknown_model_is_400_listing_the_available(client, context, store):
    headers = await staff_headers(client, context)
    url = BASE.format(store) + "consumption-predictions?model=gpt-7"
    response = await client.get(url, headers=headers)
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "query.model"
    message = response.json()["message"]
    assert LOCAL_ENGINE_ID in message
    assert INTERVAL_BASELINE_ID in message
    assert BEDROCK_HAIKU_ID not in message  # listed, but not available


async def test_model_without_the_analysis_type_is_400(
    client, context, store, provider_server
):
    _openai(context, provider_server, openai_analysis_types="consumption_prediction")
    headers = await staff_headers(client, context)
    url = BASE.format(store) + "customer-profile-analysis?model=" + OPENAI_COMPATIBLE_ID
    response = await client.get(url, headers=headers)
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "query.model"
    assert "customer_profiling" in response.json()["message"]
    assert provider_server.received == []


async def test_unconfigured_model_chosen_explicitly_is_400_with_reason(
    client, context, store
):
    headers = await staff_headers(client, context)
    url = BASE.format(store) + "ai-analysis?model=" + ANTHROPIC_HAIKU_ID
    response = await client.get(url, headers=headers)
    assert response.status_code == 400
    assert "OMNIX_ANTHROPIC_API_KEY is not set" in response.json()["message"]


async def test_openai_compatible_model_answers_predictions(
    client, context, store, provider_server
):
    _openai(context, provider_server, price_overrides=json.dumps(PRICE))
    provider_server.responder = cooperative
    headers = await staff_headers(client, context)
    url = BASE.format(store) + "consumption-predictions?model=" + OPENAI_COMPATIBLE_ID
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    patterns = response.json()
    (request,) = provider_server.received
    sent = json.dumps(request.body)
    assert store not in sent  # the household's id never leaves
    asked = facts_of(texts_of(request)[1])["product_rhythms"]
    assert {p["productId"] for p in patterns} == {r["product_id"] for r in asked}
    assert {p["predictedNextPurchaseDate"] for p in patterns} == {"2018-01-03"}
    assert {p["confidence"] for p in patterns} == {0.7}
    assert "COFFEE" in {p["productId"] for p in patterns}

    (row,) = await _ledger(context)
    fresh, output, _ = USAGE
    assert row.analyser_id == OPENAI_COMPATIBLE_ID
    assert row.provider_model_id == OPENAI_MODEL
    assert (row.input_tokens, row.output_tokens, row.cached_tokens) == (
        fresh,
        output,
        0,
    )
    expected = (Decimal(fresh) * 2 + Decimal(output) * 10) / Decimal(1_000_000)
    assert row.cost_usd == pytest.approx(float(expected), rel=1e-12)
    assert (row.price_version, row.unpriced, row.success) == ("test-price", False, True)
    assert row.confidence == 0.7


async def test_bedrock_haiku_answers_a_full_analysis(
    client, context, store, provider_server, aws_test_credentials
):
    configure(
        context,
        bedrock_region="us-east-1",
        bedrock_endpoint_url=provider_server.base_url,
    )
    provider_server.responder = cooperative
    headers = await staff_headers(client, context)
    response = await client.post(
        BASE.format(store) + "analyze?model=" + BEDROCK_HAIKU_ID, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["modelId"] == BEDROCK_HAIKU_ID
    assert body["customerProfile"]["demographics"]["source"] == "estimated"
    assert body["customerProfile"]["spendingPatterns"]["pricePreference"] == "budget"
    assert [r["score"] for r in body["recommendations"]] == [0.6, 0.6]
    paths = sorted(r.path for r in provider_server.received)
    assert paths == ["/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"] * 3

    (row,) = await _ledger(context)
    fresh, output, _ = USAGE
    assert (row.analysis_type, row.input_tokens, row.output_tokens) == (
        "full_analysis",
        3 * fresh,
        3 * output,
    )
    # Claude 3 Haiku's built-in price: $0.25 and $1.25 per million tokens.
    assert row.cost_usd == pytest.approx((3 * fresh * 0.25 + 3 * output * 1.25) / 1e6)
    assert row.price_version == "2024-03-claude-3-haiku"


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_configured_default_answers_customers(
    client, context, store, provider_server, provider
):
    if provider == "openai":
        _openai(context, provider_server, default_analyser=OPENAI_COMPATIBLE_ID)
    else:
        configure(
            context,
            anthropic_api_key=SecretStr("sk-ant-test"),
            anthropic_base_url=provider_server.base_url,
            default_analyser=ANTHROPIC_HAIKU_ID,
        )
    provider_server.responder = cooperative
    headers = await customer_headers(client, context, store)
    response = await client.get(
        BASE.format(store) + "ai-recommendations?limit=5", headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["modelId"] == context.settings.default_analyser
    assert len(body["recommendations"]) == 2
    assert body["confidence"] == 0.6
    (row,) = await _ledger(context)
    assert row.analyser_id == context.settings.default_analyser
    # No price for a self-hosted model: unknown, never free.
    if provider == "openai":
        assert (row.cost_usd, row.unpriced, row.price_version) == (None, True, None)
    else:
        assert row.cost_usd > 0


async def test_timeout_is_recorded_and_answered_by_the_local_engine(
    client, context, store, provider_server
):
    _openai(context, provider_server, llm_deadline_s=0.4)
    provider_server.reply(200, {}, delay_s=3.0)
    headers = await staff_headers(client, context)
    url = BASE.format(store) + "replenishment-alerts?model=" + OPENAI_COMPATIBLE_ID
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    failed, fallback = await _ledger(context)
    assert (failed.analyser_id, failed.success, failed.error_kind) == (
        OPENAI_COMPATIBLE_ID,
        False,
        "timeout",
    )
    assert (failed.input_tokens, failed.fallback_for) == (0, None)
    assert (fallback.analyser_id, fallback.success, fallback.fallback_for) == (
        LOCAL_ENGINE_ID,
        True,
        OPENAI_COMPATIBLE_ID,
    )
    assert failed.created_at == fallback.created_at


async def test_malformed_answers_are_billed_and_fall_back(
    client, context, store, provider_server
):
    _openai(context, provider_server, price_overrides=json.dumps(PRICE))
    provider_server.responder = chatty
    headers = await staff_headers(client, context)
    url = BASE.format(store) + "ai-analysis?model=" + OPENAI_COMPATIBLE_ID
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["modelId"] == LOCAL_ENGINE_ID
    failed, fallback = await _ledger(context)
    assert (failed.success, failed.error_kind) == (False, "malformed")
    # Three analysis types, three attempts each: every reply was billed.
    assert len(provider_server.received) == 9
    fresh, output, _ = USAGE
    assert (failed.input_tokens, failed.output_tokens) == (9 * fresh, 9 * output)
    assert failed.cost_usd == pytest.approx(9 * (fresh * 2 + output * 10) / 1e6)
    assert (fallback.fallback_for, fallback.cost_usd) == (OPENAI_COMPATIBLE_ID, 0.0)


async def test_household_without_history_falls_back_without_a_call(
    client, context, store, provider_server
):
    _openai(context, provider_server)
    headers = await staff_headers(client, context)
    url = BASE.format("EMPTY") + "consumption-predictions?model=" + OPENAI_COMPATIBLE_ID
    response = await client.get(url, headers=headers)
    assert response.status_code == 200
    failed, fallback = await _ledger(context)
    assert (failed.error_kind, failed.cost_usd) == ("insufficient_data", 0.0)
    assert fallback.fallback_for == OPENAI_COMPATIBLE_ID
    assert provider_server.received == []


async def test_experiment_assignment_hook_picks_the_analyser(
    client, context, store, monkeypatch
):
    chosen: list[str] = []

    async def assign(context, session, customer_id, analysis_type):
        chosen.append(customer_id)
        return INTERVAL_BASELINE_ID if customer_id == store else "retired-model"

    monkeypatch.setattr(service, "choose_analyser", assign)
    headers = await staff_headers(client, context)
    for household in (store, "H1"):
        response = await client.get(
            BASE.format(household) + "ai-analysis", headers=headers
        )
        assert response.status_code == 200
    assert chosen == [store, "H1"]
    rows = await _ledger(context)
    # An unknown assignment is ignored and the default answers.
    assert [r.analyser_id for r in rows] == [INTERVAL_BASELINE_ID, LOCAL_ENGINE_ID]
    explicit = await client.get(
        BASE.format(store) + "ai-analysis?model=" + LOCAL_ENGINE_ID, headers=headers
    )
    assert explicit.json()["modelId"] == LOCAL_ENGINE_ID
    assert chosen == [store, "H1"]  # an explicit choice asks no experiment


async def test_unavailable_default_is_recorded_and_answered_locally(
    client, context, store, no_aws_credentials
):
    configure(context, default_analyser=BEDROCK_HAIKU_ID)
    headers = await customer_headers(client, context, store)
    response = await client.get(BASE.format(store) + "ai-analysis", headers=headers)
    assert response.status_code == 200
    assert response.json()["modelId"] == LOCAL_ENGINE_ID
    failed, fallback = await _ledger(context)
    assert (failed.error_kind, failed.error_message) == (
        "unavailable",
        "OMNIX_BEDROCK_REGION is not set",
    )
    assert fallback.fallback_for == BEDROCK_HAIKU_ID
