"""OpenAI-compatible specifics: JSON mode, keyless servers, cached tokens."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from omnix.analysers.completion import CompletionUsage, ProviderError, RetryPolicy
from omnix.analysers.openai_chat import OpenAICompatibleProvider
from omnix.analysers.settings import ProviderSettings


class Answer(BaseModel):
    product_id: str


def _completion(
    content: str | None, usage: dict[str, Any] | None, choices: bool = True
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "qwen2.5:7b-instruct",
        "choices": [],
    }
    if choices:
        body["choices"] = [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ]
    if usage is not None:
        body["usage"] = usage
    return body


def _provider(url: str, api_key: str | None = None) -> OpenAICompatibleProvider:
    settings = ProviderSettings(
        openai_base_url=f"{url}/v1",
        openai_model="qwen2.5:7b-instruct",
        openai_api_key=api_key,
    )
    return OpenAICompatibleProvider(
        settings, retry_policy=RetryPolicy(max_attempts=2, base_backoff_s=0.01)
    )


async def _ask(provider: OpenAICompatibleProvider) -> Any:
    try:
        return await provider.complete_json(
            model_id="qwen2.5:7b-instruct",
            system="the rules",
            prompt="the question",
            answer_schema=Answer,
            deadline_s=5.0,
        )
    finally:
        await provider.aclose()


async def test_keyless_server_gets_a_json_mode_request(provider_server: Any) -> None:
    usage = {"prompt_tokens": 30, "completion_tokens": 4, "total_tokens": 34}
    provider_server.reply(200, _completion('{"product_id": "p3"}', usage))

    completion = await _ask(_provider(provider_server.base_url))

    (request,) = provider_server.received
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer omnix-no-key"
    assert request.body["model"] == "qwen2.5:7b-instruct"
    assert request.body["response_format"] == {"type": "json_object"}
    assert request.body["messages"] == [
        {"role": "system", "content": "the rules"},
        {"role": "user", "content": "the question"},
    ]
    # No prompt_tokens_details: nothing was cached.
    assert completion.usage == CompletionUsage(30, 4, 0)
    assert completion.provider_model_id == "qwen2.5:7b-instruct"


async def test_configured_key_is_sent_and_cached_tokens_split_out(
    provider_server: Any,
) -> None:
    usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 20,
        "total_tokens": 1020,
        "prompt_tokens_details": {"cached_tokens": 768},
    }
    provider_server.reply(200, _completion('{"product_id": "p3"}', usage))

    completion = await _ask(_provider(provider_server.base_url, api_key="sk-local"))

    assert provider_server.received[0].headers["authorization"] == "Bearer sk-local"
    assert completion.usage == CompletionUsage(232, 20, 768)


async def test_a_reply_without_choices_is_malformed(provider_server: Any) -> None:
    for _ in range(2):
        provider_server.reply(200, _completion(None, None, choices=False))

    with pytest.raises(ProviderError) as raised:
        await _ask(_provider(provider_server.base_url))

    assert raised.value.kind == "malformed"
    assert len(provider_server.received) == 2


def test_model_is_required_for_availability() -> None:
    provider = OpenAICompatibleProvider(
        ProviderSettings(openai_base_url="http://127.0.0.1:11434/v1")
    )

    assert provider.availability() == (False, "OMNIX_OPENAI_MODEL is not set")
    assert provider.offered_model_ids == ()
