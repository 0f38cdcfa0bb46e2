"""Households' purchase lines as the insight consumer knows them.

Each batch needs two things from a household's history: its features (built
once into the stored state, then kept up to date line by line) and, for each
product of the batch, the household's purchases of it (for the consumption
engine). Reading them from the purchases table for every batch read each
household's whole history again with every batch it appeared in, which was
most of a batch's time.

So the history is read once, in one query, when the consumer first meets a
household (leaving out the lines of events not yet applied, which are added
as they are applied), and kept in the consumer's memory together with the
version of the stored state it goes with. After each committed batch the
applied lines are added and the version moves to the one just written. A
history is read again when the stored state's version differs (another
consumer applied events of that household meanwhile), when the state is
rebuilt (``state_refresh_hours``, which also picks up lines added through
the purchases API or an import) and after the household was evicted (the
cache holds ``capacity`` households, least recently used first out).

A consumer also reads the histories of up to ``capacity`` households (those
that bought most recently) when it starts, before it takes events: its
warm-up (:func:`warm_histories`). A household that had no stored state then
is kept with no version; while it still has none, its first batch builds the
state from those lines (the state counts as refreshed at the warm-up, so
lines stored meanwhile by other paths come in at the next refresh, as they do
for every kept history), and a stored state from another consumer sends it
back to the database as before.

Lines come straight from the database driver as tuples into one Polars
frame: SQLAlchemy's row objects cost more than the query.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.catalogue.models import Product
from omnix.customers.models import PurchaseLine
from omnix.streaming.models import EVENT_PURCHASE, StreamEvent

LineKey = tuple[str, str, str, int]  # customer, order, product, line number

HISTORY_SCHEMA: dict[str, Any] = {
    "customer_id": pl.Utf8,
    "order_id": pl.Utf8,
    "product_id": pl.Utf8,
    "line_no": pl.Int64,
    "purchased_at": pl.Datetime("us", "UTC"),
    "quantity": pl.Float64,
    "price": pl.Float64,
    "department": pl.Utf8,
}
_KEY = ["customer_id", "order_id", "product_id", "line_no"]
_CHUNK = 500


def empty_history() -> pl.DataFrame:
    return pl.DataFrame(schema=HISTORY_SCHEMA)


def _instants(stored: pl.Series) -> pl.Series:
    """SQLite's stored times (text) as UTC instants, parsed in one vectorised
    step (per-row conversion cost more than the query)."""
    try:
        return stored.str.to_datetime(time_unit="us").dt.replace_time_zone("UTC")
    except pl.exceptions.PolarsError:
        parsed = [datetime.fromisoformat(value) for value in stored.to_list()]
        return pl.Series(
            stored.name,
            [v if v.tzinfo else v.replace(tzinfo=UTC) for v in parsed],
            dtype=pl.Datetime("us", "UTC"),
        )


async def pending_lines(
    session: AsyncSession, customer_ids: Sequence[str]
) -> set[LineKey]:
    """Lines of purchase events accepted but not yet applied."""
    rows = await session.scalars(
        select(StreamEvent.payload).where(
            StreamEvent.processed_at.is_(None),
            StreamEvent.event_type == EVENT_PURCHASE,
            StreamEvent.customer_id.in_(customer_ids),
        )
    )
    return {
        (p["customerId"], p["orderId"], p["productId"], int(p["lineNo"])) for p in rows
    }


_COLUMNS = "customer_id, order_id, product_id, line_no, purchased_at, quantity, price"


async def _line_rows(
    session: AsyncSession, customer_ids: Sequence[str]
) -> list[tuple[Any, ...]]:
    """The households' stored lines as driver tuples, in the session's
    transaction (SQLite: times as text; PostgreSQL: aware datetimes)."""
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    if connection.dialect.name == "sqlite":
        marks = ",".join("?" * len(customer_ids))
        rows = await driver.execute_fetchall(
            f"SELECT {_COLUMNS} FROM purchases WHERE customer_id IN ({marks})",
            list(customer_ids),
        )
        return list(rows)
    records = await driver.fetch(
        f"SELECT {_COLUMNS} FROM purchases WHERE customer_id = ANY($1::text[])",
        list(customer_ids),
    )
    return [tuple(record) for record in records]


def _frame(
    rows: list[tuple[Any, ...]], departments: dict[str, str | None]
) -> pl.DataFrame:
    """Driver tuples as a frame of :data:`HISTORY_SCHEMA`."""
    stored_times = rows[0][4]
    frame = pl.DataFrame(
        rows,
        schema={
            **{c: HISTORY_SCHEMA[c] for c in _KEY},
            "purchased_at": pl.Utf8
            if isinstance(stored_times, str)
            else HISTORY_SCHEMA["purchased_at"],
            "quantity": pl.Float64,
            "price": pl.Float64,
        },
        orient="row",
    )
    if isinstance(stored_times, str):
        frame = frame.with_columns(_instants(frame["purchased_at"]))
    return frame.with_columns(
        pl.col("product_id")
        .replace_strict(departments, default=None, return_dtype=pl.Utf8)
        .alias("department")
    ).select(list(HISTORY_SCHEMA))


async def read_histories(
    session: AsyncSession,
    customer_ids: Sequence[str],
    *,
    leave_out: Iterable[LineKey] = (),
) -> pl.DataFrame:
    """Stored lines of some households (with their product's department),
    without the lines of unapplied purchase events nor ``leave_out``."""
    ids = sorted(set(customer_ids))
    frames: list[pl.DataFrame] = []
    left_out = list(leave_out)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        mine = set(chunk)
        skip = await pending_lines(session, chunk)
        skip.update(key for key in left_out if key[0] in mine)
        rows = await _line_rows(session, chunk)
        if not rows:
            continue
        # Departments looked up once per product, not joined on every line.
        frame = _frame(rows, await _departments(session, chunk))
        if skip:
            frame = frame.join(
                pl.DataFrame(list(skip), schema=_KEY, orient="row"),
                on=_KEY,
                how="anti",
            )
        frames.append(frame)
    return pl.concat(frames) if frames else empty_history()


async def _departments(
    session: AsyncSession, customer_ids: Sequence[str]
) -> dict[str, str | None]:
    """Departments of the products these households bought."""
    bought = select(PurchaseLine.product_id).where(
        PurchaseLine.customer_id.in_(customer_ids)
    )
    connection = await session.connection()
    rows = await connection.execute(
        select(Product.id, Product.department).where(Product.id.in_(bought))
    )
    return {str(product): department for product, department in rows}


def by_household(
    frame: pl.DataFrame, customer_ids: Iterable[str]
) -> dict[str, pl.DataFrame]:
    """``frame`` split per household; every id gets a frame, maybe empty."""
    parts = {
        str(key[0]): part
        for key, part in frame.partition_by("customer_id", as_dict=True).items()
    }
    return {c: parts.get(c, frame.clear()) for c in customer_ids}


@dataclass(frozen=True)
class KeptHistory:
    """A household's lines, the version of its stored state they go with
    (None: read when it had no stored state) and when they were read."""

    lines: pl.DataFrame
    version: datetime | None
    read_at: datetime


class HistoryCache:
    """Households' lines between batches, each with its state's version."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._known: OrderedDict[str, KeptHistory] = OrderedDict()

    def __len__(self) -> int:
        return len(self._known)

    def get(self, customer_id: str, version: datetime | None) -> pl.DataFrame | None:
        """The lines kept for a household whose stored state is at
        ``version``; None when not kept or kept for another version."""
        known = self._known.get(customer_id)
        if known is None or version is None or known.version != version:
            return None
        self._known.move_to_end(customer_id)
        return known.lines

    def unstated(self, customer_id: str) -> KeptHistory | None:
        """The lines kept for a household read when it had no stored state
        (the warm-up), for a household that still has none."""
        known = self._known.get(customer_id)
        if known is None or known.version is not None:
            return None
        self._known.move_to_end(customer_id)
        return known

    def version(self, customer_id: str) -> datetime | None:
        known = self._known.get(customer_id)
        return None if known is None else known.version

    def put(
        self,
        customer_id: str,
        lines: pl.DataFrame,
        version: datetime | None,
        read_at: datetime,
    ) -> None:
        self._known[customer_id] = KeptHistory(lines, version, read_at)
        self._known.move_to_end(customer_id)
        while len(self._known) > self.capacity:
            self._known.popitem(last=False)

    def forget(self, customer_ids: Iterable[str]) -> None:
        for customer_id in customer_ids:
            self._known.pop(customer_id, None)


@dataclass(frozen=True)
class WarmUp:
    """What a consumer read before taking events."""

    households: int
    lines: int
    seconds: float


async def recent_households(session: AsyncSession, limit: int) -> list[str]:
    """Up to ``limit`` households with stored lines, latest purchase first."""
    last = func.max(PurchaseLine.purchased_at)
    rows = await session.scalars(
        select(PurchaseLine.customer_id)
        .group_by(PurchaseLine.customer_id)
        .order_by(last.desc(), PurchaseLine.customer_id)
        .limit(limit)
    )
    return list(rows)


async def warm_histories(
    session: AsyncSession,
    cache: HistoryCache,
    versions: dict[str, datetime],
    read_at: datetime,
) -> int:
    """Fill ``cache`` with the histories of the households that bought most
    recently (up to its capacity), each with its stored state's ``versions``
    entry read in the same transaction; returns the lines read."""
    if cache.capacity == 0:
        return 0
    # Least recent first, so that the most recent end up last out.
    ids = list(reversed(await recent_households(session, cache.capacity)))
    total = 0
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        lines = await read_histories(session, chunk)
        total += lines.height
        for customer_id, history in by_household(lines, chunk).items():
            cache.put(customer_id, history, versions.get(customer_id), read_at)
    return total
