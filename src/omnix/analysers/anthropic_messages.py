"""Claude through the Anthropic Messages API, with the ``anthropic`` SDK."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pydantic

from omnix.analysers.completion import (
    NO_USAGE,
    CompletionUsage,
    JsonCompletion,
    ProviderError,
    RawReply,
    RetryPolicy,
    complete_with_retries,
    parse_retry_after,
    status_error,
)
from omnix.analysers.settings import ProviderSettings

if TYPE_CHECKING:
    # Imported where first used: the SDK takes about a second to import,
    # which every process would pay (batch workers included) to analyse
    # with the local engine only.
    import anthropic

PROVIDER_NAME = "anthropic"


class AnthropicProvider:
    """One ``messages.create`` call per attempt; the SDK's own retries are off.

    No ``temperature`` is sent: this SDK no longer offers the parameter
    because recent Claude models reject it, so answers are not deterministic
    and rely on validation (and a retry) rather than on sampling settings.
    """

    name = PROVIDER_NAME

    def __init__(
        self,
        settings: ProviderSettings,
        *,
        retry_policy: RetryPolicy | None = None,
        max_output_tokens: int = 4096,
        model_ids: tuple[str, ...] | None = None,
    ) -> None:
        self._api_key = settings.anthropic_api_key
        self._base_url = settings.anthropic_base_url
        self._model_ids = model_ids or (
            settings.anthropic_haiku_model_id,
            settings.anthropic_sonnet_model_id,
        )
        self._retry_policy = retry_policy or RetryPolicy()
        self._max_output_tokens = max_output_tokens
        self._client: anthropic.AsyncAnthropic | None = None

    @property
    def offered_model_ids(self) -> tuple[str, ...]:
        return self._model_ids

    def availability(self) -> tuple[bool, str | None]:
        if self._api_key is None:
            return False, "OMNIX_ANTHROPIC_API_KEY is not set"
        return True, None

    async def complete_json(
        self,
        *,
        model_id: str,
        system: str,
        prompt: str,
        answer_schema: type[pydantic.BaseModel],
        deadline_s: float,
    ) -> JsonCompletion:
        import anthropic

        client = self._ensure_client()

        async def send_once(remaining_s: float) -> RawReply:
            try:
                message = await client.messages.create(
                    model=model_id,
                    max_tokens=self._max_output_tokens,
                    system=system,
                    messages=[{"role": "user", "content": prompt}],
                    timeout=remaining_s,
                )
            except anthropic.APITimeoutError as failure:
                raise ProviderError(
                    "timeout", str(failure), provider=self.name, retryable=True
                ) from failure
            except anthropic.APIStatusError as failure:
                raise status_error(
                    self.name,
                    failure.status_code,
                    _short_message(failure),
                    parse_retry_after(failure.response.headers.get("retry-after")),
                ) from failure
            except anthropic.APIConnectionError as failure:
                raise ProviderError(
                    "http", str(failure), provider=self.name, retryable=True
                ) from failure
            except anthropic.APIResponseValidationError as failure:
                raise ProviderError(
                    "malformed", str(failure), provider=self.name, retryable=True
                ) from failure
            return _reply_from(message, model_id)

        return await complete_with_retries(
            provider=self.name,
            send_once=send_once,
            answer_schema=answer_schema,
            deadline_s=deadline_s,
            policy=self._retry_policy,
        )

    async def aclose(self) -> None:
        """Close the SDK's connection pool."""
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _ensure_client(self) -> anthropic.AsyncAnthropic:
        import anthropic

        if self._api_key is None:
            raise ProviderError(
                "unavailable", "OMNIX_ANTHROPIC_API_KEY is not set", provider=self.name
            )
        if self._client is None:
            # Passing the key and URL explicitly keeps the SDK from picking up
            # ANTHROPIC_* variables meant for something else on the machine.
            self._client = anthropic.AsyncAnthropic(
                api_key=self._api_key.get_secret_value(),
                base_url=self._base_url or "https://api.anthropic.com",
                max_retries=0,
            )
        return self._client


def _reply_from(message: Any, requested_model_id: str) -> RawReply:
    """Text and usage of a Messages API response."""
    text = "".join(
        block.text for block in message.content if getattr(block, "type", "") == "text"
    )
    usage = message.usage
    counted = NO_USAGE
    if usage is not None:
        # Anthropic's input_tokens already excludes cache reads and writes;
        # writes have no field of their own here, so they count as input.
        counted = CompletionUsage(
            input_tokens=usage.input_tokens + (usage.cache_creation_input_tokens or 0),
            output_tokens=usage.output_tokens,
            cached_tokens=usage.cache_read_input_tokens or 0,
        )
    return RawReply(
        text=text,
        usage=counted,
        provider_model_id=message.model or requested_model_id,
    )


def _short_message(failure: anthropic.APIStatusError) -> str:
    body = failure.body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    return str(failure)
