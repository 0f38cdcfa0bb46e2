"""Answers that stay valid until the database changes: a read cache.

A cached answer is served only while none of the tables answers are read
from (customers, purchases, products, accounts, sign-in sessions) has changed
since it was stored. The signal is SQLite's ``PRAGMA data_version``, read on
a connection of our own that never writes: it moves whenever any other
connection, in this process or another one (``omnix import``, a batch
worker), commits. Checking it costs about two microseconds, so every read
checks it. When it moved, one row written by triggers on those tables says
whether the commit touched them; if it did, the whole cache is emptied. That
is coarse on purpose: no write path has to remember to invalidate anything,
and the read-heavy case (dashboards polling profiles) is the one it serves.
A steady stream of purchases empties it with each commit; invalidating per
household would keep it useful then, and is not built.

PostgreSQL has no equally cheap and exact signal (LISTEN/NOTIFY from
triggers would be one), so there the cache is off and every read goes to the
database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Hashable, Sized
from typing import Any

import structlog
from cachetools import LRUCache

log = structlog.get_logger()


def _size(entry: object) -> int:
    """Bytes an entry holds, roughly: its length plus the key and bookkeeping."""
    return (len(entry) if isinstance(entry, Sized) else 0) + 200


# The tables cached answers are read from. A write to any other table (a
# worker's heartbeat, a job's progress, an insight) leaves the cache alone.
ANSWER_TABLES = (
    "customers",
    "purchases",
    "products",
    "user_accounts",
    "login_sessions",
)


def answer_epoch_ddl() -> list[str]:
    """SQLite triggers raising ``answer_epoch`` on every write to those tables.

    An upsert rather than an update, so the counter comes back if its row was
    deleted (the tests empty every table between cases).
    """
    bump = (
        "INSERT INTO answer_epoch (id, epoch) VALUES (1, 1) "
        "ON CONFLICT (id) DO UPDATE SET epoch = epoch + 1"
    )
    return [
        f"CREATE TRIGGER IF NOT EXISTS answer_epoch_{table}_{event.lower()} "
        f"AFTER {event} ON {table} BEGIN {bump}; END"
        for table in ANSWER_TABLES
        for event in ("INSERT", "UPDATE", "DELETE")
    ]


def install_answer_epoch(connection: Any) -> None:
    """Create the triggers on a SQLite database (a SQLAlchemy connection)."""
    if connection.dialect.name != "sqlite":
        return
    counter = connection.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'answer_epoch'"
    ).first()
    if counter is None:
        # A database from before the counter: every commit empties the cache.
        log.warning("readcache.no_answer_epoch")
        return
    for statement in answer_epoch_ddl():
        connection.exec_driver_sql(statement)


class _DataVersion:
    """Whether a table that answers are read from changed since the last look.

    ``PRAGMA data_version`` moves with any commit by another connection; only
    then is ``answer_epoch`` read, and only its change counts.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._version: int | None = None
        self._epoch: int | None = None

    def changed(self) -> bool:
        if self._connection is None:
            # Opened on first use, on the thread that serves requests.
            self._connection = sqlite3.connect(
                f"file:{self._path}?mode=ro", uri=True, isolation_level=None
            )
        (version,) = self._connection.execute("PRAGMA data_version").fetchone()
        if version == self._version:
            return False
        self._version = version
        row = self._connection.execute(
            "SELECT epoch FROM answer_epoch WHERE id = 1"
        ).fetchone()
        epoch = None if row is None else int(row[0])
        # A database without the counter yet: every commit counts.
        changed = epoch is None or epoch != self._epoch
        self._epoch = epoch
        return changed

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class ReadCache:
    """Bounded LRU of answers, emptied whenever the database changes.

    ``generation()`` is taken before reading the database for an answer and
    handed back to ``put``; the answer is stored only if no change was seen
    in between, so an answer read from a snapshot older than a commit never
    outlives that commit.
    """

    def __init__(self, sqlite_path: str | None, max_bytes: int) -> None:
        enabled = sqlite_path is not None and max_bytes > 0
        self._version = _DataVersion(sqlite_path) if enabled and sqlite_path else None
        self._entries: LRUCache[Hashable, object] = LRUCache(
            maxsize=max(max_bytes, 1), getsizeof=_size
        )
        self._generation = 0

    @property
    def enabled(self) -> bool:
        return self._version is not None

    def generation(self) -> int:
        """The current generation, after emptying the cache if data changed."""
        if self._version is not None and self._version.changed():
            self._generation += 1
            self._entries.clear()
        return self._generation

    def get(self, key: Hashable) -> object | None:
        if self._version is None:
            return None
        self.generation()
        return self._entries.get(key)

    def put(self, key: Hashable, generation: int, value: object) -> None:
        if self._version is None or self.generation() != generation:
            return
        try:
            self._entries[key] = value
        except ValueError:
            # Larger than the whole cache: serve it, do not keep it.
            log.info("readcache.too_large", size=_size(value))

    def close(self) -> None:
        if self._version is not None:
            self._version.close()
