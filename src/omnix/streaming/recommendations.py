"""``recommendation_update``: a first purchase brings in its basket partners.

When a household buys a product for the first time, the products most often
bought *with* it across the population (association lift, from the
recommender fitted by the analytics service: :mod:`omnix.engine.cooccurrence`)
that the household has never bought become its new suggestions. The partner
table comes from the population fit, started in the background when the
consumer starts; until it exists in this process the rule stays silent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.context import AppContext
from omnix.streaming.outlook import PurchaseFact, active_products, bought_pairs
from omnix.streaming.rules import InsightDraft

log = structlog.get_logger()

# Partners bought together at least twice as often as chance.
MIN_LIFT = 2.0
CANDIDATES = 10
SUGGESTIONS = 3


@dataclass(frozen=True)
class Partner:
    product_id: str
    lift: float
    confidence: float


class PartnerIndex:
    """Each product's partners by lift, strongest first."""

    def __init__(self, neighbours: pl.DataFrame) -> None:
        strong = neighbours.filter(pl.col("lift") >= MIN_LIFT).sort(
            ["anchor_id", "lift"], descending=[False, True]
        )
        self._partners: dict[str, list[Partner]] = {}
        for anchor, product, lift, confidence in strong.select(
            "anchor_id", "product_id", "lift", "confidence"
        ).iter_rows():
            partners = self._partners.setdefault(str(anchor), [])
            if len(partners) < CANDIDATES:
                partners.append(Partner(str(product), float(lift), float(confidence)))

    def partners(self, product_id: str) -> list[Partner]:
        return self._partners.get(product_id, [])

    def __len__(self) -> int:
        return len(self._partners)


class PartnerSource:
    """The partner table of this process, fitted in the background."""

    def __init__(self, context: AppContext) -> None:
        self._context = context
        self.index: PartnerIndex | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Fit (or reuse) the population models without blocking the caller."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.load())

    async def load(self) -> None:
        # Imported here: the analytics service pulls in every analyser's SDK,
        # seconds of start-up a worker without suggestions need not pay.
        from omnix.analytics.service import population_cache

        try:
            fitted = await population_cache(self._context).get(
                self._context.clock.now()
            )
        except Exception:  # the rule waits for the next attempt
            log.exception("streaming.partners_unavailable")
            return
        neighbours = fitted.models.recommender.neighbours
        self.index = await asyncio.to_thread(PartnerIndex, neighbours)
        log.info("streaming.partners_loaded", anchors=len(self.index))


async def recommendation_updates(
    session: AsyncSession,
    firsts: Sequence[PurchaseFact],
    index: PartnerIndex | None,
) -> list[InsightDraft]:
    """Suggestions following first purchases (never bought, active products)."""
    if index is None or not firsts:
        return []
    wanted = {f.event_id: index.partners(f.product_id) for f in firsts}
    candidate_ids = {p.product_id for partners in wanted.values() for p in partners}
    if not candidate_ids:
        return []
    names = await active_products(session, list(candidate_ids))
    bought = await bought_pairs(
        session, [f.customer_id for f in firsts], list(candidate_ids)
    )
    drafts = []
    for fact in firsts:
        chosen = [
            p
            for p in wanted[fact.event_id]
            if p.product_id in names and (fact.customer_id, p.product_id) not in bought
        ][:SUGGESTIONS]
        if chosen:
            drafts.append(_draft(fact, chosen, names))
    return drafts


def _draft(
    fact: PurchaseFact, chosen: list[Partner], names: dict[str, str]
) -> InsightDraft:
    listed = ", ".join(f"{names[p.product_id]} (lift {p.lift:.1f})" for p in chosen)
    return InsightDraft(
        key=f"recommend:{fact.customer_id}:{fact.product_id}",
        customer_id=fact.customer_id,
        event_id=fact.event_id,
        insight_type="recommendation_update",
        rule="basket_partners",
        priority="low",
        action_required=False,
        text=f"First purchase of {fact.product_name}; households who buy it also "
        f"buy {listed}",
        data={
            "eventId": fact.event_id,
            "rule": "basket_partners",
            "triggerProductId": fact.product_id,
            "recommendations": [
                {
                    "productId": p.product_id,
                    "productName": names[p.product_id],
                    "lift": round(p.lift, 2),
                    "confidence": round(p.confidence, 4),
                }
                for p in chosen
            ],
        },
        event_time=fact.at,
    )
