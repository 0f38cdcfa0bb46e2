"""The provider-neutral part: finding JSON in a reply, retries, the deadline."""

from __future__ import annotations

import time

import pytest
from pydantic import BaseModel

from omnix.analysers.completion import (
    CompletionUsage,
    ProviderError,
    RawReply,
    RetryPolicy,
    complete_with_retries,
    extract_json_object,
    parse_retry_after,
)


class Answer(BaseModel):
    count: int


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"count": 1}', {"count": 1}),
        ('```json\n{"count": 2}\n```', {"count": 2}),
        ('```\n{"count": 3}\n```\nHope this helps.', {"count": 3}),
        ('Sure! Here is the JSON: {"count": 4} as requested.', {"count": 4}),
        # A brace inside prose before the object must not derail the search.
        (
            'Estimates {roughly} follow: {"count": 5, "note": "a {b}"}',
            {"count": 5, "note": "a {b}"},
        ),
        ('{"outer": {"count": 6}}', {"outer": {"count": 6}}),
    ],
)
def test_json_object_is_found_in_replies(
    text: str, expected: dict[str, object]
) -> None:
    assert extract_json_object(text) == expected


@pytest.mark.parametrize("text", ["", "no json here", "[1, 2, 3]", '{"count": 1'])
def test_replies_without_an_object_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="no JSON object"):
        extract_json_object(text)


def test_backoff_grows_and_respects_retry_after() -> None:
    policy = RetryPolicy(base_backoff_s=1.0, max_backoff_s=3.0)

    first = [policy.backoff_s(1, None) for _ in range(200)]
    third = [policy.backoff_s(3, None) for _ in range(200)]

    assert all(0.5 <= wait <= 1.0 for wait in first)
    assert all(1.5 <= wait <= 3.0 for wait in third)  # capped at max_backoff_s
    assert policy.backoff_s(1, 2.5) >= 2.5


def test_retry_after_header_values() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert parse_retry_after("-1") is None
    assert parse_retry_after(None) is None


async def test_backoff_that_would_pass_the_deadline_ends_the_retries() -> None:
    calls = 0

    async def always_throttled(remaining_s: float) -> RawReply:
        nonlocal calls
        calls += 1
        raise ProviderError(
            "http", "slow down", provider="test", status_code=429, retryable=True
        )

    started = time.monotonic()
    with pytest.raises(ProviderError) as raised:
        await complete_with_retries(
            provider="test",
            send_once=always_throttled,
            answer_schema=Answer,
            deadline_s=0.3,
            policy=RetryPolicy(max_attempts=50, base_backoff_s=0.1, max_backoff_s=0.1),
        )

    assert raised.value.status_code == 429
    assert time.monotonic() - started < 0.3
    # Waits of 0.05 to 0.1 s fit three to six attempts into 0.3 s.
    assert 3 <= calls <= 6


async def test_deadline_is_handed_to_each_attempt() -> None:
    seen: list[float] = []

    async def malformed_then_good(remaining_s: float) -> RawReply:
        seen.append(remaining_s)
        text = '{"count": 1}' if len(seen) == 2 else "nope"
        return RawReply(
            text=text, usage=CompletionUsage(5, 1, 0), provider_model_id="m"
        )

    completion = await complete_with_retries(
        provider="test",
        send_once=malformed_then_good,
        answer_schema=Answer,
        deadline_s=2.0,
        policy=RetryPolicy(base_backoff_s=0.05, max_backoff_s=0.05),
    )

    assert completion.content == {"count": 1}
    assert completion.usage == CompletionUsage(10, 2, 0)
    assert 1.9 < seen[0] <= 2.0
    assert seen[1] < seen[0] - 0.02


async def test_non_positive_deadline_is_rejected() -> None:
    async def never_called(remaining_s: float) -> RawReply:
        raise AssertionError("must not be called")

    with pytest.raises(ValueError, match="deadline_s"):
        await complete_with_retries(
            provider="test",
            send_once=never_called,
            answer_schema=Answer,
            deadline_s=0,
            policy=RetryPolicy(),
        )
