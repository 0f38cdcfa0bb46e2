"""The analytics tests' small store, and ledger rows written directly."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from omnix.clock import Clock
from omnix.context import AppContext
from omnix.costs.models import AnalysisUsage
from omnix.segments.service import recompute_all
from tests.analytics.conftest import store  # noqa: F401


async def add_usage(
    context: AppContext,
    customer_id: str,
    analyser_id: str,
    *,
    ago: timedelta,
    analysis_type: str = "consumption_prediction",
    tokens: tuple[int, int, int] = (0, 0, 0),
    cost: float | None = 0.0,
    success: bool = True,
    fallback_for: str | None = None,
    latency_ms: float = 100.0,
) -> datetime:
    """One ledger row made ``ago`` before the wall clock; returns its time."""
    at = Clock.wall() - ago
    async with context.db.transaction() as session:
        session.add(
            AnalysisUsage(
                customer_id=customer_id,
                analyser_id=analyser_id,
                analysis_type=analysis_type,
                input_tokens=tokens[0],
                output_tokens=tokens[1],
                cached_tokens=tokens[2],
                cost_usd=cost,
                unpriced=cost is None,
                price_version=None if cost is None else "test",
                latency_ms=latency_ms,
                success=success,
                error_kind=None if success else "timeout",
                fallback_for=fallback_for,
                created_at=at,
            )
        )
    return at


@pytest.fixture
async def segmented(context, store):  # noqa: F811 (the imported fixture)
    """The store with every household placed in a segment."""
    async with context.db.transaction() as session:
        await recompute_all(session, context.clock.now())
    return store
