"""Predictions reported by other systems, and the timer raising due products.

The timer needs no event: every ``due_check_s`` it looks at the predictions
whose ``next_check`` day has come (store time zone, business clock) and
raises ``due`` on the predicted day, then ``overdue`` once the purchase is
later than the engine's confidence window (a quarter of the interval, at
least two days). Each stage is raised once per prediction; a new purchase or
a new reported prediction starts again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.engine.consumption import DEFAULT_INTERVAL_DAYS
from omnix.engine.features import local_day
from omnix.streaming.models import ProductOutlook
from omnix.streaming.outlook import window_days
from omnix.streaming.rules import InsightDraft, due_insight, rhythm_priority

DUE, OVERDUE = 1, 2
TIMER_BATCH = 1_000


@dataclass(frozen=True)
class ReportedPrediction:
    event_id: str
    customer_id: str
    product_id: str
    product_name: str | None
    category: str | None
    predicted: date
    interval_days: float | None
    confidence: float
    at: datetime
    late: bool


async def reported_predictions(
    session: AsyncSession, reports: Sequence[ReportedPrediction], now: datetime
) -> tuple[list[InsightDraft], list[dict[str, Any]]]:
    """A moved prediction raises ``prediction_moved``; returns the insights
    and the prediction rows to store (:func:`store_outlooks`)."""
    if not reports:
        return [], []
    stored = {
        (row.customer_id, row.product_id): row
        for row in await session.scalars(
            select(ProductOutlook).where(
                ProductOutlook.customer_id.in_({r.customer_id for r in reports}),
                ProductOutlook.product_id.in_({r.product_id for r in reports}),
            )
        )
    }
    drafts = []
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    # The prediction each report is compared with: the stored one, then the
    # previous report of the same pair in this batch.
    known = {
        pair: (row.predicted_date, row.interval_days) for pair, row in stored.items()
    }
    for report in sorted(reports, key=lambda r: r.at):
        pair = (report.customer_id, report.product_id)
        old = stored.get(pair)
        interval = report.interval_days or (
            known[pair][1] if pair in known else DEFAULT_INTERVAL_DAYS
        )
        if pair in known and not report.late:
            previous, previous_interval = known[pair]
            shift = (report.predicted - previous).days
            if abs(shift) >= window_days(previous_interval):
                drafts.append(_moved(report, previous, previous_interval, shift))
        known[pair] = (report.predicted, interval)
        name = report.product_name or (old.product_name if old else report.product_id)
        rows[pair] = {
            "customer_id": report.customer_id,
            "product_id": report.product_id,
            "product_name": name,
            "category": report.category or (old.category if old else None),
            "purchase_days": old.purchase_days if old else 0,
            "last_purchase_day": old.last_purchase_day if old else None,
            "predicted_date": report.predicted,
            "interval_days": interval,
            "confidence": report.confidence,
            "source": "event",
            "due_stage": 0,
            "next_check": report.predicted,
            "updated_at": now,
        }
    return drafts, list(rows.values())


def _moved(
    report: ReportedPrediction, previous: date, interval_days: float, shift: int
) -> InsightDraft:
    when = "later" if shift > 0 else "earlier"
    return InsightDraft(
        key=f"prediction:{report.event_id}",
        customer_id=report.customer_id,
        event_id=report.event_id,
        insight_type="consumption_prediction",
        rule="prediction_moved",
        priority=rhythm_priority(shift, interval_days),
        action_required=False,
        text=f"Next purchase of {report.product_name or report.product_id} moved "
        f"{abs(shift)} days {when}, to {report.predicted.isoformat()} (was "
        f"{previous.isoformat()})",
        data={
            "eventId": report.event_id,
            "rule": "prediction_moved",
            "productId": report.product_id,
            "previousPredictedDate": previous.isoformat(),
            "predictedDate": report.predicted.isoformat(),
            "shiftDays": shift,
            "intervalDays": round(interval_days, 1),
            "confidence": report.confidence,
        },
        event_time=report.at,
    )


async def due_reminders(
    session: AsyncSession, business_now: datetime, tz: str, now: datetime
) -> list[InsightDraft]:
    """One timer tick: due and overdue products, at most ``TIMER_BATCH``."""
    today = local_day(business_now, tz)
    rows = list(
        await session.scalars(
            select(ProductOutlook)
            .where(ProductOutlook.next_check <= today)
            .order_by(ProductOutlook.next_check)
            .limit(TIMER_BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    drafts: list[InsightDraft] = []
    changes: list[dict[str, Any]] = []
    for row in rows:
        overdue_on = row.predicted_date + timedelta(
            days=int(window_days(row.interval_days))
        )
        stage = OVERDUE if today > overdue_on else DUE
        if stage > row.due_stage:
            drafts.append(
                due_insight(
                    customer_id=row.customer_id,
                    product_id=row.product_id,
                    product_name=row.product_name,
                    predicted=row.predicted_date,
                    today=today,
                    interval_days=row.interval_days,
                    confidence=row.confidence,
                    overdue=stage == OVERDUE,
                    at=business_now,
                )
            )
        changes.append(
            {
                "customer_id": row.customer_id,
                "product_id": row.product_id,
                "due_stage": max(stage, row.due_stage),
                "next_check": (
                    None if stage == OVERDUE else overdue_on + timedelta(days=1)
                ),
                "updated_at": now,
            }
        )
    if changes:
        # Bulk UPDATE by primary key: one executemany.
        await session.execute(update(ProductOutlook), changes)
    return drafts
