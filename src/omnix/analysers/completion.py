"""The provider-neutral part of asking an LLM for a JSON answer.

Every provider sends one request per attempt and reports either a raw reply
(text plus token usage) or a classified failure. What is common lives here:
pulling the JSON object out of the reply, validating it against the answer
schema, retrying transient failures with backoff inside one overall deadline,
and adding up the tokens of every attempt, because a malformed answer that is
retried was still billed.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import pydantic
import structlog

log = structlog.get_logger(__name__)

ProviderErrorKind = Literal["timeout", "http", "malformed", "unavailable"]

# HTTP statuses worth another attempt: request timeout, throttling, server side.
RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


@dataclass(frozen=True)
class CompletionUsage:
    """Tokens billed for a completion.

    ``input_tokens`` counts prompt tokens billed at the full input rate and
    ``cached_tokens`` those read from the provider's prompt cache (billed at
    the cached-read rate); the two never overlap, whatever the provider's own
    convention (OpenAI's ``prompt_tokens`` includes its cached tokens, so they
    are subtracted).
    """

    input_tokens: int
    output_tokens: int
    cached_tokens: int

    def __add__(self, other: CompletionUsage) -> CompletionUsage:
        return CompletionUsage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cached_tokens


NO_USAGE = CompletionUsage(input_tokens=0, output_tokens=0, cached_tokens=0)


@dataclass(frozen=True)
class JsonCompletion:
    """A validated JSON answer and what it cost to get it (all attempts)."""

    content: dict[str, Any]
    usage: CompletionUsage
    provider_model_id: str
    latency_ms: float
    attempts: int = 1


class ProviderError(Exception):
    """The one error a provider raises when it gives up on a completion.

    ``kind`` is ``timeout`` (the deadline passed), ``http`` (the provider
    answered with an error status or could not be reached), ``malformed``
    (the answer was not JSON matching the schema) or ``unavailable`` (the
    provider is not configured or has no credentials). ``usage`` holds the
    tokens already billed by failed attempts, so cost tracking can count them.
    """

    def __init__(
        self,
        kind: ProviderErrorKind,
        message: str,
        *,
        provider: str,
        status_code: int | None = None,
        retryable: bool = False,
        retry_after_s: float | None = None,
        attempts: int = 0,
        usage: CompletionUsage = NO_USAGE,
    ) -> None:
        super().__init__(message)
        self.kind: ProviderErrorKind = kind
        self.message = message
        self.provider = provider
        self.status_code = status_code
        self.retryable = retryable
        self.retry_after_s = retry_after_s
        self.attempts = attempts
        self.usage = usage

    def __str__(self) -> str:
        status = f" (HTTP {self.status_code})" if self.status_code else ""
        return f"{self.provider}: {self.kind}{status}: {self.message}"


class LLMProvider(Protocol):
    """An LLM service that answers a prompt with JSON matching a schema."""

    name: str

    @property
    def offered_model_ids(self) -> tuple[str, ...]:
        """The provider model ids this provider is configured to serve."""
        ...

    def availability(self) -> tuple[bool, str | None]:
        """``(True, None)`` when usable, else ``(False, reason)``."""
        ...

    async def complete_json(
        self,
        *,
        model_id: str,
        system: str,
        prompt: str,
        answer_schema: type[pydantic.BaseModel],
        deadline_s: float,
    ) -> JsonCompletion:
        """Ask for a JSON answer; raise ``ProviderError`` on giving up."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections (new ones are opened if used again)."""
        ...


@dataclass(frozen=True)
class RawReply:
    """What one successful request returned, before any parsing."""

    text: str
    usage: CompletionUsage
    provider_model_id: str


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry, always bounded by the deadline."""

    max_attempts: int = 3
    base_backoff_s: float = 0.5
    max_backoff_s: float = 8.0

    def backoff_s(self, attempt: int, retry_after_s: float | None) -> float:
        """Full-jitter exponential backoff, at least what the provider asked for."""
        ceiling = min(self.max_backoff_s, self.base_backoff_s * 2 ** (attempt - 1))
        wait = random.uniform(ceiling / 2, ceiling)
        if retry_after_s is not None:
            wait = max(wait, retry_after_s)
        return wait


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header; HTTP dates are ignored."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def status_error(
    provider: str, status_code: int, message: str, retry_after_s: float | None
) -> ProviderError:
    """Classify an HTTP error status as retryable or final."""
    return ProviderError(
        "http",
        message,
        provider=provider,
        status_code=status_code,
        retryable=status_code in RETRYABLE_STATUSES,
        retry_after_s=retry_after_s,
    )


_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


def extract_json_object(text: str) -> dict[str, Any]:
    """Find the JSON object in a reply, tolerating code fences and chatter.

    Models asked for "only JSON" still sometimes wrap it in a Markdown fence
    or add a sentence before it; the first decodable object wins.

    Raises
    ------
    ValueError
        When the text holds no JSON object.
    """
    candidates = [match.group(1) for match in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        start = candidate.find("{")
        while start != -1:
            try:
                value, _ = decoder.raw_decode(candidate, start)
            except json.JSONDecodeError:
                start = candidate.find("{", start + 1)
                continue
            if isinstance(value, dict):
                return value
            start = candidate.find("{", start + 1)
    raise ValueError("the reply holds no JSON object")


def validate_answer(
    text: str, answer_schema: type[pydantic.BaseModel]
) -> dict[str, Any]:
    """Parse and validate a reply; the result uses the schema's aliases."""
    obj = extract_json_object(text)
    answer = answer_schema.model_validate(obj)
    return answer.model_dump(mode="json", by_alias=True)


SendOnce = Callable[[float], Awaitable[RawReply]]


async def complete_with_retries(
    *,
    provider: str,
    send_once: SendOnce,
    answer_schema: type[pydantic.BaseModel],
    deadline_s: float,
    policy: RetryPolicy,
) -> JsonCompletion:
    """Run attempts until one validates, the attempts run out or time does.

    ``send_once`` receives the seconds left before the deadline and must
    raise ``ProviderError`` for failures; it is also cancelled when the
    deadline passes, so a hung connection cannot outlive the deadline.
    """
    if deadline_s <= 0:
        raise ValueError("deadline_s must be positive")

    started = time.monotonic()
    ends_at = started + deadline_s
    spent = NO_USAGE
    attempt = 0

    while True:
        attempt += 1
        remaining = ends_at - time.monotonic()
        error: ProviderError
        try:
            reply = await asyncio.wait_for(send_once(remaining), timeout=remaining)
        except TimeoutError:
            error = ProviderError(
                "timeout",
                f"no answer within the {deadline_s:g} s deadline",
                provider=provider,
            )
        except ProviderError as failure:
            error = failure
        else:
            spent = spent + reply.usage
            try:
                content = validate_answer(reply.text, answer_schema)
            except (ValueError, pydantic.ValidationError) as invalid:
                error = ProviderError(
                    "malformed",
                    _short(str(invalid)),
                    provider=provider,
                    retryable=True,
                )
            else:
                return JsonCompletion(
                    content=content,
                    usage=spent,
                    provider_model_id=reply.provider_model_id,
                    latency_ms=(time.monotonic() - started) * 1000.0,
                    attempts=attempt,
                )

        error.attempts = attempt
        error.usage = spent
        if not error.retryable or attempt >= policy.max_attempts:
            raise error

        wait_s = policy.backoff_s(attempt, error.retry_after_s)
        if time.monotonic() + wait_s >= ends_at:
            # No time left for another attempt: report the failure we saw.
            raise error
        log.warning(
            "llm.retry",
            provider=provider,
            kind=error.kind,
            status_code=error.status_code,
            attempt=attempt,
            wait_s=round(wait_s, 3),
        )
        await asyncio.sleep(wait_s)


def _short(message: str, limit: int = 500) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"
