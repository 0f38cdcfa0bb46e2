"""Runtime configuration, read once from ``OMNIX_*`` environment variables."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from omnix.analysers import settings as analyser_settings

DEFAULT_DATA_DIR = Path("data")


class Settings(BaseSettings):
    """Everything an operator can set; secrets have no defaults."""

    model_config = SettingsConfigDict(env_prefix="OMNIX_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = None
    redis_url: str | None = None

    host: str = "127.0.0.1"
    port: int = 3001
    cors_origins: list[str] = Field(
        default_factory=lambda: ["http://localhost:3001", "http://localhost:5173"]
    )

    as_of: str | None = None
    timezone: str = "UTC"

    jwt_secret: SecretStr | None = None
    jwt_issuer: str = "omnix"
    jwt_audience: str = "omnix-api"
    access_token_minutes: int = 15
    refresh_token_days: int = 30

    login_max_failures: int = 5
    login_window_seconds: int = 900

    max_body_bytes: int = 5 * 1024 * 1024
    max_page_size: int = 500
    max_import_lines: int = 10_000
    # Answers kept until the database changes (SQLite only; 0 turns it off).
    read_cache_mb: int = Field(default=64, ge=0, le=4096)

    # Fit the population models in the background when the server starts.
    prefit_population: bool = True
    population_refit_seconds: float = 600.0
    # Where a manager has set no revenue target, the target of a period is the
    # mean revenue of the comparable periods before it, raised by this share
    # (0.02: two per cent above the recent pace).
    revenue_growth_goal: float = Field(default=0.02, ge=-0.5, le=1.0)

    log_json: bool = False
    log_level: str = "INFO"

    # Analysis models and their LLM providers (docs/MODELS.md), handed to the
    # analysers as one ProviderSettings (see ``provider_settings``).
    default_analyser: str = "local:omnix-v1"
    bedrock_region: str | None = None
    bedrock_endpoint_url: str | None = None
    bedrock_haiku_model_id: str = analyser_settings.BEDROCK_HAIKU_MODEL_ID
    bedrock_sonnet_model_id: str = analyser_settings.BEDROCK_SONNET_MODEL_ID
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    anthropic_haiku_model_id: str = analyser_settings.ANTHROPIC_HAIKU_MODEL_ID
    anthropic_sonnet_model_id: str = analyser_settings.ANTHROPIC_SONNET_MODEL_ID
    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_model: str | None = None
    openai_analysis_types: str | None = None
    llm_deadline_s: float = analyser_settings.DEFAULT_LLM_DEADLINE_S
    price_overrides: str | None = None

    @field_validator("jwt_secret")
    @classmethod
    def _reject_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("OMNIX_JWT_SECRET must be at least 32 characters")
        return value

    @model_validator(mode="after")
    def _check_analysers(self) -> Settings:
        analyser_settings.check_analyser_settings(self)
        return self

    @property
    def provider_settings(self) -> analyser_settings.ProviderSettings:
        return analyser_settings.provider_settings_from(self)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'omnix.db').as_posix()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def signing_secret(self) -> str:
        """The JWT key: configured, or generated once into the data directory."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        path = self.data_dir / "jwt_secret"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48))
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
