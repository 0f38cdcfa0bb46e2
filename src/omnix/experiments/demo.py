"""The demo's finished experiment: the two local engines on Complete Journey.

The analyses run with the clock pinned to the evaluation split (2017-11-01,
see DESIGN.md "Held-out evaluation"), so each household is analysed on its
history before that instant; the purchases after it are the outcomes. With
the demo clock at 2018-01-01 the test reads as completed, every outcome
window has closed, and the results page shows real numbers.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import func, select

from omnix.analysers.registry import (
    FULL_ANALYSIS,
    INTERVAL_BASELINE_ID,
    LOCAL_ENGINE_ID,
)
from omnix.context import AppContext
from omnix.customers.models import PurchaseLine
from omnix.experiments.models import ABTest
from omnix.experiments.schemas import CreateABTestDto
from omnix.experiments.service import create_test

log = structlog.get_logger()

DEMO_CUTOFF = datetime(2017, 11, 1, tzinfo=UTC)
DEMO_TEST_NAME = "Demo: OMNIX engine v1 against the interval baseline"
# A fixed id, so every demo database puts each household in the same arm.
DEMO_TEST_ID = "demo-engine-v1-vs-interval-baseline"
DEMO_HOUSEHOLDS = 300
# Households that shopped in the 8 weeks before the cut-off: the ones a
# store would analyse. Chosen on the past only, never on what came after.
RECENT = timedelta(weeks=8)
OUTCOME_WINDOW_DAYS = 28
CHUNK = 50


async def _sample(context: AppContext, households: int) -> list[str]:
    """An evenly spaced sample of recently active households, by id."""
    async with context.db.session() as session:
        rows = await session.scalars(
            select(PurchaseLine.customer_id)
            .where(
                PurchaseLine.purchased_at < DEMO_CUTOFF,
                PurchaseLine.purchased_at >= DEMO_CUTOFF - RECENT,
            )
            .group_by(PurchaseLine.customer_id)
            .having(func.count() > 0)
            .order_by(PurchaseLine.customer_id)
        )
        active = list(rows)
    step = max(1, len(active) // households) if households else 1
    return active[::step][:households]


async def run_demo_experiment(
    context: AppContext, households: int = DEMO_HOUSEHOLDS
) -> str:
    """Run (once) the finished demo experiment and return its test id.

    A second call finds the stored test and returns its id without rerunning.
    """
    from omnix.analytics.service import population_cache, run_analysis

    async with context.db.session() as session:
        existing = await session.scalar(
            select(ABTest.id).where(ABTest.id == DEMO_TEST_ID)
        )
    if existing is not None:
        return existing

    started = time.perf_counter()
    # A context whose business "now" is the cut-off; the population models
    # fitted there get a cache of their own, dropped with this context.
    extras = {k: v for k, v in context.extras.items() if k != "population"}
    pinned = dataclasses.replace(
        context, clock=context.clock.pin(DEMO_CUTOFF), extras=extras
    )
    async with pinned.db.transaction() as session:
        test = await create_test(
            pinned,
            session,
            CreateABTestDto(
                test_name=DEMO_TEST_NAME,
                description="Every sampled household analysed at 2017-11-01 by its "
                "arm's engine; outcomes are its purchases in the next "
                f"{OUTCOME_WINDOW_DAYS} days.",
                model_a=LOCAL_ENGINE_ID,
                model_b=INTERVAL_BASELINE_ID,
                analysis_type=FULL_ANALYSIS,
                traffic_split=0.5,
                start_date=DEMO_CUTOFF,
                duration_days=7,
                outcome_window_days=OUTCOME_WINDOW_DAYS,
            ),
            created_by=None,
            test_id=DEMO_TEST_ID,
        )
        test_id = test.id

    sample = await _sample(context, households)
    # Fit before the first write transaction, which would otherwise hold the
    # write lock for the whole fit.
    await population_cache(pinned).get(DEMO_CUTOFF)
    for i in range(0, len(sample), CHUNK):
        async with pinned.db.transaction() as session:
            for household in sample[i : i + CHUNK]:
                await run_analysis(
                    pinned, session, household, analysis_type=FULL_ANALYSIS,
                    ledger=session,
                )  # fmt: skip
    log.info(
        "demo.experiment_ready",
        test_id=test_id,
        households=len(sample),
        seconds=round(time.perf_counter() - started, 1),
    )
    return test_id
