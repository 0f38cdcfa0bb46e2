"""Engine and session factory.

SQLite runs in WAL mode with a busy timeout. Writing transactions start with
``BEGIN IMMEDIATE`` so two writers queue on the lock instead of failing with
"database is locked" when a deferred transaction tries to upgrade.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _json_text(value: Any) -> str:
    # JSON columns hold stored analyses of ~170 KB: orjson writes them about
    # ten times faster than the standard library.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


_JSON = {"json_serializer": _json_text, "json_deserializer": orjson.loads}


def create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=8,
            max_overflow=8,
            **_JSON,
        )
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        url, pool_size=10, max_overflow=20, pool_pre_ping=True, **_JSON
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN is ours to choose.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def dialect_name(session: AsyncSession) -> str:
    """``sqlite`` or ``postgresql``: the engine behind a session."""
    return session.get_bind().dialect.name


class Database:
    """The engine plus two session factories: reading and writing."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.dialect = self.engine.dialect.name
        self._reader = async_sessionmaker(self.engine, expire_on_commit=False)
        if self.dialect == "sqlite":
            writer_bind = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        else:
            writer_bind = self.engine
        self._writer = async_sessionmaker(writer_bind, expire_on_commit=False)

    @property
    def sqlite_path(self) -> str | None:
        """The database file, for SQLite on disk; None otherwise."""
        database = make_url(self.url).database
        if self.dialect != "sqlite" or not database or database == ":memory:":
            return None
        return database

    def session(self, *, write: bool = False) -> AsyncSession:
        return (self._writer if write else self._reader)()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A writing session committed once at the end, rolled back on error."""
        async with self.session(write=True) as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
