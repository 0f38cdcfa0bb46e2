"""The registry from configuration, the models catalogue and cost estimates."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from omnix.analysers.catalogue import (
    TYPICAL_TOKENS,
    available_models,
    estimate_cost,
    typical_usage,
)
from omnix.analysers.providers import build_providers
from omnix.analysers.registry import (
    ANALYSER_IDS,
    ANTHROPIC_HAIKU_ID,
    ANTHROPIC_SONNET_ID,
    BEDROCK_HAIKU_ID,
    BEDROCK_SONNET_ID,
    FULL_ANALYSIS,
    INTERVAL_BASELINE_ID,
    LOCAL_ENGINE_ID,
    OPENAI_COMPATIBLE_ID,
    build_registry,
)
from omnix.analysers.settings import ProviderSettings
from omnix.config import Settings
from omnix.errors import BadRequest, NotFound
from tests.analysers.support import OPENAI_MODEL, configure

REASONS = {
    BEDROCK_HAIKU_ID: "OMNIX_BEDROCK_REGION is not set",
    BEDROCK_SONNET_ID: "OMNIX_BEDROCK_REGION is not set",
    ANTHROPIC_HAIKU_ID: "OMNIX_ANTHROPIC_API_KEY is not set",
    ANTHROPIC_SONNET_ID: "OMNIX_ANTHROPIC_API_KEY is not set",
    OPENAI_COMPATIBLE_ID: "OMNIX_OPENAI_BASE_URL is not set",
}


def test_unconfigured_registry_lists_llms_as_unavailable_with_reasons(
    no_aws_credentials,
):
    settings = ProviderSettings()
    registry = build_registry(settings, build_providers(settings))

    by_id = {analyser.id: analyser for analyser in registry.all()}
    assert tuple(by_id) == ANALYSER_IDS
    assert registry.available_ids() == [INTERVAL_BASELINE_ID, LOCAL_ENGINE_ID]
    for analyser_id, reason in REASONS.items():
        assert by_id[analyser_id].available is False
        assert by_id[analyser_id].unavailable_reason == reason
        assert by_id[analyser_id].kind == "llm"
    assert by_id[BEDROCK_HAIKU_ID].provider_model_id == settings.bedrock_haiku_model_id
    assert registry.default_id == LOCAL_ENGINE_ID


def test_configured_providers_become_available(aws_test_credentials):
    settings = ProviderSettings(
        bedrock_region="eu-west-1",
        bedrock_sonnet_model_id="eu.anthropic.claude-3-5-sonnet-20240620-v1:0",
        anthropic_api_key="sk-ant-test",
        openai_base_url="http://127.0.0.1:11434/v1",
        openai_model=OPENAI_MODEL,
        openai_analysis_types="recommendation_generation, consumption_prediction",
    )
    registry = build_registry(settings, build_providers(settings))

    assert registry.available_ids() == sorted(ANALYSER_IDS)
    sonnet = registry.get(BEDROCK_SONNET_ID)
    assert sonnet.provider_model_id == "eu.anthropic.claude-3-5-sonnet-20240620-v1:0"
    openai = registry.get(OPENAI_COMPATIBLE_ID)
    assert openai.analysis_types == (
        "consumption_prediction",
        "recommendation_generation",
    )
    assert openai.supports("consumption_prediction")
    assert not openai.supports("customer_profiling")
    assert not openai.supports(FULL_ANALYSIS)
    assert registry.get(LOCAL_ENGINE_ID).supports(FULL_ANALYSIS)


def test_bedrock_without_credentials_says_so(no_aws_credentials):
    settings = ProviderSettings(bedrock_region="us-east-1")
    registry = build_registry(settings, build_providers(settings))
    reason = registry.get(BEDROCK_HAIKU_ID).unavailable_reason
    assert reason is not None
    assert reason.startswith("no AWS credentials found")


def test_resolve_refuses_unknown_unsupported_and_unavailable(no_aws_credentials):
    settings = ProviderSettings(
        openai_base_url="http://127.0.0.1:11434/v1",
        openai_model=OPENAI_MODEL,
        openai_analysis_types="consumption_prediction",
    )
    registry = build_registry(settings, build_providers(settings))

    with pytest.raises(BadRequest, match="available: local:interval-baseline-v1, "):
        registry.resolve("gpt-7", "customer_profiling")
    with pytest.raises(BadRequest, match="does not support customer_profiling"):
        registry.resolve(OPENAI_COMPATIBLE_ID, "customer_profiling")
    with pytest.raises(BadRequest, match="OMNIX_BEDROCK_REGION is not set"):
        registry.resolve(BEDROCK_HAIKU_ID, "customer_profiling")
    assert registry.resolve(None, FULL_ANALYSIS).id == LOCAL_ENGINE_ID


def test_settings_read_the_documented_variables(monkeypatch):
    monkeypatch.setenv("OMNIX_BEDROCK_REGION", "us-west-2")
    monkeypatch.setenv("OMNIX_BEDROCK_HAIKU_MODEL_ID", "us.anthropic.claude-3-haiku")
    monkeypatch.setenv("OMNIX_ANTHROPIC_API_KEY", "sk-ant-env")
    monkeypatch.setenv("OMNIX_OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("OMNIX_OPENAI_MODEL", "llama3.1:8b")
    monkeypatch.setenv("OMNIX_LLM_DEADLINE_S", "12.5")
    monkeypatch.setenv("OMNIX_DEFAULT_ANALYSER", INTERVAL_BASELINE_ID)
    monkeypatch.setenv(
        "OMNIX_PRICE_OVERRIDES", '{"llama3.1:*": {"input": 0, "output": 0}}'
    )

    settings = Settings(_env_file=None)
    providers = settings.provider_settings

    assert providers.bedrock_region == "us-west-2"
    assert providers.bedrock_haiku_model_id == "us.anthropic.claude-3-haiku"
    assert providers.anthropic_api_key is not None
    assert providers.anthropic_api_key.get_secret_value() == "sk-ant-env"
    assert providers.openai_model == "llama3.1:8b"
    assert providers.llm_deadline_s == 12.5
    assert settings.default_analyser == INTERVAL_BASELINE_ID


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("OMNIX_DEFAULT_ANALYSER", "gpt-7", "OMNIX_DEFAULT_ANALYSER"),
        ("OMNIX_OPENAI_BASE_URL", "localhost:11434", "OMNIX_OPENAI_BASE_URL"),
        ("OMNIX_LLM_DEADLINE_S", "0", "OMNIX_LLM_DEADLINE_S"),
        ("OMNIX_PRICE_OVERRIDES", "{not json", "OMNIX_PRICE_OVERRIDES"),
        ("OMNIX_OPENAI_ANALYSIS_TYPES", "horoscope", "OMNIX_OPENAI_ANALYSIS_TYPES"),
    ],
)
def test_bad_settings_are_refused_at_start_naming_the_variable(
    monkeypatch, variable, value, named
):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=named):
        Settings(_env_file=None)


async def test_available_models_with_prices(context, no_aws_credentials):
    models = {model.id: model for model in available_models(context)}

    assert list(models) == list(ANALYSER_IDS)
    local = models[LOCAL_ENGINE_ID]
    assert (local.available, local.local, local.default) == (True, True, True)
    assert local.pricing is not None
    assert local.pricing.input_per_million_tokens == 0
    haiku = models[BEDROCK_HAIKU_ID]
    assert (haiku.available, haiku.unavailable_reason) == (
        False,
        "OMNIX_BEDROCK_REGION is not set",
    )
    assert haiku.pricing is not None
    assert (
        haiku.pricing.input_per_million_tokens,
        haiku.pricing.output_per_million_tokens,
        haiku.pricing.cached_input_per_million_tokens,
    ) == (0.25, 1.25, 0.03)
    assert models[BEDROCK_SONNET_ID].pricing.output_per_million_tokens == 15
    # A model nobody priced has no pricing: unknown, not free.
    assert models[OPENAI_COMPATIBLE_ID].pricing is None
    body = haiku.model_dump(mode="json", by_alias=True)
    assert {"analysisTypes", "unavailableReason", "pricing"} <= set(body)


async def test_estimates_are_typical_tokens_at_todays_price(context):
    amount, note = estimate_cost(context, LOCAL_ENGINE_ID, FULL_ANALYSIS, 500)
    assert amount == 0.0
    assert "no tokens" in note

    amount, note = estimate_cost(context, BEDROCK_HAIKU_ID, "customer_profiling", 40)
    tokens_in, tokens_out = TYPICAL_TOKENS["customer_profiling"]
    each = (Decimal(tokens_in) * Decimal("0.25") + tokens_out * Decimal("1.25")) / 10**6
    assert amount == pytest.approx(float(each * 40))
    assert "2024-03-claude-3-haiku" in note
    assert "unavailable" in note

    full, _ = estimate_cost(context, BEDROCK_SONNET_ID, FULL_ANALYSIS, 1)
    usage = typical_usage(FULL_ANALYSIS)
    assert usage.input_tokens == sum(t[0] for t in TYPICAL_TOKENS.values())
    assert full == pytest.approx(
        (usage.input_tokens * 3 + usage.output_tokens * 15) / 1e6
    )
    assert estimate_cost(context, BEDROCK_HAIKU_ID, "consumption_prediction", 0)[0] == 0


async def test_estimates_refuse_what_cannot_be_priced_or_run(context):
    configure(
        context,
        openai_base_url="http://127.0.0.1:11434/v1",
        openai_model=OPENAI_MODEL,
        openai_analysis_types="consumption_prediction",
    )
    amount, note = estimate_cost(
        context, OPENAI_COMPATIBLE_ID, "consumption_prediction", 10
    )
    assert amount is None
    assert note.startswith("Unpriced")
    with pytest.raises(NotFound, match="available"):
        estimate_cost(context, "gpt-7", "consumption_prediction", 10)
    with pytest.raises(BadRequest):
        estimate_cost(context, OPENAI_COMPATIBLE_ID, "customer_profiling", 10)
    with pytest.raises(ValueError, match="jobs"):
        estimate_cost(context, LOCAL_ENGINE_ID, "customer_profiling", -1)

    configure(
        context,
        price_overrides=json.dumps({"qwen2.5:*": {"input": 0.1, "output": 0.2}}),
    )
    amount, _ = estimate_cost(
        context, OPENAI_COMPATIBLE_ID, "consumption_prediction", 2
    )
    tokens_in, tokens_out = TYPICAL_TOKENS["consumption_prediction"]
    assert amount == pytest.approx(2 * (tokens_in * 0.1 + tokens_out * 0.2) / 1e6)
