"""Predicted next purchases as the stream sees them, and the insights on them.

After a batch of purchases, the consumption engine
(:func:`omnix.engine.consumption.consumption_patterns`) recomputes the
rhythm of every (household, product) pair in the batch twice: just before
the batch and just after it. A purchase far from the date predicted before
it moved the prediction (``rhythm_changed``); a first purchase of a product
with strong basket partners updates the household's recommendations. The
predictions are kept in ``stream_product_outlooks`` for the timer, which
raises ``due`` and ``overdue`` without waiting for an event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.catalogue.models import Product
from omnix.customers.models import PurchaseLine
from omnix.engine.consumption import consumption_patterns
from omnix.engine.features import local_day
from omnix.streaming.models import ProductOutlook, dialect_insert
from omnix.streaming.rules import InsightDraft, rhythm_priority

# A reminder needs a rhythm: at least two intervals seen.
MIN_DAYS_FOR_REMINDER = 3
# The engine's columns of a purchase line.
LINE_COLUMNS = (
    "customer_id",
    "order_id",
    "product_id",
    "purchased_at",
    "quantity",
    "price",
)
_CHUNK = 500

Pair = tuple[str, str]


@dataclass(frozen=True)
class PurchaseFact:
    """A purchase line applied in this batch."""

    event_id: str
    customer_id: str
    product_id: str
    product_name: str
    category: str | None
    at: datetime
    late: bool
    order_id: str
    quantity: float
    price: float


@dataclass(frozen=True)
class Outlook:
    """One pair's rhythm at one instant, from the engine."""

    purchase_days: int
    last_purchase_day: date
    predicted: date
    interval_days: float
    confidence: float
    insufficient_data: bool


def window_days(interval_days: float) -> float:
    """Half-width of the engine's confidence window around a prediction."""
    return max(2.0, interval_days / 4.0)


def next_check(purchase_days: int, predicted: date, source: str) -> date | None:
    if source == "engine" and purchase_days < MIN_DAYS_FOR_REMINDER:
        return None
    return predicted


def pair_lines(
    histories: Mapping[str, pl.DataFrame], facts: Sequence[PurchaseFact]
) -> pl.DataFrame:
    """The engine's lines of every (household, product) of ``facts``: the
    households' known lines of those products, then the facts' own."""
    wanted = pl.DataFrame(
        sorted({(f.customer_id, f.product_id) for f in facts}),
        schema={"customer_id": pl.Utf8, "product_id": pl.Utf8},
        orient="row",
    )
    known = [history for history in histories.values() if not history.is_empty()]
    frames = (
        [
            pl.concat(known)
            .join(wanted, on=["customer_id", "product_id"], how="semi")
            .select(LINE_COLUMNS)
        ]
        if known
        else []
    )
    batch = pl.DataFrame(
        [
            (f.customer_id, f.order_id, f.product_id, f.at, f.quantity, f.price)
            for f in facts
        ],
        schema={
            "customer_id": pl.Utf8,
            "order_id": pl.Utf8,
            "product_id": pl.Utf8,
            "purchased_at": pl.Datetime("us", "UTC"),
            "quantity": pl.Float64,
            "price": pl.Float64,
        },
        orient="row",
    )
    return pl.concat([*frames, batch])


def _outlooks(lines: pl.DataFrame, as_of: datetime, tz: str) -> dict[Pair, Outlook]:
    if lines.is_empty():
        return {}
    frame = consumption_patterns(lines, as_of, tz)
    return {
        (row["customer_id"], row["product_id"]): Outlook(
            purchase_days=int(row["purchase_days"]),
            last_purchase_day=row["last_purchase_date"],
            predicted=row["predicted_next_purchase_date"],
            interval_days=float(row["median_days_between_purchases"]),
            confidence=float(row["confidence"]),
            insufficient_data=bool(row["insufficient_data"]),
        )
        for row in frame.iter_rows(named=True)
    }


def _rhythm_changed(
    fact: PurchaseFact, before: Outlook, after: Outlook | None, tz: str
) -> InsightDraft | None:
    day = local_day(fact.at, tz)
    off = (day - before.predicted).days
    if before.insufficient_data or abs(off) <= window_days(before.interval_days):
        return None
    when = "earlier" if off < 0 else "later"
    text = (
        f"Bought {fact.product_name} {abs(off)} days {when} than predicted "
        f"({before.predicted.isoformat()})"
    )
    data: dict[str, Any] = {
        "eventId": fact.event_id,
        "rule": "rhythm_changed",
        "productId": fact.product_id,
        "productName": fact.product_name,
        "previousPredictedDate": before.predicted.isoformat(),
        "purchaseDate": day.isoformat(),
        "daysFromPrediction": off,
        "previousIntervalDays": round(before.interval_days, 1),
    }
    if after is not None:
        text += (
            f"; next purchase now expected around {after.predicted.isoformat()} "
            f"(about every {after.interval_days:.0f} days)"
        )
        data.update(
            newPredictedDate=after.predicted.isoformat(),
            newIntervalDays=round(after.interval_days, 1),
            confidence=round(after.confidence, 4),
        )
    return InsightDraft(
        key=f"rhythm:{fact.event_id}",
        customer_id=fact.customer_id,
        event_id=fact.event_id,
        insight_type="consumption_prediction",
        rule="rhythm_changed",
        priority=rhythm_priority(off, before.interval_days),
        action_required=False,
        text=text,
        data=data,
        event_time=fact.at,
    )


async def store_outlooks(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert or overwrite predictions (rows of ``stream_product_outlooks``)."""
    if not rows:
        return
    statement = dialect_insert(session, ProductOutlook)
    columns = [c for c in rows[0] if c not in ("customer_id", "product_id")]
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["customer_id", "product_id"],
            set_={column: statement.excluded[column] for column in columns},
        ),
        rows,
    )


@dataclass
class BatchOutlook:
    """What a batch of purchases says about predictions."""

    drafts: list[InsightDraft]
    firsts: list[PurchaseFact]  # first purchases of a product by a household
    rows: list[dict[str, Any]]  # new predictions, reminders reset


async def purchase_outlooks(
    histories: Mapping[str, pl.DataFrame],
    facts: Sequence[PurchaseFact],
    *,
    tz: str,
    now: datetime,
) -> BatchOutlook:
    """Rhythm insights of a batch, its first purchases, the new predictions.

    ``histories`` are the households' lines known before the batch
    (:mod:`omnix.streaming.history`); the caller stores ``rows`` with
    :func:`store_outlooks`.
    """
    if not facts:
        return BatchOutlook([], [], [])
    pairs = {(f.customer_id, f.product_id) for f in facts}
    lines = pair_lines(histories, facts)
    start = min(f.at for f in facts)
    end = max(f.at for f in facts) + timedelta(microseconds=1)
    # The engine is CPU work on frames: off the event loop.
    before = await asyncio.to_thread(_outlooks, lines, start, tz)
    after = await asyncio.to_thread(_outlooks, lines, end, tz)
    drafts: list[InsightDraft] = []
    firsts: list[PurchaseFact] = []
    for fact in facts:
        pair = (fact.customer_id, fact.product_id)
        previous = before.get(pair)
        if fact.late:
            continue
        if previous is None:
            firsts.append(fact)
            continue
        draft = _rhythm_changed(fact, previous, after.get(pair), tz)
        if draft is not None:
            drafts.append(draft)
    names = {(f.customer_id, f.product_id): f for f in facts}
    rows = [
        {
            "customer_id": pair[0],
            "product_id": pair[1],
            "product_name": names[pair].product_name,
            "category": names[pair].category,
            "purchase_days": outlook.purchase_days,
            "last_purchase_day": outlook.last_purchase_day,
            "predicted_date": outlook.predicted,
            "interval_days": outlook.interval_days,
            "confidence": outlook.confidence,
            "source": "engine",
            "due_stage": 0,
            "next_check": next_check(
                outlook.purchase_days, outlook.predicted, "engine"
            ),
            "updated_at": now,
        }
        for pair, outlook in sorted(after.items())
        if pair in pairs and not outlook.insufficient_data
    ]
    return BatchOutlook(drafts, firsts, rows)


async def active_products(
    session: AsyncSession, product_ids: Sequence[str]
) -> dict[str, str]:
    """Names of the active products among ``product_ids``."""
    ids = sorted(set(product_ids))
    names: dict[str, str] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = await session.execute(
            select(Product.id, Product.name).where(
                Product.id.in_(ids[start : start + _CHUNK]), Product.active.is_(True)
            )
        )
        names.update(dict(rows.tuples().all()))
    return names


async def bought_pairs(
    session: AsyncSession, customer_ids: Sequence[str], product_ids: Sequence[str]
) -> set[Pair]:
    """The (household, product) pairs among these that were ever bought."""
    customers, products = sorted(set(customer_ids)), sorted(set(product_ids))
    found: set[Pair] = set()
    for start in range(0, len(products), _CHUNK):
        rows = await session.execute(
            select(PurchaseLine.customer_id, PurchaseLine.product_id)
            .where(
                PurchaseLine.customer_id.in_(customers),
                PurchaseLine.product_id.in_(products[start : start + _CHUNK]),
            )
            .distinct()
        )
        found.update((c, p) for c, p in rows.tuples())
    return found
