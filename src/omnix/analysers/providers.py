"""The LLM providers behind the LLM-backed analysers, and how to build them.

One interface (``LLMProvider``) with three implementations, each speaking
its provider's wire protocol through that provider's own client library:

- ``BedrockProvider``: Claude on Amazon Bedrock (boto3, Converse API);
- ``AnthropicProvider``: the Anthropic Messages API (``anthropic`` SDK);
- ``OpenAICompatibleProvider``: any OpenAI-compatible chat-completions
  endpoint, which covers OpenAI itself, Ollama and vLLM (``openai`` SDK).
"""

from __future__ import annotations

from omnix.analysers.anthropic_messages import AnthropicProvider
from omnix.analysers.bedrock import BedrockProvider
from omnix.analysers.completion import (
    CompletionUsage,
    JsonCompletion,
    LLMProvider,
    ProviderError,
    ProviderErrorKind,
    RetryPolicy,
    extract_json_object,
)
from omnix.analysers.openai_chat import OpenAICompatibleProvider
from omnix.analysers.settings import ProviderSettings

__all__ = [
    "AnthropicProvider",
    "BedrockProvider",
    "CompletionUsage",
    "JsonCompletion",
    "LLMProvider",
    "OpenAICompatibleProvider",
    "ProviderError",
    "ProviderErrorKind",
    "ProviderSettings",
    "RetryPolicy",
    "build_providers",
    "extract_json_object",
]


def build_providers(
    settings: ProviderSettings, *, retry_policy: RetryPolicy | None = None
) -> dict[str, LLMProvider]:
    """Every provider, configured or not, keyed by its name.

    Unconfigured providers are included so the registry can list them as
    unavailable with the reason their ``availability()`` gives.
    """
    providers: list[LLMProvider] = [
        BedrockProvider(settings, retry_policy=retry_policy),
        AnthropicProvider(settings, retry_policy=retry_policy),
        OpenAICompatibleProvider(settings, retry_policy=retry_policy),
    ]
    return {provider.name: provider for provider in providers}
