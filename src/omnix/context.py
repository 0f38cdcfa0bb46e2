"""What one running OMNIX process shares: settings, clock, database, signer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from omnix.auth.security import TokenSigner
from omnix.clock import Clock
from omnix.config import Settings
from omnix.db.readcache import ReadCache
from omnix.db.session import Database


@dataclass
class AppContext:
    settings: Settings
    clock: Clock
    db: Database
    signer: TokenSigner
    read_cache: ReadCache
    # Optional parts added by later domains (event bus, job queue, caches).
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(
        cls, settings: Settings, clock: Clock | None = None
    ) -> AppContext:
        db = Database(settings.resolved_database_url)
        return cls(
            settings=settings,
            clock=clock or Clock.from_setting(settings.as_of, settings.timezone),
            db=db,
            signer=TokenSigner(
                secret=settings.signing_secret(),
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                lifetime=timedelta(minutes=settings.access_token_minutes),
            ),
            read_cache=ReadCache(db.sqlite_path, settings.read_cache_mb * 1024 * 1024),
        )
