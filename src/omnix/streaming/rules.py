"""The insight rules: pure functions from a household's state to insights.

Each rule returns :class:`InsightDraft` values carrying a deterministic key
(the rule and its subject: an order, an event, a predicted date), so a rule
evaluated twice, by a redelivery or by two processes, stores one insight.
docs/STREAMING_ANALYTICS_GUIDE.md lists every rule, its threshold and how
priority and ``actionRequired`` follow from it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np

from omnix.engine.rfm import describe_migration
from omnix.engine.segments_catalogue import get_segment
from omnix.streaming.placement import Placement

# Iglewicz & Hoaglin's cut-off for the modified z-score.
ANOMALY_Z = 3.5
HIGH_Z = 5.0
CRITICAL_Z = 8.0
CRITICAL_RATIO = 10.0
# Below this spread (log units, about 10 %) baskets count as equally sized,
# so that a very regular household is not flagged for a modest change.
MIN_LOG_MAD = 0.1
MIN_ORDERS_FOR_BASKET = 8
MIN_ORDERS_FOR_HABITS = 20
VALUABLE = frozenset({"champions", "loyal_customers", "cant_lose_them"})
LAPSED = frozenset({"at_risk", "cant_lose_them", "hibernating", "lost"})


@dataclass(frozen=True)
class InsightDraft:
    """An insight before it is stored; ``key`` makes storing it idempotent."""

    key: str
    customer_id: str
    event_id: str | None
    insight_type: str
    rule: str
    priority: str
    action_required: bool
    text: str
    data: dict[str, Any]
    event_time: datetime


@dataclass(frozen=True)
class OrderLine:
    """The purchase line a behaviour rule looks at."""

    customer_id: str
    event_id: str
    order_id: str
    at: datetime


def log_spread(others: Sequence[float]) -> tuple[float, float]:
    """Median and MAD (floored at :data:`MIN_LOG_MAD`) of ``log(others)``."""
    if not others:
        raise ValueError("others must be non-empty")
    logs = np.log(np.maximum(np.asarray(others, dtype=np.float64), 0.01))
    centre = float(np.median(logs))
    return centre, max(float(np.median(np.abs(logs - centre))), MIN_LOG_MAD)


def modified_z_score(
    value: float,
    others: Sequence[float],
    spread: tuple[float, float] | None = None,
) -> tuple[float, float]:
    """Modified z-score of ``log(value)`` among ``log(others)``.

    ``M = 0.6745 (x - median(x_i)) / MAD`` with ``MAD = median(|x_i -
    median(x_i)|)`` (Iglewicz & Hoaglin, *How to Detect and Handle Outliers*,
    ASQC 1993, eq. 2.1); 0.6745 is the 0.75 quantile of the standard normal,
    so ``M`` reads as a z-score for normal data yet is not dragged by the
    outliers it looks for. Order values are right-skewed, hence the logs.
    The MAD is floored at :data:`MIN_LOG_MAD`. ``spread`` may carry
    :func:`log_spread` of ``others`` when the caller already has it.

    Returns
    -------
    (M, typical) : tuple of float
        The score and the typical order value ``exp(median)``.
    """
    if value <= 0 or not others:
        raise ValueError("value must be > 0 and others non-empty")
    centre, mad = spread if spread is not None else log_spread(others)
    return 0.6745 * (math.log(value) - centre) / mad, math.exp(centre)


def basket_anomaly(
    line: OrderLine,
    *,
    basket_value: float,
    other_orders: Sequence[float],
    spread: tuple[float, float] | None = None,
) -> InsightDraft | None:
    """A basket worth far more than the household's usual (high side only).

    Lines arrive one by one, so a basket's value grows while it is open: the
    rule fires once, when the running value first crosses the cut-off. A
    basket far *below* usual cannot be told from one still being filled.
    """
    if len(other_orders) < MIN_ORDERS_FOR_BASKET or basket_value <= 0:
        return None
    customer_id, event_id, order_id = line.customer_id, line.event_id, line.order_id
    z, typical = modified_z_score(basket_value, other_orders, spread)
    if z < ANOMALY_Z:
        return None
    ratio = basket_value / typical
    if z >= CRITICAL_Z and ratio >= CRITICAL_RATIO:
        priority = "critical"
    elif z >= HIGH_Z:
        priority = "high"
    else:
        priority = "medium"
    return InsightDraft(
        key=f"basket:{customer_id}:{order_id}",
        customer_id=customer_id,
        event_id=event_id,
        insight_type="behavior_anomaly",
        rule="basket_value",
        priority=priority,
        action_required=priority in ("high", "critical"),
        text=f"Basket {order_id} is worth {basket_value:.2f}, {ratio:.1f} times "
        f"this household's usual {typical:.2f} (robust z-score {z:.1f})",
        data={
            "eventId": event_id,
            "rule": "basket_value",
            "orderId": order_id,
            "basketValue": round(basket_value, 2),
            "typicalBasketValue": round(typical, 2),
            "ratio": round(ratio, 2),
            "robustZ": round(z, 2),
            "threshold": ANOMALY_Z,
            "ordersCompared": len(other_orders),
        },
        event_time=line.at,
    )


def unusual_hour(
    line: OrderLine, *, hour: int, hour_counts: Sequence[int]
) -> InsightDraft | None:
    """A new order at a time of day the household never shops (within 1 h)."""
    customer_id, event_id, order_id = line.customer_id, line.event_id, line.order_id
    orders = int(sum(hour_counts))
    if orders < MIN_ORDERS_FOR_HABITS:
        return None
    near = sum(hour_counts[(hour + d) % 24] for d in (-1, 0, 1))
    if near > 0:
        return None
    busiest = sorted(range(24), key=lambda h: (-hour_counts[h], h))
    usual = [h for h in busiest if hour_counts[h] > 0][:3]
    return InsightDraft(
        key=f"hour:{customer_id}:{order_id}",
        customer_id=customer_id,
        event_id=event_id,
        insight_type="behavior_anomaly",
        rule="unusual_hour",
        priority="low",
        action_required=False,
        text=f"Order at {hour:02d}:00, a time of day this household has not shopped "
        f"at in {orders} orders (usually around {usual[0]:02d}:00)",
        data={
            "eventId": event_id,
            "rule": "unusual_hour",
            "orderId": order_id,
            "hour": hour,
            "ordersBefore": orders,
            "ordersWithinAnHour": 0,
            "usualHours": usual,
        },
        event_time=line.at,
    )


def new_department(
    line: OrderLine,
    *,
    department: str | None,
    product_id: str,
    department_counts: dict[str, int],
    orders_before: int,
) -> InsightDraft | None:
    """A first purchase ever from a whole department, after many orders."""
    customer_id, event_id, order_id = line.customer_id, line.event_id, line.order_id
    if department is None or orders_before < MIN_ORDERS_FOR_HABITS:
        return None
    if department_counts.get(department, 0) > 0:
        return None
    return InsightDraft(
        key=f"department:{customer_id}:{order_id}:{department}"[:300],
        customer_id=customer_id,
        event_id=event_id,
        insight_type="behavior_anomaly",
        rule="new_department",
        priority="low",
        action_required=False,
        text=f"First purchase from the {department} department after "
        f"{orders_before} orders",
        data={
            "eventId": event_id,
            "rule": "new_department",
            "orderId": order_id,
            "department": department,
            "productId": product_id,
            "ordersBefore": orders_before,
        },
        event_time=line.at,
    )


def _value_rank(segment_id: str) -> int:
    return get_segment(segment_id).value_rank


def migration_priority(from_id: str, to_id: str, impact: float) -> tuple[str, bool]:
    """Priority and ``actionRequired`` of a segment change (see the guide)."""
    downgrade = _value_rank(to_id) > _value_rank(from_id)
    if downgrade:
        if from_id in VALUABLE and impact <= -0.5:
            return "critical", True
        return ("high" if impact <= -0.25 else "medium"), True
    if from_id in LAPSED:
        return "high", True  # a win-back: follow it up while it is fresh
    if to_id == "champions":
        return "medium", True
    return "low", False


def segment_migration(
    *,
    customer_id: str,
    event_id: str,
    before: Placement,
    after: Placement,
    at: datetime,
    new_customer_days: int,
) -> InsightDraft | None:
    """The purchase moved the household to another RFM segment."""
    if before.segment_id == after.segment_id:
        return None
    reason, impact = describe_migration(
        before.segment_id,
        after.segment_id,
        before.features,
        after.features,
        new_customer_days=new_customer_days,
    )
    priority, action = migration_priority(before.segment_id, after.segment_id, impact)
    return migration_draft(
        customer_id=customer_id,
        event_id=event_id,
        from_id=before.segment_id,
        to_id=after.segment_id,
        text=reason,
        impact=impact,
        priority=priority,
        action=action,
        at=at,
        extra={
            "before": _features(before),
            "after": _features(after),
            "source": "purchase",
        },
    )


def _features(placement: Placement) -> dict[str, Any]:
    f = placement.features
    return {
        "r": f.r,
        "f": f.f,
        "m": f.m,
        "daysSinceLastOrder": f.days_since_last_order,
        "orderCount": f.order_count,
        "totalSpend": f.total_spend,
        "confidence": round(placement.confidence, 4),
    }


def migration_draft(
    *,
    customer_id: str,
    event_id: str,
    from_id: str,
    to_id: str,
    text: str,
    impact: float,
    priority: str,
    action: bool,
    at: datetime,
    extra: dict[str, Any],
) -> InsightDraft:
    return InsightDraft(
        key=f"segment:{event_id}",
        customer_id=customer_id,
        event_id=event_id,
        insight_type="segment_migration",
        rule="segment_changed",
        priority=priority,
        action_required=action,
        text=text,
        data={
            "eventId": event_id,
            "rule": "segment_changed",
            "fromSegment": from_id,
            "toSegment": to_id,
            "fromSegmentName": get_segment(from_id).name,
            "toSegmentName": get_segment(to_id).name,
            "impactScore": round(impact, 4),
            **extra,
        },
        event_time=at,
    )


def reported_migration_impact(from_id: str, to_id: str) -> float:
    """Impact of a reported segment change without RFM features: the value
    difference ``(8 - rank) / 7`` of the two segments, in [-1, 1]."""
    return (_value_rank(from_id) - _value_rank(to_id)) / 7


def rhythm_priority(days_off: float, interval_days: float) -> str:
    return "medium" if abs(days_off) >= interval_days / 2 else "low"


def due_insight(
    *,
    customer_id: str,
    product_id: str,
    product_name: str,
    predicted: date,
    today: date,
    interval_days: float,
    confidence: float,
    overdue: bool,
    at: datetime,
) -> InsightDraft:
    """A product reached (or passed) its predicted next purchase date."""
    late_days = (today - predicted).days
    stage = "overdue" if overdue else "due"
    if overdue:
        text = (
            f"{product_name} is now overdue: expected around {predicted.isoformat()}, "
            f"{late_days} days ago (bought about every {interval_days:.0f} days)"
        )
    else:
        text = (
            f"{product_name} is now due: expected around {predicted.isoformat()} "
            f"(bought about every {interval_days:.0f} days)"
        )
    return InsightDraft(
        key=f"{stage}:{customer_id}:{product_id}:{predicted.isoformat()}"[:300],
        customer_id=customer_id,
        event_id=None,
        insight_type="consumption_prediction",
        rule=stage,
        priority="high" if overdue else "medium",
        action_required=True,
        text=text,
        data={
            "rule": stage,
            "productId": product_id,
            "productName": product_name,
            "predictedDate": predicted.isoformat(),
            "daysLate": late_days,
            "intervalDays": round(interval_days, 1),
            "confidence": round(confidence, 4),
        },
        event_time=at,
    )
