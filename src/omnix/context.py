"""What one running OMNIX process shares: settings, clock, database, signer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from omnix.auth.security import TokenSigner
from omnix.clock import Clock
from omnix.config import Settings
from omnix.db.session import Database


@dataclass
class AppContext:
    settings: Settings
    clock: Clock
    db: Database
    signer: TokenSigner
    # Optional parts added by later domains (event bus, job queue, caches).
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(
        cls, settings: Settings, clock: Clock | None = None
    ) -> AppContext:
        return cls(
            settings=settings,
            clock=clock or Clock.from_setting(settings.as_of, settings.timezone),
            db=Database(settings.resolved_database_url),
            signer=TokenSigner(
                secret=settings.signing_secret(),
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                lifetime=timedelta(minutes=settings.access_token_minutes),
            ),
        )
