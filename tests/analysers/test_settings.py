"""Provider settings: blanks mean unset, URLs must be URLs, secrets stay hidden."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from omnix.analysers.providers import build_providers
from omnix.analysers.settings import BEDROCK_HAIKU_MODEL_ID, ProviderSettings


def test_defaults_leave_every_provider_unconfigured() -> None:
    settings = ProviderSettings()

    providers = build_providers(settings)

    assert settings.bedrock_haiku_model_id == BEDROCK_HAIKU_MODEL_ID
    assert set(providers) == {"bedrock", "anthropic", "openai"}
    assert {name: p.availability()[0] for name, p in providers.items()} == {
        "bedrock": False,
        "anthropic": False,
        "openai": False,
    }


def test_blank_values_count_as_unset() -> None:
    settings = ProviderSettings(
        bedrock_region="  ", anthropic_api_key="", openai_model=""
    )

    assert settings.bedrock_region is None
    assert settings.anthropic_api_key is None
    assert settings.openai_model is None


def test_secrets_do_not_show_in_repr() -> None:
    settings = ProviderSettings(anthropic_api_key="sk-ant-very-secret")

    assert "sk-ant-very-secret" not in repr(settings)


@pytest.mark.parametrize(
    "field", ["bedrock_endpoint_url", "anthropic_base_url", "openai_base_url"]
)
def test_urls_must_be_http(field: str) -> None:
    with pytest.raises(ValidationError, match="http"):
        ProviderSettings(**{field: "localhost:11434"})


def test_deadline_must_be_positive() -> None:
    with pytest.raises(ValidationError):
        ProviderSettings(llm_deadline_s=0)
