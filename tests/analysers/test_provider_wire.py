"""Behaviour every provider shares, checked against each one's wire protocol.

The same scenarios (a good answer, retried failures, throttling, a hung
server, malformed answers, no configuration) run against a local server
speaking Bedrock Converse, the Anthropic Messages API and OpenAI chat
completions in turn, through the real boto3, anthropic and openai clients.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel, Field

from omnix.analysers.completion import CompletionUsage, LLMProvider, RetryPolicy
from omnix.analysers.providers import (
    AnthropicProvider,
    BedrockProvider,
    OpenAICompatibleProvider,
    ProviderError,
)
from omnix.analysers.settings import ProviderSettings

FAST_RETRIES = RetryPolicy(max_attempts=3, base_backoff_s=0.01, max_backoff_s=0.05)


class BasketGuess(BaseModel):
    basket: list[str] = Field(min_length=1)
    confidence: float = Field(ge=0.0, le=1.0)


GOOD_ANSWER = '{"basket": ["milk", "bread"], "confidence": 0.8}'


@dataclass(frozen=True)
class WireCase:
    """How one provider is configured and what its server says."""

    name: str
    configure: Callable[[str], ProviderSettings]
    build: Callable[[ProviderSettings, RetryPolicy], LLMProvider]
    model_id: str
    path: str
    # (answer text, uncached input, output, cached tokens) -> response body
    ok: Callable[[str, int, int, int], dict[str, Any]]
    # (status) -> error body, in the provider's error format
    error: Callable[[int], tuple[dict[str, Any], dict[str, str]]]


def _bedrock_ok(text: str, fresh: int, output: int, cached: int) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": fresh,
            "outputTokens": output,
            "totalTokens": fresh + output + cached,
            "cacheReadInputTokens": cached,
        },
        "metrics": {"latencyMs": 42},
    }


_BEDROCK_CODES = {
    400: "ValidationException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


def _bedrock_error(status: int) -> tuple[dict[str, Any], dict[str, str]]:
    # rest-json errors name their type in this header (botocore reads it).
    code = _BEDROCK_CODES[status]
    return {"message": f"{code} from the test"}, {"x-amzn-ErrorType": code}


def _anthropic_ok(text: str, fresh: int, output: int, cached: int) -> dict[str, Any]:
    return {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-haiku-20240307",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": fresh,
            "output_tokens": output,
            "cache_read_input_tokens": cached,
            "cache_creation_input_tokens": 0,
        },
    }


_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
}


def _anthropic_error(status: int) -> tuple[dict[str, Any], dict[str, str]]:
    kind = _ANTHROPIC_TYPES[status]
    return {"type": "error", "error": {"type": kind, "message": kind}}, {}


def _openai_ok(text: str, fresh: int, output: int, cached: int) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "llama3.1:8b",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        # OpenAI counts cached tokens inside prompt_tokens.
        "usage": {
            "prompt_tokens": fresh + cached,
            "completion_tokens": output,
            "total_tokens": fresh + cached + output,
            "prompt_tokens_details": {"cached_tokens": cached},
        },
    }


def _openai_error(status: int) -> tuple[dict[str, Any], dict[str, str]]:
    body = {"error": {"message": f"status {status}", "type": "error", "code": None}}
    return body, {}


CASES = [
    WireCase(
        name="bedrock",
        configure=lambda url: ProviderSettings(
            bedrock_region="eu-west-1", bedrock_endpoint_url=url
        ),
        build=lambda s, p: BedrockProvider(s, retry_policy=p),
        model_id="anthropic.claude-3-haiku-20240307-v1:0",
        path="/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
        ok=_bedrock_ok,
        error=_bedrock_error,
    ),
    WireCase(
        name="anthropic",
        configure=lambda url: ProviderSettings(
            anthropic_api_key="sk-ant-test", anthropic_base_url=url
        ),
        build=lambda s, p: AnthropicProvider(s, retry_policy=p),
        model_id="claude-3-haiku-20240307",
        path="/v1/messages",
        ok=_anthropic_ok,
        error=_anthropic_error,
    ),
    WireCase(
        name="openai",
        configure=lambda url: ProviderSettings(
            openai_base_url=f"{url}/v1", openai_model="llama3.1:8b"
        ),
        build=lambda s, p: OpenAICompatibleProvider(s, retry_policy=p),
        model_id="llama3.1:8b",
        path="/v1/chat/completions",
        ok=_openai_ok,
        error=_openai_error,
    ),
]


@pytest.fixture(params=CASES, ids=[case.name for case in CASES])
def case(request: pytest.FixtureRequest) -> WireCase:
    return request.param


@pytest.fixture
async def provider(
    case: WireCase, provider_server: Any, aws_test_credentials: None
) -> AsyncIterator[LLMProvider]:
    built = case.build(case.configure(provider_server.base_url), FAST_RETRIES)
    yield built
    await built.aclose()


async def _ask(provider: LLMProvider, case: WireCase, deadline_s: float = 5.0) -> Any:
    return await provider.complete_json(
        model_id=case.model_id,
        system="Answer with JSON.",
        prompt="Guess the next basket.",
        answer_schema=BasketGuess,
        deadline_s=deadline_s,
    )


def _queue_error(server: Any, case: WireCase, status: int, **headers: str) -> None:
    body, error_headers = case.error(status)
    server.reply(status, body, headers={**error_headers, **headers})


async def test_good_answer_is_parsed_with_its_token_usage(
    case: WireCase, provider: LLMProvider, provider_server: Any
) -> None:
    fenced = f"Here you are:\n```json\n{GOOD_ANSWER}\n```"
    provider_server.reply(200, case.ok(fenced, 120, 30, 40))

    completion = await _ask(provider, case)

    assert completion.content == {"basket": ["milk", "bread"], "confidence": 0.8}
    assert completion.usage == CompletionUsage(120, 30, 40)
    assert completion.attempts == 1
    assert completion.latency_ms > 0
    assert [r.path for r in provider_server.received] == [case.path]


async def test_server_error_then_success_is_retried(
    case: WireCase, provider: LLMProvider, provider_server: Any
) -> None:
    _queue_error(provider_server, case, 500)
    provider_server.reply(200, case.ok(GOOD_ANSWER, 10, 5, 0))

    completion = await _ask(provider, case)

    assert completion.attempts == 2
    assert completion.usage == CompletionUsage(10, 5, 0)
    assert len(provider_server.received) == 2


async def test_throttling_waits_as_long_as_the_provider_asks(
    case: WireCase, provider: LLMProvider, provider_server: Any
) -> None:
    _queue_error(provider_server, case, 429, **{"retry-after": "0.3"})
    provider_server.reply(200, case.ok(GOOD_ANSWER, 10, 5, 0))

    started = time.monotonic()
    completion = await _ask(provider, case)

    assert time.monotonic() - started >= 0.3
    assert completion.attempts == 2


async def test_throttling_beyond_the_deadline_gives_up_at_once(
    case: WireCase, provider: LLMProvider, provider_server: Any
) -> None:
    _queue_error(provider_server, case, 429, **{"retry-after": "30"})

    started = time.monotonic()
    with pytest.raises(ProviderError) as raised:
        await _ask(provider, case, deadline_s=5.0)

    assert raised.value.kind == "http"
    assert raised.value.status_code == 429
    # Neither the 30 s asked for nor the 5 s deadline were waited out.
    assert time.monotonic() - started < 2.5
    assert len(provider_server.received) == 1


async def test_persistent_unavailability_ends_as_an_http_error(
    case: WireCase, provider: LLMProvider, provider_server: Any
) -> None:
    for _ in range(3):
        _queue_error(provider_server, case, 503)

    with pytest.raises(ProviderError) as raised:
        await _ask(provider, case)

    assert (raised.value.kind, raised.value.status_code) == ("http", 503)
    assert raised.value.attempts == 3
    assert len(provider_server.received) == 3


async def test_a_rejected_request_is_not_retried(
    case: WireCase, provider: LLMProvider, provider_server: Any
) -> None:
    _queue_error(provider_server, case, 400)

    with pytest.raises(ProviderError) as raised:
        await _ask(provider, case)

    assert (raised.value.kind, raised.value.status_code) == ("http", 400)
    assert len(provider_server.received) == 1


async def test_a_hung_server_times_out_within_the_deadline(
    case: WireCase, provider: LLMProvider, provider_server: Any
) -> None:
    provider_server.reply(200, case.ok(GOOD_ANSWER, 10, 5, 0), delay_s=5.0)
    deadline_s = 0.6

    started = time.monotonic()
    with pytest.raises(ProviderError) as raised:
        await _ask(provider, case, deadline_s=deadline_s)
    elapsed = time.monotonic() - started

    assert raised.value.kind == "timeout"
    assert deadline_s - 0.05 <= elapsed < deadline_s + 0.4


async def test_malformed_answers_fail_after_the_retries(
    case: WireCase, provider: LLMProvider, provider_server: Any
) -> None:
    for text in (
        "I think they will buy milk.",
        '{"basket": "milk", "confidence": 0.5}',
        '```json\n{"basket": ["milk"], "confidence": 7}\n```',
    ):
        provider_server.reply(200, case.ok(text, 100, 20, 0))

    with pytest.raises(ProviderError) as raised:
        await _ask(provider, case)

    assert raised.value.kind == "malformed"
    assert raised.value.attempts == 3
    # Every malformed answer was billed; the error carries all of it.
    assert raised.value.usage == CompletionUsage(300, 60, 0)
    assert len(provider_server.received) == 3


async def test_a_malformed_answer_is_retried_and_billed(
    case: WireCase, provider: LLMProvider, provider_server: Any
) -> None:
    provider_server.reply(200, case.ok('{"basket": [', 100, 20, 0))
    provider_server.reply(200, case.ok(GOOD_ANSWER, 100, 25, 50))

    completion = await _ask(provider, case)

    assert completion.attempts == 2
    assert completion.usage == CompletionUsage(200, 45, 50)


async def test_unconfigured_provider_is_unavailable_with_a_reason(
    case: WireCase, provider_server: Any, aws_test_credentials: None
) -> None:
    unconfigured = case.build(ProviderSettings(), FAST_RETRIES)

    available, reason = unconfigured.availability()
    with pytest.raises(ProviderError) as raised:
        await _ask(unconfigured, case)

    assert available is False
    assert reason is not None
    assert reason.startswith("OMNIX_")
    assert raised.value.kind == "unavailable"
    assert provider_server.received == []


async def test_configured_provider_is_available(
    case: WireCase, provider: LLMProvider
) -> None:
    assert provider.availability() == (True, None)
    assert provider.offered_model_ids
