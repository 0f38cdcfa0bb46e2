"""Any OpenAI-compatible chat-completions endpoint (OpenAI, Ollama, vLLM, ...)."""

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
    # Imported where first used, like ``anthropic`` (see anthropic_messages).
    import openai

PROVIDER_NAME = "openai"

# Local servers such as Ollama need no key, but the SDK refuses to start
# without one; this stand-in is sent only when no key is configured.
_KEYLESS_PLACEHOLDER = "omnix-no-key"


class OpenAICompatibleProvider:
    """One ``chat.completions.create`` call per attempt in JSON-object mode.

    JSON-object mode (``response_format={"type": "json_object"}``) is the
    structured-output option that OpenAI, Ollama and vLLM all accept; the
    schema itself travels in the prompt and the answer is validated here.
    """

    name = PROVIDER_NAME

    def __init__(
        self,
        settings: ProviderSettings,
        *,
        retry_policy: RetryPolicy | None = None,
        max_output_tokens: int = 4096,
    ) -> None:
        self._base_url = settings.openai_base_url
        self._api_key = settings.openai_api_key
        self._model = settings.openai_model
        self._retry_policy = retry_policy or RetryPolicy()
        self._max_output_tokens = max_output_tokens
        self._client: openai.AsyncOpenAI | None = None

    @property
    def offered_model_ids(self) -> tuple[str, ...]:
        return (self._model,) if self._model else ()

    def availability(self) -> tuple[bool, str | None]:
        if self._base_url is None:
            return False, "OMNIX_OPENAI_BASE_URL is not set"
        if self._model is None:
            return False, "OMNIX_OPENAI_MODEL is not set"
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
        import openai

        client = self._ensure_client()

        async def send_once(remaining_s: float) -> RawReply:
            try:
                completion = await client.chat.completions.create(
                    model=model_id,
                    messages=[
                        {"role": "system", "content": system},
                        {"role": "user", "content": prompt},
                    ],
                    response_format={"type": "json_object"},
                    temperature=0.0,
                    max_tokens=self._max_output_tokens,
                    timeout=remaining_s,
                )
            except openai.APITimeoutError as failure:
                raise ProviderError(
                    "timeout", str(failure), provider=self.name, retryable=True
                ) from failure
            except openai.APIStatusError as failure:
                raise status_error(
                    self.name,
                    failure.status_code,
                    str(failure.message),
                    parse_retry_after(failure.response.headers.get("retry-after")),
                ) from failure
            except openai.APIConnectionError as failure:
                raise ProviderError(
                    "http", str(failure), provider=self.name, retryable=True
                ) from failure
            except openai.APIResponseValidationError as failure:
                raise ProviderError(
                    "malformed", str(failure), provider=self.name, retryable=True
                ) from failure
            return _reply_from(completion, model_id)

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

    def _ensure_client(self) -> openai.AsyncOpenAI:
        import openai

        available, reason = self.availability()
        if not available:
            raise ProviderError("unavailable", reason or "", provider=self.name)
        if self._client is None:
            key = self._api_key.get_secret_value() if self._api_key else None
            self._client = openai.AsyncOpenAI(
                api_key=key or _KEYLESS_PLACEHOLDER,
                base_url=self._base_url,
                max_retries=0,
            )
        return self._client


def _reply_from(completion: Any, requested_model_id: str) -> RawReply:
    """Text and usage of a chat completion."""
    if not completion.choices:
        raise ProviderError(
            "malformed",
            "the completion has no choices",
            provider=PROVIDER_NAME,
            retryable=True,
        )
    text = completion.choices[0].message.content or ""
    usage = completion.usage
    counted = NO_USAGE
    if usage is not None:
        details = usage.prompt_tokens_details
        cached = (details.cached_tokens or 0) if details is not None else 0
        # prompt_tokens includes the cached tokens; bill each token once.
        counted = CompletionUsage(
            input_tokens=max(0, usage.prompt_tokens - cached),
            output_tokens=usage.completion_tokens,
            cached_tokens=cached,
        )
    return RawReply(
        text=text,
        usage=counted,
        provider_model_id=completion.model or requested_model_id,
    )
