"""The eight customer value segments: criteria, characteristics and strategy.

The catalogue is data. :mod:`omnix.engine.rfm` derives its 125-cell table
from the machine-readable criteria below, so what a store manager reads here
is what the code does.

Criteria are boxes of RFM scores (1-5, 5 best). A cell belongs to the first
segment in ``priority`` order whose boxes contain it. New Customers are the
exception: they are chosen by tenure (first purchase within the last
``new_customer_days`` days) before any box is looked at, because a household
that started shopping three weeks ago has had no time to build frequency and
a low F says nothing about it yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral
from types import MappingProxyType
from typing import Literal

Level = Literal["very_high", "high", "medium", "low", "very_low"]


@dataclass(frozen=True)
class ScoreRange:
    """An inclusive range of scores, e.g. 4-5."""

    low: int
    high: int

    def __post_init__(self) -> None:
        if not 1 <= self.low <= self.high <= 5:
            raise ValueError(
                f"score range must lie in 1..5, got {self.low}-{self.high}"
            )

    def __contains__(self, score: object) -> bool:
        return isinstance(score, Integral) and self.low <= int(score) <= self.high

    def __str__(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"


ANY = ScoreRange(1, 5)


@dataclass(frozen=True)
class RfmBox:
    """Cells whose recency, frequency and monetary scores all lie in range."""

    recency: ScoreRange
    frequency: ScoreRange
    monetary: ScoreRange

    def contains(self, r: int, f: int, m: int) -> bool:
        return r in self.recency and f in self.frequency and m in self.monetary

    def __str__(self) -> str:
        return f"R {self.recency}, F {self.frequency}, M {self.monetary}"


@dataclass(frozen=True)
class SegmentCriteria:
    """How a customer qualifies, for people (``summary``) and for code.

    ``by_tenure`` segments ignore ``rfm_boxes`` and take customers whose first
    purchase (or, without purchases, whose account) is younger than the
    configured new-customer window.
    """

    summary: str
    priority: int
    rfm_boxes: tuple[RfmBox, ...] = ()
    by_tenure: bool = False


@dataclass(frozen=True)
class SegmentCharacteristics:
    """What customers in the segment are like."""

    value_level: Level
    engagement: Level
    churn_risk: Level
    behaviour: tuple[str, ...]


@dataclass(frozen=True)
class SegmentStrategy:
    """What the store team should do with the segment."""

    goal: str
    channels: tuple[str, ...]
    offers: tuple[str, ...]
    messaging: str
    contact_frequency: str
    actions: tuple[str, ...]
    success_metrics: tuple[str, ...]


@dataclass(frozen=True)
class Segment:
    """One catalogue entry. ``value_rank`` 1 is the most valuable segment."""

    segment_id: str
    name: str
    description: str
    criteria: SegmentCriteria
    characteristics: SegmentCharacteristics
    strategy: SegmentStrategy
    value_rank: int


def _box(r: tuple[int, int], f: tuple[int, int], m: tuple[int, int]) -> RfmBox:
    return RfmBox(ScoreRange(*r), ScoreRange(*f), ScoreRange(*m))


CHAMPIONS = Segment(
    segment_id="champions",
    name="Champions",
    description="Best customers: shopped very recently, shop often and spend the most.",
    criteria=SegmentCriteria(
        summary="R 4-5, F 4-5 and M 4-5",
        priority=2,
        rfm_boxes=(_box((4, 5), (4, 5), (4, 5)),),
    ),
    characteristics=SegmentCharacteristics(
        value_level="very_high",
        engagement="very_high",
        churn_risk="very_low",
        behaviour=(
            "weekly or more frequent full-basket shops",
            "buy across many departments, including fresh and premium lines",
            "respond to news more than to discounts",
        ),
    ),
    strategy=SegmentStrategy(
        goal="Keep them and turn them into advocates without giving margin away.",
        channels=("app notifications", "email", "in-store recognition"),
        offers=(
            "early access to new and seasonal ranges",
            "loyalty-tier perks such as free delivery or priority click-and-collect",
            "tastings and samples of premium own-brand products",
        ),
        messaging="Thank them and treat them as insiders; avoid blanket discounts "
        "they would not need.",
        contact_frequency="weekly, timed to their usual shopping day",
        actions=(
            "invite them to product tastings and new-range previews",
            "ask for product reviews and referrals",
            "watch their basket: a drop in visits is the first sign of decay",
        ),
        success_metrics=("retention rate", "average basket value", "referrals"),
    ),
    value_rank=1,
)

LOYAL_CUSTOMERS = Segment(
    segment_id="loyal_customers",
    name="Loyal Customers",
    description="Regular shoppers with a settled habit who come back often.",
    criteria=SegmentCriteria(
        summary="R 3-5 and F 3-5 (any M), unless Champions",
        priority=3,
        rfm_boxes=(_box((3, 5), (3, 5), (1, 5)),),
    ),
    characteristics=SegmentCharacteristics(
        value_level="high",
        engagement="high",
        churn_risk="low",
        behaviour=(
            "steady shopping rhythm with predictable replenishment",
            "stick to familiar brands and categories",
            "basket value has room to grow",
        ),
    ),
    strategy=SegmentStrategy(
        goal="Grow the basket: bring categories they buy elsewhere into our store.",
        channels=("email", "app notifications", "personalised receipts coupons"),
        offers=(
            "personalised multi-buys in categories they do not yet buy from us",
            "bonus points for a first purchase in a new department",
            "replenishment reminders for their regular items",
        ),
        messaging="We know what you like; here is what goes with it.",
        contact_frequency="weekly",
        actions=(
            "promote complementary categories next to their staples",
            "enrol them in subscriptions for regular items",
        ),
        success_metrics=(
            "departments per basket",
            "average basket value",
            "share moving to Champions",
        ),
    ),
    value_rank=2,
)

POTENTIAL_LOYALISTS = Segment(
    segment_id="potential_loyalists",
    name="Potential Loyalists",
    description="Recent shoppers who do not yet shop often: a habit in the making.",
    criteria=SegmentCriteria(
        summary="R 3-5 and F 1-2 (any M), past the new-customer window",
        priority=4,
        rfm_boxes=(_box((3, 5), (1, 2), (1, 5)),),
    ),
    characteristics=SegmentCharacteristics(
        value_level="medium",
        engagement="medium",
        churn_risk="medium",
        behaviour=(
            "occasional or top-up shops",
            "may do their main shop at a competitor",
        ),
    ),
    strategy=SegmentStrategy(
        goal="Build a habit: more visits per month, then the main weekly shop.",
        channels=("email", "app notifications"),
        offers=(
            "visit-streak rewards (for example three weeks in a row)",
            "a voucher on a full-basket threshold",
            "loyalty-programme sign-up with a welcome bonus",
        ),
        messaging="Make the weekly shop easy here: lists, reminders, delivery slots.",
        contact_frequency="weekly, timed to their predicted next purchase",
        actions=(
            "send reminders when their bought items are due for replenishment",
            "show the range in departments they have not tried",
        ),
        success_metrics=("orders per month", "repeat rate within 30 days"),
    ),
    value_rank=3,
)

NEW_CUSTOMERS = Segment(
    segment_id="new_customers",
    name="New Customers",
    description="Recently acquired: first purchase within the new-customer window.",
    criteria=SegmentCriteria(
        summary="first purchase within the last new_customer_days days (default 30); "
        "customers with no purchase yet whose account is that young",
        priority=1,
        by_tenure=True,
    ),
    characteristics=SegmentCharacteristics(
        value_level="medium",
        engagement="medium",
        churn_risk="high",
        behaviour=(
            "still exploring the range and the service",
            "the second order decides whether they stay",
        ),
    ),
    strategy=SegmentStrategy(
        goal="Win the second and third order within the first month.",
        channels=("welcome email series", "app onboarding", "SMS for order updates"),
        offers=(
            "second-order voucher valid for 14 days",
            "free delivery on the next order",
            "samples of own-brand essentials",
        ),
        messaging="Welcome; shop with us fast with lists, favourites and slots.",
        contact_frequency="welcome series on day 1, day 7 and day 21, then weekly",
        actions=(
            "recommend the popular items of their future segment",
            "follow up on any delivery or availability problem at once",
        ),
        success_metrics=("second-order rate within 30 days", "days to second order"),
    ),
    value_rank=4,
)

AT_RISK = Segment(
    segment_id="at_risk",
    name="At Risk",
    description="Used to shop often or spend well, but have not been back for a while.",
    criteria=SegmentCriteria(
        summary="R 1-2 with F 3-5, or R 1-2 with M 4-5, unless Can't Lose Them",
        priority=6,
        rfm_boxes=(_box((1, 2), (3, 5), (1, 5)), _box((1, 2), (1, 2), (4, 5))),
    ),
    characteristics=SegmentCharacteristics(
        value_level="medium",
        engagement="low",
        churn_risk="high",
        behaviour=(
            "gaps between visits are longer than their own past rhythm",
            "may have moved part of their shop to a competitor",
        ),
    ),
    strategy=SegmentStrategy(
        goal="Bring them back before the habit is lost.",
        channels=("email", "SMS", "direct mail"),
        offers=(
            "personalised discounts on the items they used to buy most",
            "a time-limited 'welcome back' voucher",
        ),
        messaging="Remind them of their favourites and what is new since their visit.",
        contact_frequency="two contacts within two weeks, then monthly",
        actions=(
            "look for out-of-stocks or late deliveries in their last orders",
            "put their usual products in the message, with prices",
        ),
        success_metrics=("reactivation rate", "days since last order"),
    ),
    value_rank=6,
)

CANT_LOSE_THEM = Segment(
    segment_id="cant_lose_them",
    name="Can't Lose Them",
    description="Former top customers, high frequency and spend, now inactive.",
    criteria=SegmentCriteria(
        summary="R 1-2, F 4-5 and M 4-5",
        priority=5,
        rfm_boxes=(_box((1, 2), (4, 5), (4, 5)),),
    ),
    characteristics=SegmentCharacteristics(
        value_level="high",
        engagement="low",
        churn_risk="very_high",
        behaviour=(
            "were full-basket regulars",
            "a sudden stop often follows a bad experience or a move",
        ),
    ),
    strategy=SegmentStrategy(
        goal="Win them back personally; their lost spend is the largest.",
        channels=(
            "phone call from the store or service team",
            "personal email",
            "letter",
        ),
        offers=(
            "a strong, targeted incentive on their highest-spend categories",
            "service recovery: free delivery for a month, a named contact",
        ),
        messaging="Personal and direct: ask what went wrong and what would help.",
        contact_frequency="within a week of entering, follow-up after two weeks",
        actions=(
            "review their last orders for complaints, substitutions or missing items",
            "escalate to the store manager",
        ),
        success_metrics=("reactivation rate", "recovered monthly spend"),
    ),
    value_rank=5,
)

HIBERNATING = Segment(
    segment_id="hibernating",
    name="Hibernating",
    description="Low engagement: infrequent, modest spend, last visit some time ago.",
    criteria=SegmentCriteria(
        summary="R 2, F 1-2 and M 1-3",
        priority=7,
        rfm_boxes=(_box((2, 2), (1, 2), (1, 3)),),
    ),
    characteristics=SegmentCharacteristics(
        value_level="low",
        engagement="low",
        churn_risk="high",
        behaviour=("occasional small baskets", "respond mainly to price"),
    ),
    strategy=SegmentStrategy(
        goal="Reactivate cheaply; do not spend more than they are likely to return.",
        channels=("email",),
        offers=("seasonal promotions", "price-cut highlights on everyday essentials"),
        messaging="Value and relevance: what is cheaper or new this month.",
        contact_frequency="monthly",
        actions=("include them in broad campaigns only", "track unsubscribes"),
        success_metrics=("reactivation rate", "cost per reactivated customer"),
    ),
    value_rank=7,
)

LOST = Segment(
    segment_id="lost",
    name="Lost",
    description="No recent engagement: the longest gone, few orders, low spend.",
    criteria=SegmentCriteria(
        summary="R 1, F 1-2 and M 1-3; also customers without any purchase whose "
        "account is older than the new-customer window",
        priority=8,
        rfm_boxes=(_box((1, 1), (1, 2), (1, 3)),),
    ),
    characteristics=SegmentCharacteristics(
        value_level="very_low",
        engagement="very_low",
        churn_risk="very_high",
        behaviour=("have stopped shopping with us", "rarely open messages"),
    ),
    strategy=SegmentStrategy(
        goal="One last win-back attempt, then stop spending on them.",
        channels=("email",),
        offers=("a single strong comeback voucher",),
        messaging="A lot has changed: new ranges, prices and services.",
        contact_frequency="one campaign, then at most quarterly",
        actions=("suppress from paid channels after no response",),
        success_metrics=("reactivation rate", "cost per reactivated customer"),
    ),
    value_rank=8,
)

#: The catalogue in the order of the integration guide.
SEGMENTS: tuple[Segment, ...] = (
    CHAMPIONS,
    LOYAL_CUSTOMERS,
    POTENTIAL_LOYALISTS,
    NEW_CUSTOMERS,
    AT_RISK,
    CANT_LOSE_THEM,
    HIBERNATING,
    LOST,
)

SEGMENTS_BY_ID: Mapping[str, Segment] = MappingProxyType(
    {segment.segment_id: segment for segment in SEGMENTS}
)

#: Segments in the order their criteria are tried.
BY_PRIORITY: tuple[Segment, ...] = tuple(
    sorted(SEGMENTS, key=lambda segment: segment.criteria.priority)
)


def get_segment(segment_id: str) -> Segment:
    """Look a segment up by id; unknown ids raise ``ValueError``."""
    try:
        return SEGMENTS_BY_ID[segment_id]
    except KeyError:
        known = ", ".join(SEGMENTS_BY_ID)
        raise ValueError(f"unknown segment_id {segment_id!r}; known: {known}") from None
