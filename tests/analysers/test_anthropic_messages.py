"""Anthropic specifics: the Messages request and how its reply is read."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from omnix.analysers.anthropic_messages import AnthropicProvider
from omnix.analysers.completion import CompletionUsage, RetryPolicy
from omnix.analysers.settings import ANTHROPIC_SONNET_MODEL_ID, ProviderSettings


class Answer(BaseModel):
    product_id: str


async def test_messages_request_and_reply(provider_server: Any) -> None:
    provider_server.reply(
        200,
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-3-5-sonnet-20240620",
            # The JSON may arrive split over several text blocks.
            "content": [
                {"type": "text", "text": '{"product_'},
                {"type": "text", "text": 'id": "p7"}'},
            ],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": 40,
                "output_tokens": 6,
                "cache_read_input_tokens": 300,
                "cache_creation_input_tokens": 12,
            },
        },
    )
    settings = ProviderSettings(
        anthropic_api_key="sk-ant-omnix-test",
        anthropic_base_url=provider_server.base_url,
    )
    provider = AnthropicProvider(settings, retry_policy=RetryPolicy())

    completion = await provider.complete_json(
        model_id=ANTHROPIC_SONNET_MODEL_ID,
        system="the rules",
        prompt="the question",
        answer_schema=Answer,
        deadline_s=5.0,
    )
    await provider.aclose()

    (request,) = provider_server.received
    assert request.path == "/v1/messages"
    credentials = request.headers.get("x-api-key", "") + request.headers.get(
        "authorization", ""
    )
    assert "sk-ant-omnix-test" in credentials
    assert "anthropic-version" in request.headers
    # Retries are ours alone: the SDK must not multiply them.
    assert request.headers["x-stainless-retry-count"] == "0"
    assert request.body["model"] == ANTHROPIC_SONNET_MODEL_ID
    assert request.body["system"] == "the rules"
    assert request.body["messages"] == [{"role": "user", "content": "the question"}]
    assert request.body["max_tokens"] == 4096
    assert completion.content == {"product_id": "p7"}
    assert completion.provider_model_id == "claude-3-5-sonnet-20240620"
    assert completion.usage == CompletionUsage(52, 6, 300)
