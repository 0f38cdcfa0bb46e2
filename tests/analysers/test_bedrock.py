"""Bedrock specifics: a SigV4-signed Converse request and the credential chain."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from omnix.analysers.bedrock import BedrockProvider
from omnix.analysers.completion import CompletionUsage, ProviderError, RetryPolicy
from omnix.analysers.settings import BEDROCK_SONNET_MODEL_ID, ProviderSettings


class Answer(BaseModel):
    product_id: str


def _converse_reply(text: str, usage: dict[str, int]) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": usage,
        "metrics": {"latencyMs": 7},
    }


def _provider(url: str) -> BedrockProvider:
    settings = ProviderSettings(bedrock_region="eu-west-1", bedrock_endpoint_url=url)
    return BedrockProvider(settings, retry_policy=RetryPolicy(base_backoff_s=0.01))


async def test_converse_request_is_signed_and_shaped_per_the_service_model(
    provider_server: Any, aws_test_credentials: None
) -> None:
    provider_server.reply(
        200,
        _converse_reply('{"product_id": "p1"}', {"inputTokens": 9, "outputTokens": 3}),
    )

    completion = await _provider(provider_server.base_url).complete_json(
        model_id=BEDROCK_SONNET_MODEL_ID,
        system="the rules",
        prompt="the question",
        answer_schema=Answer,
        deadline_s=5.0,
    )

    (request,) = provider_server.received
    assert request.path == (
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    )
    authorization = request.headers["authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDOMNIXTEST/")
    assert "/eu-west-1/bedrock/aws4_request" in authorization
    assert "x-amz-date" in request.headers
    assert request.body["system"] == [{"text": "the rules"}]
    assert request.body["messages"] == [
        {"role": "user", "content": [{"text": "the question"}]}
    ]
    assert request.body["inferenceConfig"]["maxTokens"] == 4096
    assert "modelId" not in request.body  # it travels in the URI
    assert completion.provider_model_id == BEDROCK_SONNET_MODEL_ID
    assert completion.usage == CompletionUsage(9, 3, 0)


async def test_cache_reads_and_writes_are_billed(
    provider_server: Any, aws_test_credentials: None
) -> None:
    usage = {
        "inputTokens": 50,
        "outputTokens": 10,
        "totalTokens": 180,
        "cacheReadInputTokens": 100,
        "cacheWriteInputTokens": 20,
    }
    provider_server.reply(200, _converse_reply('{"product_id": "p1"}', usage))

    completion = await _provider(provider_server.base_url).complete_json(
        model_id="anthropic.claude-3-haiku-20240307-v1:0",
        system="s",
        prompt="p",
        answer_schema=Answer,
        deadline_s=5.0,
    )

    # Cache writes have no field of their own, so they count as input.
    assert completion.usage == CompletionUsage(70, 10, 100)


async def test_no_credentials_means_unavailable(
    provider_server: Any, no_aws_credentials: None
) -> None:
    provider = _provider(provider_server.base_url)

    available, reason = provider.availability()
    with pytest.raises(ProviderError) as raised:
        await provider.complete_json(
            model_id="anthropic.claude-3-haiku-20240307-v1:0",
            system="s",
            prompt="p",
            answer_schema=Answer,
            deadline_s=5.0,
        )

    assert available is False
    assert reason is not None
    assert "credentials" in reason
    assert raised.value.kind == "unavailable"
    assert provider_server.received == []


def test_offers_the_configured_model_ids(aws_test_credentials: None) -> None:
    settings = ProviderSettings(
        bedrock_region="us-east-1",
        bedrock_haiku_model_id="us.anthropic.claude-3-haiku-20240307-v1:0",
    )

    provider = BedrockProvider(settings)

    assert provider.offered_model_ids == (
        "us.anthropic.claude-3-haiku-20240307-v1:0",
        BEDROCK_SONNET_MODEL_ID,
    )
