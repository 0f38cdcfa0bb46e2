"""The Alembic migrations build exactly the schema the ORM models describe."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from omnix.db.migrate import upgrade
from omnix.db.models import Base
from omnix.db.readcache import ANSWER_TABLES
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


def test_upgrade_installs_the_read_cache_triggers(tmp_path: Path) -> None:
    path = tmp_path / "triggers.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    with closing(sqlite3.connect(path)) as connection, connection:
        names = {
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            )
        }
        assert names == {
            f"answer_epoch_{table}_{event}"
            for table in ANSWER_TABLES
            for event in ("insert", "update", "delete")
        }
        connection.execute(
            "INSERT INTO customers (id, created_at, updated_at, preferences) "
            "VALUES ('1', '2017-01-01', '2017-01-01', '{}')"
        )
        connection.execute("UPDATE customers SET name = 'x' WHERE id = '1'")
        (epoch,) = connection.execute("SELECT epoch FROM answer_epoch").fetchone()
    assert epoch == 2
