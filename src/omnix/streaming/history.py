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
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy import String, select, type_coerce
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


def _instants(values: list[Any]) -> pl.Series:
    """Stored times as UTC instants: SQLite's text parsed in one vectorised
    step (per-row conversion cost more than the query), PostgreSQL's values
    as they come."""
    if values and all(isinstance(value, str) for value in values):
        try:
            return (
                pl.Series(values, dtype=pl.Utf8)
                .str.to_datetime(time_unit="us")
                .dt.replace_time_zone("UTC")
            )
        except pl.exceptions.PolarsError:
            values = [datetime.fromisoformat(value) for value in values]
    return pl.Series(
        [v if v.tzinfo else v.replace(tzinfo=UTC) for v in values],
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
        # On the connection, past the ORM's per-row loading: a first sight of
        # a batch's households reads some hundred thousand lines.
        connection = await session.connection()
        result = await connection.execute(
            select(
                PurchaseLine.customer_id,
                PurchaseLine.order_id,
                PurchaseLine.product_id,
                PurchaseLine.line_no,
                type_coerce(PurchaseLine.purchased_at, String),
                PurchaseLine.quantity,
                PurchaseLine.price,
            ).where(PurchaseLine.customer_id.in_(chunk))
        )
        rows = result.all()
        if not rows:
            continue
        columns = list(zip(*rows, strict=True))
        data: dict[str, Any] = dict(zip(HISTORY_SCHEMA, columns, strict=False))
        data["purchased_at"] = _instants(list(columns[4]))
        # Departments looked up once per product, not joined on every line.
        data["department"] = pl.Series(list(columns[2])).replace_strict(
            await _departments(session, chunk), default=None, return_dtype=pl.Utf8
        )
        frame = pl.DataFrame(data, schema=HISTORY_SCHEMA)
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


class HistoryCache:
    """Households' lines between batches, each with its state's version."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._known: OrderedDict[str, tuple[pl.DataFrame, datetime | None]] = (
            OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._known)

    def get(self, customer_id: str, version: datetime | None) -> pl.DataFrame | None:
        """The lines kept for a household whose stored state is at
        ``version``; None when not kept or kept for another version."""
        known = self._known.get(customer_id)
        if known is None or version is None or known[1] != version:
            return None
        self._known.move_to_end(customer_id)
        return known[0]

    def version(self, customer_id: str) -> datetime | None:
        known = self._known.get(customer_id)
        return None if known is None else known[1]

    def put(self, customer_id: str, lines: pl.DataFrame, version: datetime) -> None:
        self._known[customer_id] = (lines, version)
        self._known.move_to_end(customer_id)
        while len(self._known) > self.capacity:
            self._known.popitem(last=False)

    def forget(self, customer_ids: Iterable[str]) -> None:
        for customer_id in customer_ids:
            self._known.pop(customer_id, None)
