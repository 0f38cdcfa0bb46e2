"""Claude on Amazon Bedrock through boto3's ``bedrock-runtime`` Converse API."""

from __future__ import annotations

import asyncio
import math
import threading
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
    import boto3
    from botocore.exceptions import ClientError

PROVIDER_NAME = "bedrock"

# Clients differ only in their read timeout; a handful covers every deadline
# a deployment uses (attempts after a retry ask for shorter timeouts).
_MAX_CACHED_CLIENTS = 16

# Bedrock error codes that mean "try again later" whatever status carried them.
_RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelTimeoutException",
        "ModelNotReadyException",
    }
)


class BedrockProvider:
    """Sends one Converse request per attempt from a worker thread.

    boto3 is blocking, so each attempt runs in a thread, client creation
    included (loading the service model takes a noticeable fraction of a
    second and must not stall the event loop). A thread cannot be cancelled,
    so an attempt uses a client whose read timeout is the time left before
    the deadline, rounded up to a whole second: an abandoned call then ends
    by itself soon after the deadline instead of holding a thread for
    botocore's default 60 s. boto3's own retries are off; the shared retry
    loop decides.
    """

    name = PROVIDER_NAME

    def __init__(
        self,
        settings: ProviderSettings,
        *,
        retry_policy: RetryPolicy | None = None,
        max_output_tokens: int = 4096,
    ) -> None:
        self._region = settings.bedrock_region
        self._endpoint_url = settings.bedrock_endpoint_url
        self._model_ids = (
            settings.bedrock_haiku_model_id,
            settings.bedrock_sonnet_model_id,
        )
        self._retry_policy = retry_policy or RetryPolicy()
        self._max_output_tokens = max_output_tokens
        # One session for the provider's life: it caches the resolved
        # credentials and the loaded service model. Sessions are not
        # thread-safe, so clients are made under a lock and kept per
        # whole-second read timeout.
        self._session_made: boto3.session.Session | None = None
        self._clients: dict[int, Any] = {}
        self._clients_lock = threading.Lock()

    @property
    def _session(self) -> boto3.session.Session:
        # Made on first use (and boto3 imported then); the lock keeps two
        # threads from making two.
        with self._clients_lock:
            if self._session_made is None:
                import boto3

                self._session_made = boto3.session.Session(region_name=self._region)
            return self._session_made

    @property
    def offered_model_ids(self) -> tuple[str, ...]:
        return self._model_ids

    def availability(self) -> tuple[bool, str | None]:
        if self._region is None:
            return False, "OMNIX_BEDROCK_REGION is not set"
        if self._session.get_credentials() is None:
            return False, (
                "no AWS credentials found (environment, shared credentials "
                "file, SSO or instance role)"
            )
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
        if self._region is None:
            raise ProviderError(
                "unavailable", "OMNIX_BEDROCK_REGION is not set", provider=self.name
            )

        request: dict[str, Any] = {
            "modelId": model_id,
            "system": [{"text": system}],
            "messages": [{"role": "user", "content": [{"text": prompt}]}],
            "inferenceConfig": {
                "maxTokens": self._max_output_tokens,
                "temperature": 0.0,
            },
        }

        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectTimeoutError,
            NoCredentialsError,
            ReadTimeoutError,
        )

        async def send_once(remaining_s: float) -> RawReply:
            try:
                response = await asyncio.to_thread(self._converse, remaining_s, request)
            except ClientError as failure:
                raise self._client_error(failure) from failure
            except (ReadTimeoutError, ConnectTimeoutError) as failure:
                raise ProviderError(
                    "timeout", str(failure), provider=self.name, retryable=True
                ) from failure
            except NoCredentialsError as failure:
                # Raised while signing, before anything is sent.
                raise ProviderError(
                    "unavailable", str(failure), provider=self.name
                ) from failure
            except BotoCoreError as failure:
                # Connection refused, DNS failure, a broken response stream.
                raise ProviderError(
                    "http", str(failure), provider=self.name, retryable=True
                ) from failure
            return _reply_from(response, model_id)

        return await complete_with_retries(
            provider=self.name,
            send_once=send_once,
            answer_schema=answer_schema,
            deadline_s=deadline_s,
            policy=self._retry_policy,
        )

    async def aclose(self) -> None:
        """Nothing to close: each attempt's client is dropped after use."""

    def _converse(self, read_timeout_s: float, request: dict[str, Any]) -> Any:
        """One blocking Converse call; runs in a worker thread."""
        return self._client(read_timeout_s).converse(**request)

    def _client(self, read_timeout_s: float) -> Any:
        from botocore.config import Config

        bucket = max(1, math.ceil(read_timeout_s))
        session = self._session
        with self._clients_lock:
            client = self._clients.get(bucket)
            if client is None:
                if len(self._clients) >= _MAX_CACHED_CLIENTS:
                    self._clients.pop(next(iter(self._clients)))
                config = Config(
                    connect_timeout=min(5, bucket),
                    read_timeout=bucket,
                    retries={"total_max_attempts": 1},
                )
                client = session.client(
                    "bedrock-runtime",
                    region_name=self._region,
                    endpoint_url=self._endpoint_url,
                    config=config,
                )
                self._clients[bucket] = client
            return client

    def _client_error(self, failure: ClientError) -> ProviderError:
        error = failure.response.get("Error", {})
        metadata = failure.response.get("ResponseMetadata", {})
        status = int(metadata.get("HTTPStatusCode") or 0)
        code = str(error.get("Code", ""))
        message = f"{code}: {error.get('Message', '')}".strip(": ")
        headers = metadata.get("HTTPHeaders", {})
        classified = status_error(
            self.name, status, message, parse_retry_after(headers.get("retry-after"))
        )
        classified.retryable = classified.retryable or code in _RETRYABLE_CODES
        return classified


def _reply_from(response: dict[str, Any], model_id: str) -> RawReply:
    """Text and usage of a Converse response (its shape is botocore's model)."""
    blocks = response.get("output", {}).get("message", {}).get("content", [])
    text = "".join(block["text"] for block in blocks if "text" in block)
    usage = response.get("usage")
    counted = NO_USAGE
    if usage:
        # Cache writes are billed at least at the input rate; with no field of
        # their own they are counted as input rather than dropped.
        counted = CompletionUsage(
            input_tokens=int(usage.get("inputTokens", 0))
            + int(usage.get("cacheWriteInputTokens", 0)),
            output_tokens=int(usage.get("outputTokens", 0)),
            cached_tokens=int(usage.get("cacheReadInputTokens", 0)),
        )
    # Converse does not echo the model; the requested id is what was billed.
    return RawReply(text=text, usage=counted, provider_model_id=model_id)
