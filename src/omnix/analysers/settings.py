"""Configuration of the LLM providers behind the LLM-backed analysers.

A plain pydantic model, not a ``BaseSettings``: the service's one ``Settings``
reads the ``OMNIX_*`` environment and hands the provider part over as this
object, so the analysers never read the environment themselves. ``None``
means "not configured"; an unconfigured provider is listed as unavailable
with the reason rather than failing at start-up.
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from omnix.analysers.answers import ANALYSIS_TYPES, AnalysisType

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
    anthropic_haiku_model_id: str = ANTHROPIC_HAIKU_MODEL_ID
    anthropic_sonnet_model_id: str = ANTHROPIC_SONNET_MODEL_ID

    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_model: str | None = None
    # Comma-separated analysis types to send to the OpenAI-compatible model; a
    # small self-hosted model may be trusted with some tasks and not others.
    openai_analysis_types: str | None = None

    llm_deadline_s: float = Field(default=DEFAULT_LLM_DEADLINE_S, gt=0, le=600)
    # A JSON document or the path of a JSON file; see omnix.analysers.pricing.
    price_overrides: str | None = None

    @field_validator(
        "bedrock_region",
        "bedrock_endpoint_url",
        "anthropic_base_url",
        "openai_base_url",
        "openai_model",
        "openai_analysis_types",
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

    @field_validator("openai_analysis_types")
    @classmethod
    def _known_analysis_types(cls, value: str | None) -> str | None:
        if value is None:
            return None
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in ANALYSIS_TYPES]
        if unknown or not names:
            raise ValueError(
                f"unknown analysis types {unknown}; valid: {', '.join(ANALYSIS_TYPES)}"
            )
        return ",".join(dict.fromkeys(names))

    @property
    def openai_types(self) -> tuple[AnalysisType, ...]:
        """The analysis types the OpenAI-compatible model is asked for."""
        if self.openai_analysis_types is None:
            return ANALYSIS_TYPES
        names = self.openai_analysis_types.split(",")
        return tuple(t for t in ANALYSIS_TYPES if t in names)


def provider_settings_from(values: Any) -> ProviderSettings:
    """The provider part of the service's ``Settings`` (same field names).

    Raises
    ------
    ValueError
        When a value is invalid; the message names the ``OMNIX_*`` variable.
    """
    fields = {name: getattr(values, name) for name in ProviderSettings.model_fields}
    try:
        return ProviderSettings(**fields)
    except ValidationError as invalid:
        problems = "; ".join(
            f"OMNIX_{str(error['loc'][0]).upper()}: {error['msg']}"
            for error in invalid.errors()
        )
        raise ValueError(problems) from None


def check_analyser_settings(values: Any) -> None:
    """Refuse a bad configuration at start-up rather than on the first analysis.

    Checks the provider settings, the price overrides (JSON, or a readable
    file) and that ``default_analyser`` names a registered analyser.

    Raises
    ------
    ValueError
        Naming the ``OMNIX_*`` variable at fault.
    """
    from omnix.analysers.pricing import build_price_table
    from omnix.analysers.registry import ANALYSER_IDS

    checked = provider_settings_from(values)
    try:
        build_price_table(checked.price_overrides)
    except ValueError as invalid:
        raise ValueError(f"OMNIX_PRICE_OVERRIDES: {invalid}") from None
    default = getattr(values, "default_analyser", None)
    if default not in ANALYSER_IDS:
        raise ValueError(
            f"OMNIX_DEFAULT_ANALYSER: unknown analyser {default!r}; "
            f"registered: {', '.join(ANALYSER_IDS)}"
        )
