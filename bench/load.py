"""First load of the Complete Journey line items into SQLite.

Measured beside the floor set by Python's own ``sqlite3.executemany`` writing
the same rows into a bare table without indexes, in the same run.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path

from omnix.clock import Clock
from omnix.config import Settings
from omnix.context import AppContext
from omnix.db.migrate import upgrade
from omnix.demo import DEMO_AS_OF, load_complete_journey
from omnix.ingest import completejourney
from omnix.ingest.bulk import PURCHASE_COLUMNS

ROUNDS = 3


def _omnix_load(directory: Path) -> tuple[float, int]:
    settings = Settings(data_dir=directory, jwt_secret="b" * 48)
    upgrade(settings.resolved_database_url)
    context = AppContext.from_settings(settings, Clock(DEMO_AS_OF))
    summary = asyncio.run(load_complete_journey(context))
    return summary.seconds, summary.lines


def _executemany_floor(directory: Path) -> tuple[float, int]:
    data = completejourney.load(DEMO_AS_OF)
    rows = (
        data.lines.with_columns(
            data.lines["purchased_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
        )
        .select(PURCHASE_COLUMNS)
        .rows()
    )
    connection = sqlite3.connect(directory / "floor.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"CREATE TABLE purchases ({', '.join(PURCHASE_COLUMNS)})")
    started = time.perf_counter()
    connection.execute("BEGIN")
    connection.executemany(
        f"INSERT INTO purchases VALUES ({', '.join('?' for _ in PURCHASE_COLUMNS)})",
        rows,
    )
    connection.execute("COMMIT")
    seconds = time.perf_counter() - started
    connection.close()
    return seconds, len(rows)


def main() -> None:
    ours: list[float] = []
    floor: list[float] = []
    lines = 0
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory() as directory:
            seconds, lines = _omnix_load(Path(directory))
            ours.append(seconds)
            floor.append(_executemany_floor(Path(directory))[0])
    ours.sort()
    floor.sort()
    mid = ROUNDS // 2
    print(f"Demo first load into SQLite ({ROUNDS} rounds, medians)")
    print(
        f"  omnix demo load (read, validate, write, index): {ours[mid]:.1f} s, "
        f"{lines / ours[mid]:,.0f} rows/s   (target <= 30 s)"
    )
    print(
        f"  bare sqlite3.executemany of the same rows:      {floor[mid]:.1f} s, "
        f"{lines / floor[mid]:,.0f} rows/s"
    )
    print(f"  ratio omnix / bare insert time: {ours[mid] / floor[mid]:.2f}")


if __name__ == "__main__":
    main()
