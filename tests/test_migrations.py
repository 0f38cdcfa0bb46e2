"""The Alembic migrations build exactly the schema the ORM models describe."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from omnix.db.migrate import upgrade
from omnix.db.models import Base
from omnix.db.session import create_engine


def _differences(url: str) -> list[object]:
    async def compare() -> list[object]:
        engine = create_engine(url)
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync), Base.metadata
                )
            )
        await engine.dispose()
        return list(diff)

    return asyncio.run(compare())


def test_migrations_match_the_models(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}"
    upgrade(url)
    assert _differences(url) == []


def test_upgrade_is_repeatable(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'twice.db'}"
    upgrade(url)
    upgrade(url)
    assert _differences(url) == []
