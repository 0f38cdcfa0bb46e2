"""Schema migrations (Alembic), run by ``omnix migrate`` and at start-up."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from omnix.db.readcache import install_answer_epoch

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema up to ``revision``; safe to call on every start.

    Triggers are outside what Alembic compares, so the read cache's are
    (re)created here, idempotently, after the revisions.
    """
    command.upgrade(alembic_config(database_url), revision)
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, ":memory:"):
        engine = create_engine(url.set(drivername="sqlite"))
        with engine.begin() as connection:
            install_answer_epoch(connection)
        engine.dispose()


async def upgrade_async(database_url: str) -> None:
    # Alembic's env.py runs its own event loop, so it needs a thread of its own.
    await asyncio.to_thread(upgrade, database_url)
