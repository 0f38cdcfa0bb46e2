"""Configuration of the LLM providers behind the LLM-backed analysers.

A plain pydantic model, not a ``BaseSettings``: the service's one ``Settings``
reads the ``OMNIX_*`` environment and hands the provider part over as this
object, so the analysers never read the environment themselves. ``None``
means "not configured"; an unconfigured provider is listed as unavailable
with the reason rather than failing at start-up.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

BEDROCK_HAIKU_MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
BEDROCK_SONNET_MODEL_ID = "anthropic.claude-3-5-sonnet-20240620-v1:0"
ANTHROPIC_HAIKU_MODEL_ID = "claude-3-haiku-20240307"
ANTHROPIC_SONNET_MODEL_ID = "claude-3-5-sonnet-20240620"

DEFAULT_LLM_DEADLINE_S = 30.0


class ProviderSettings(BaseModel):
    """Where each LLM provider lives and how long one analysis may wait for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bedrock_region: str | None = None
    bedrock_endpoint_url: str | None = None
    bedrock_haiku_model_id: str = BEDROCK_HAIKU_MODEL_ID
    bedrock_sonnet_model_id: str = BEDROCK_SONNET_MODEL_ID

    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None

    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_model: str | None = None

    llm_deadline_s: float = Field(default=DEFAULT_LLM_DEADLINE_S, gt=0, le=600)
    # A JSON document or the path of a JSON file; see omnix.analysers.pricing.
    price_overrides: str | None = None

    @field_validator(
        "bedrock_region",
        "bedrock_endpoint_url",
        "anthropic_base_url",
        "openai_base_url",
        "openai_model",
        "price_overrides",
    )
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        # An exported but empty variable (OMNIX_BEDROCK_REGION=) means "unset",
        # not a region called "".
        if value is None or not value.strip():
            return None
        return value.strip()

    @field_validator("anthropic_api_key", "openai_api_key")
    @classmethod
    def _blank_secret_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return value

    @field_validator("bedrock_endpoint_url", "anthropic_base_url", "openai_base_url")
    @classmethod
    def _must_be_http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value
