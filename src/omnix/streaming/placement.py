"""RFM segments of households from their stream state, ranked in memory.

Ranking follows :func:`omnix.segments.service.place_customers`: a household
is scored against the customers of the latest full recomputation (greatest
business time, then run id; its own
stored row left out), or against the whole population computed on the spot
before any recomputation exists. The reference's values are kept sorted in
memory, so placing a household costs three binary searches instead of three
counting queries; the scores are identical (tests compare the two).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.engine.rfm import (
    LEVELS,
    RfmFeatures,
    RfmPositions,
    assign_segments,
)
from omnix.segments.features import day_number, load_population
from omnix.segments.models import RUN_RECOMPUTE, SegmentAssignment, SegmentRun
from omnix.streaming.state import CustomerState

# Without a stored recomputation the population is computed on the spot and
# kept this long; a stored one is looked up again this often.
ON_THE_SPOT_TTL_S = 600.0
RECHECK_S = 60.0


@dataclass(frozen=True)
class Snapshot:
    """A household's RFM features at one instant."""

    customer_id: str
    has_purchases: bool
    recency_days: int
    order_count: int
    total_spend: float
    tenure_days: int


def snapshot(state: CustomerState, as_of: datetime, zone: ZoneInfo) -> Snapshot:
    """The features :mod:`omnix.segments.features` would compute at ``as_of``."""
    today = day_number(as_of, zone)
    started = state.first_purchase_at or state.account_opened_at
    last = state.last_purchase_at
    return Snapshot(
        customer_id=state.customer_id,
        has_purchases=state.order_count > 0 and last is not None,
        recency_days=max(today - day_number(last, zone), 0) if last else -1,
        order_count=state.order_count,
        total_spend=round(state.total_spend, 2),
        tenure_days=max(today - day_number(started, zone), 0),
    )


@dataclass(frozen=True)
class Placement:
    segment_id: str
    confidence: float
    features: RfmFeatures


@dataclass(frozen=True)
class Reference:
    """The ranked population: sorted values and each customer's own row."""

    run_id: int | None
    recency: NDArray[np.int64]
    orders: NDArray[np.int64]
    spend: NDArray[np.float64]
    own: dict[str, tuple[int, int, float]]
    loaded_at: float

    @classmethod
    def of(
        cls,
        run_id: int | None,
        rows: Sequence[tuple[str, int, int, float]],
    ) -> Reference:
        return cls(
            run_id=run_id,
            recency=np.sort(np.array([r[1] for r in rows], dtype=np.int64)),
            orders=np.sort(np.array([r[2] for r in rows], dtype=np.int64)),
            spend=np.sort(np.array([r[3] for r in rows], dtype=np.float64)),
            own={r[0]: (r[1], r[2], r[3]) for r in rows},
            loaded_at=time.monotonic(),
        )

    def place(
        self, snapshots: Sequence[Snapshot], *, new_customer_days: int
    ) -> list[Placement]:
        """Segments of the snapshots, scored as ``_rank_against`` does."""
        size = len(snapshots)
        scores = np.ones((3, size), dtype=np.int64)
        percentiles = np.zeros((3, size), dtype=np.float64)
        n_ref = len(self.recency)
        for i, item in enumerate(snapshots):
            if not item.has_purchases:
                continue
            worse = [
                n_ref - int(np.searchsorted(self.recency, item.recency_days, "right")),
                int(np.searchsorted(self.orders, item.order_count, "left")),
                int(np.searchsorted(self.spend, item.total_spend, "left")),
            ]
            own = self.own.get(item.customer_id)
            others = n_ref
            if own is not None:
                others -= 1
                worse[0] -= own[0] > item.recency_days
                worse[1] -= own[1] < item.order_count
                worse[2] -= own[2] < item.total_spend
            n = others + 1
            for axis, count in enumerate(worse):
                scores[axis, i] = 1 + (LEVELS * count) // n
                percentiles[axis, i] = count / n
        positions = RfmPositions(*scores, *percentiles)
        assigned = assign_segments(
            positions,
            np.array([s.tenure_days for s in snapshots], dtype=np.int64),
            np.array([s.has_purchases for s in snapshots], dtype=bool),
            new_customer_days=new_customer_days,
        )
        return [
            Placement(
                segment_id=str(assigned.segment_ids[i]),
                confidence=float(assigned.confidence[i]),
                features=RfmFeatures(
                    days_since_last_order=(
                        float(item.recency_days) if item.has_purchases else None
                    ),
                    order_count=item.order_count,
                    total_spend=item.total_spend,
                    tenure_days=float(item.tenure_days),
                    r=int(scores[0, i]) if item.has_purchases else None,
                    f=int(scores[1, i]) if item.has_purchases else None,
                    m=int(scores[2, i]) if item.has_purchases else None,
                ),
            )
            for i, item in enumerate(snapshots)
        ]


class ReferenceCache:
    """The reference population of this process, reloaded when it changes."""

    def __init__(self) -> None:
        self._reference: Reference | None = None
        self._checked_at = 0.0

    async def get(
        self, session: AsyncSession, as_of: datetime, timezone: str
    ) -> Reference:
        cached = self._reference
        now = time.monotonic()
        if cached is not None and now - self._checked_at < RECHECK_S:
            return cached
        self._checked_at = now
        run = await session.scalar(
            select(SegmentRun)
            .where(SegmentRun.kind == RUN_RECOMPUTE)
            .order_by(SegmentRun.as_of.desc(), SegmentRun.id.desc())
            .limit(1)
        )
        if run is not None:
            if cached is None or cached.run_id != run.id:
                rows = await session.execute(
                    select(
                        SegmentAssignment.customer_id,
                        SegmentAssignment.recency_days,
                        SegmentAssignment.order_count,
                        SegmentAssignment.total_spend,
                    ).where(
                        SegmentAssignment.run_id == run.id,
                        SegmentAssignment.has_purchases.is_(True),
                    )
                )
                cached = Reference.of(
                    run.id, [(c, int(r or 0), int(o), float(s)) for c, r, o, s in rows]
                )
        elif (
            cached is None
            or cached.run_id is not None
            or (now - cached.loaded_at > ON_THE_SPOT_TTL_S)
        ):
            population = await load_population(session, as_of, timezone=timezone)
            keep = np.flatnonzero(population.has_purchases).tolist()
            cached = Reference.of(
                None,
                [
                    (
                        population.customer_ids[i],
                        int(population.recency_days[i]),
                        int(population.order_count[i]),
                        float(population.total_spend[i]),
                    )
                    for i in keep
                ],
            )
        self._reference = cached
        return cached

    def forget(self) -> None:
        """Reload on the next call (tests; after a recomputation)."""
        self._reference = None
        self._checked_at = 0.0
