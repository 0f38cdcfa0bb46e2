"""Household features kept by the stream and updated one purchase line at a time.

On first sight (and after ``state_refresh_hours``) a household's state is
built from the purchases table, leaving out the lines of events not yet
processed: those are added when their events are applied, so no line counts
twice. RFM totals follow the definitions of :mod:`omnix.segments.features`
(distinct orders, spend, first and last purchase); the recent order values,
hours of day and departments feed the behaviour rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.customers.models import Customer
from omnix.segments.views import current_rows
from omnix.streaming.history import LineKey, read_histories
from omnix.streaming.models import CustomerStreamState, dialect_insert

# Orders kept for the basket-value rule: enough for a stable median and
# spread, small enough to rewrite with every event.
RECENT_ORDERS = 100
_CHUNK = 500


@dataclass
class CustomerState:
    """One household's stream features (see the module docstring)."""

    customer_id: str
    account_opened_at: datetime
    first_purchase_at: datetime | None = None
    last_purchase_at: datetime | None = None
    order_count: int = 0
    total_spend: float = 0.0
    # [order id, epoch seconds of its first line, value], oldest first.
    recent_orders: list[list[Any]] = field(default_factory=list)
    hour_counts: list[int] = field(default_factory=lambda: [0] * 24)
    department_counts: dict[str, int] = field(default_factory=dict)
    segment_id: str | None = None
    refreshed_at: datetime | None = None
    # ``updated_at`` of the stored row when loaded (None: not stored yet), to
    # tell whether another consumer changed it since.
    version: datetime | None = None

    def order_value(self, order_id: str) -> float | None:
        for row in self.recent_orders:
            if row[0] == order_id:
                return float(row[2])
        return None

    def other_order_values(self, order_id: str) -> list[float]:
        return [float(row[2]) for row in self.recent_orders if row[0] != order_id]

    def add_line(
        self,
        order_id: str,
        at: datetime,
        value: float,
        department: str | None,
        zone: ZoneInfo,
    ) -> bool:
        """Apply one purchase line; True when it opened a new order."""
        self.total_spend += value
        if self.first_purchase_at is None or at < self.first_purchase_at:
            self.first_purchase_at = at
        if self.last_purchase_at is None or at > self.last_purchase_at:
            self.last_purchase_at = at
        if department:
            self.department_counts[department] = (
                self.department_counts.get(department, 0) + 1
            )
        for row in self.recent_orders:
            if row[0] == order_id:
                row[1] = min(float(row[1]), at.timestamp())
                row[2] = float(row[2]) + value
                return False
        self.order_count += 1
        self.hour_counts[at.astimezone(zone).hour] += 1
        self.recent_orders.append([order_id, at.timestamp(), value])
        self.recent_orders.sort(key=lambda row: float(row[1]))
        del self.recent_orders[:-RECENT_ORDERS]
        return True


def state_row(state: CustomerState, now: datetime) -> dict[str, Any]:
    return {
        "customer_id": state.customer_id,
        "account_opened_at": state.account_opened_at,
        "first_purchase_at": state.first_purchase_at,
        "last_purchase_at": state.last_purchase_at,
        "order_count": state.order_count,
        "total_spend": state.total_spend,
        "recent_orders": state.recent_orders,
        "hour_counts": state.hour_counts,
        "department_counts": state.department_counts,
        "segment_id": state.segment_id,
        "refreshed_at": state.refreshed_at or now,
        "updated_at": now,
    }


def _from_row(row: Any) -> CustomerState:
    return CustomerState(
        customer_id=row.customer_id,
        account_opened_at=row.account_opened_at,
        first_purchase_at=row.first_purchase_at,
        last_purchase_at=row.last_purchase_at,
        order_count=row.order_count,
        total_spend=row.total_spend,
        recent_orders=[list(order) for order in row.recent_orders],
        hour_counts=list(row.hour_counts),
        department_counts=dict(row.department_counts),
        segment_id=row.segment_id,
        refreshed_at=row.refreshed_at,
        version=row.updated_at,
    )


async def load_states(
    session: AsyncSession, customer_ids: Sequence[str], *, lock: bool
) -> dict[str, CustomerState]:
    """Stored states; with ``lock``, locked in id order on PostgreSQL (SQLite's
    writer lock already serialises transactions), so concurrent workers apply
    events to one household one after the other."""
    ids = sorted(set(customer_ids))
    found: dict[str, CustomerState] = {}
    table = CustomerStreamState.__table__
    for start in range(0, len(ids), _CHUNK):
        # Rows, not ORM objects: states are rewritten whole, never updated
        # through the session, and building objects cost more than the query.
        query = (
            select(table)
            .where(table.c.customer_id.in_(ids[start : start + _CHUNK]))
            .order_by(table.c.customer_id)
        )
        rows = await session.execute(query.with_for_update() if lock else query)
        found.update({row.customer_id: _from_row(row) for row in rows})
    return found


async def versions(
    session: AsyncSession, customer_ids: Sequence[str]
) -> dict[str, datetime]:
    """``updated_at`` of the stored states, locked as :func:`load_states` does."""
    ids = sorted(set(customer_ids))
    found: dict[str, datetime] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = await session.execute(
            select(CustomerStreamState.customer_id, CustomerStreamState.updated_at)
            .where(CustomerStreamState.customer_id.in_(ids[start : start + _CHUNK]))
            .order_by(CustomerStreamState.customer_id)
            .with_for_update()
        )
        found.update(dict(rows.tuples().all()))
    return found


async def stored_versions(session: AsyncSession) -> dict[str, datetime]:
    """``updated_at`` of every stored state, unlocked."""
    rows = await session.execute(
        select(CustomerStreamState.customer_id, CustomerStreamState.updated_at)
    )
    return dict(rows.tuples().all())


def states_from_lines(
    states: dict[str, CustomerState], lines: pl.DataFrame, zone: ZoneInfo
) -> None:
    """Fill fresh states with the features of their households' ``lines``
    (a frame of :data:`omnix.streaming.history.HISTORY_SCHEMA`)."""
    if lines.is_empty():
        return
    orders = (
        lines.group_by("customer_id", "order_id")
        .agg(
            (pl.col("quantity") * pl.col("price")).sum().alias("value"),
            pl.col("purchased_at").min().alias("first_at"),
            pl.col("purchased_at").max().alias("last_at"),
        )
        .sort("first_at", "customer_id", "order_id")
    )
    departments = (
        lines.filter(pl.col("department").is_not_null())
        .group_by("customer_id", "department")
        .len()
    )
    for customer_id, department, count in departments.iter_rows():
        if customer_id in states:
            states[customer_id].department_counts[department] = int(count)
    for customer_id, order_id, value, first_at, last_at in orders.iter_rows():
        state = states.get(customer_id)
        if state is None:
            continue
        state.order_count += 1
        state.total_spend += float(value or 0.0)
        state.first_purchase_at = state.first_purchase_at or first_at
        if state.last_purchase_at is None or last_at > state.last_purchase_at:
            state.last_purchase_at = last_at
        state.hour_counts[first_at.astimezone(zone).hour] += 1
        state.recent_orders.append([order_id, first_at.timestamp(), float(value)])
    for state in states.values():
        del state.recent_orders[:-RECENT_ORDERS]


async def build_states(
    session: AsyncSession,
    customer_ids: Sequence[str],
    *,
    zone: ZoneInfo,
    now: datetime,
    leave_out: frozenset[LineKey] = frozenset(),
    lines: pl.DataFrame | None = None,
) -> dict[str, CustomerState]:
    """States of some households from the purchases table (not stored).

    Lines of purchase events not yet processed, and ``leave_out`` (the lines
    of the batch being applied, processed or not), are left out; their
    orders are recomputed from their remaining lines. ``lines``, when given,
    are those households' lines already read by
    :func:`omnix.streaming.history.read_histories` with the same
    ``leave_out``. Unknown ids are absent.
    """
    ids = sorted(set(customer_ids))
    if lines is None:
        lines = await read_histories(session, ids, leave_out=leave_out)
    states: dict[str, CustomerState] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        opened = await session.execute(
            select(Customer.id, Customer.created_at).where(Customer.id.in_(chunk))
        )
        for customer_id, created_at in opened:
            states[customer_id] = CustomerState(
                customer_id, created_at, refreshed_at=now
            )
        for customer_id, row in (await current_rows(session, chunk)).items():
            if customer_id in states:
                states[customer_id].segment_id = row.assignment.segment_id
    states_from_lines(states, lines.filter(pl.col("customer_id").is_in(ids)), zone)
    return states


async def save_states(
    session: AsyncSession, states: Sequence[CustomerState], now: datetime
) -> None:
    """Insert or overwrite the given states."""
    if not states:
        return
    statement = dialect_insert(session, CustomerStreamState)
    columns = [c for c in state_row(states[0], now) if c != "customer_id"]
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["customer_id"],
            set_={column: statement.excluded[column] for column in columns},
        ),
        [state_row(state, now) for state in states],
    )
