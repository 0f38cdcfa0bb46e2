"""Answers that stay valid until the database changes: a read cache.

A cached answer is served only while nothing has been committed to the
database since it was stored. The signal is SQLite's ``PRAGMA data_version``
read on a connection of our own that never writes: it changes whenever any
other connection, in this process or another one (``omnix import``, a batch
worker), commits. Checking it costs about two microseconds, so every read
checks it, and any commit anywhere empties the cache. That is coarse on
purpose: no write path has to remember to invalidate anything, and the
read-heavy case (dashboards polling profiles) is the one it serves.

PostgreSQL has no equally cheap and exact signal (LISTEN/NOTIFY from
triggers would be one), so there the cache is off and every read goes to the
database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Hashable, Sized

import structlog
from cachetools import LRUCache

log = structlog.get_logger()


def _size(entry: object) -> int:
    """Bytes an entry holds, roughly: its length plus the key and bookkeeping."""
    return (len(entry) if isinstance(entry, Sized) else 0) + 200


class _DataVersion:
    """Whether anything was committed to a SQLite file since the last look."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._seen: int | None = None

    def changed(self) -> bool:
        if self._connection is None:
            # Opened on first use, on the thread that serves requests.
            self._connection = sqlite3.connect(
                f"file:{self._path}?mode=ro", uri=True, isolation_level=None
            )
        (version,) = self._connection.execute("PRAGMA data_version").fetchone()
        changed = version != self._seen
        self._seen = version
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
