"""Fixtures: a real database (SQLite, or PostgreSQL when
``OMNIX_TEST_DATABASE_URL`` names a server), the app, accounts and tokens."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from omnix.app import create_app
from omnix.clock import Clock
from omnix.config import Settings
from omnix.context import AppContext
from omnix.db.models import Base

AS_OF = datetime(2018, 1, 1, tzinfo=UTC)
TEST_SECRET = "test-signing-secret-" + "x" * 64


def _create_postgres_database(server_url: str) -> tuple[str, str]:
    """A throw-away database on the server, so parallel runs never collide."""
    import asyncio

    import asyncpg

    name = f"omnix_test_{uuid.uuid4().hex[:10]}"
    admin = make_url(server_url).set(drivername="postgresql")

    async def create() -> None:
        connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
        await connection.execute(f'CREATE DATABASE "{name}"')
        await connection.close()

    asyncio.run(create())
    return str(make_url(server_url).set(database=name).render_as_string(False)), name


def _drop_postgres_database(server_url: str, name: str) -> None:
    import asyncio

    import asyncpg

    admin = make_url(server_url).set(drivername="postgresql")

    async def drop() -> None:
        connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()

    asyncio.run(drop())


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = os.environ.get("OMNIX_TEST_DATABASE_URL")
    if server:
        url, name = _create_postgres_database(server)
        _create_schema(url)
        yield url
        _drop_postgres_database(server, name)
    else:
        path = tmp_path_factory.mktemp("db") / "omnix.db"
        url = f"sqlite+aiosqlite:///{path}"
        _create_schema(url)
        yield url


def _create_schema(url: str) -> None:
    """The schema from the ORM models; tests/test_migrations.py checks that the
    Alembic migrations build exactly the same one."""
    import asyncio

    from omnix.db.session import create_engine

    async def create() -> None:
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        await engine.dispose()

    asyncio.run(create())


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path,
        database_url=database_url,
        jwt_secret=TEST_SECRET,
        max_body_bytes=256 * 1024,
        max_import_lines=1000,
        prefit_population=False,
    )


@pytest.fixture
async def context(settings: Settings) -> AsyncIterator[AppContext]:
    context = AppContext.from_settings(settings, Clock(AS_OF))
    await _empty_tables(context)
    yield context
    await context.db.dispose()


async def _empty_tables(context: AppContext) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    async with context.db.transaction() as session:
        if context.db.dialect == "postgresql":
            await session.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for name in tables:
                await session.execute(text(f"DELETE FROM {name}"))


@pytest.fixture
async def client(context: AppContext) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(context)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://omnix.test"
    ) as c:
        yield c
