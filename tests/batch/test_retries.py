"""Failures while a job runs: retried with back-off until they pass, failed
for good after the last attempt or at once when permanent.

The failures are injected by wrapping the analysis the job runner calls: no
real fault of the engine or the database can be produced on demand.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from omnix.analytics.models import StoredAnalysis
from omnix.analytics.service import run_analysis
from omnix.batch import runner
from omnix.batch.models import BatchJob
from omnix.context import AppContext
from omnix.costs.models import AnalysisUsage
from omnix.errors import NotFound
from tests.batch.conftest import wait_until
from tests.factories import staff_headers

URL = "/v1/customers/batch-analysis"


class FlakyAnalysis:
    """Fails the first ``failures`` calls for one household, then analyses."""

    def __init__(self, customer_id: str, failures: int, error: Exception) -> None:
        self.customer_id = customer_id
        self.failures = failures
        self.error = error
        self.calls: Counter[str] = Counter()

    async def __call__(
        self, context: AppContext, session: Any, customer_id: str, **options: Any
    ) -> Any:
        self.calls[customer_id] += 1
        if customer_id == self.customer_id and self.calls[customer_id] <= self.failures:
            raise self.error
        return await run_analysis(context, session, customer_id, **options)


async def _run_batch(
    client: httpx.AsyncClient, context: AppContext, customers: list[str]
) -> dict[str, Any]:
    headers = await staff_headers(client, context)
    response = await client.post(URL, json={"customerIds": customers}, headers=headers)
    assert response.status_code == 202, response.text
    batch_id = response.json()["batchId"]
    status: dict[str, Any] = {}

    async def finished() -> bool:
        status.update((await client.get(f"{URL}/{batch_id}", headers=headers)).json())
        return status["status"] not in ("queued", "running")

    await wait_until(finished)
    return status


async def _stored(context: AppContext, batch_id: str) -> tuple[int, int]:
    async with context.db.session() as session:
        analyses = await session.scalar(
            select(func.count()).where(StoredAnalysis.batch_id == batch_id)
        )
        ledger = await session.scalar(
            select(func.count()).where(AnalysisUsage.batch_id == batch_id)
        )
    return int(analyses or 0), int(ledger or 0)


async def test_a_transient_failure_is_retried_and_counted_once(
    client: httpx.AsyncClient,
    context: AppContext,
    store: list[str],
    worker: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flaky = FlakyAnalysis("B1", failures=2, error=TimeoutError("database timeout"))
    monkeypatch.setattr(runner, "run_analysis", flaky)

    status = await _run_batch(client, context, store[:3])

    assert status["status"] == "completed"
    assert status["counts"]["succeeded"] == 3
    assert status["retried"] == 2
    assert flaky.calls["B1"] == 3
    [error] = status["errors"]
    assert error["customerId"] == "B1"
    assert error["state"] == "succeeded"
    assert error["attempts"] == 3
    assert "TimeoutError: database timeout" in error["error"]
    assert await _stored(context, status["batchId"]) == (3, 3)


async def test_a_job_failing_every_attempt_fails_and_the_rest_complete(
    client: httpx.AsyncClient,
    context: AppContext,
    store: list[str],
    worker: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flaky = FlakyAnalysis("B0", failures=99, error=RuntimeError("engine broke"))
    monkeypatch.setattr(runner, "run_analysis", flaky)

    status = await _run_batch(client, context, store[:2])

    assert status["status"] == "completed_with_errors"
    assert status["counts"]["failed"] == 1
    assert status["counts"]["succeeded"] == 1
    assert flaky.calls["B0"] == 3
    [error] = status["errors"]
    assert (error["customerId"], error["state"], error["attempts"]) == (
        "B0",
        "failed",
        3,
    )
    assert [r["customerId"] for r in status["results"]] == ["B1"]
    assert await _stored(context, status["batchId"]) == (1, 1)


async def test_a_permanent_failure_is_not_retried(
    client: httpx.AsyncClient,
    context: AppContext,
    store: list[str],
    worker: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flaky = FlakyAnalysis("B0", failures=99, error=NotFound("Customer B0 not found"))
    monkeypatch.setattr(runner, "run_analysis", flaky)

    status = await _run_batch(client, context, store[:1])

    assert status["counts"]["failed"] == 1
    assert flaky.calls["B0"] == 1
    assert status["retried"] == 0
    async with context.db.session() as session:
        job = await session.scalar(select(BatchJob))
    assert job is not None
    assert job.error == "NotFound: Customer B0 not found"
