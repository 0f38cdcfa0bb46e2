"""The batch endpoints on the embedded (in-memory) queue: success, roles, bad
input, idempotency, cancelling, and paths no other route captures."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from omnix.analytics.models import StoredAnalysis
from omnix.batch.config import install_batch_settings
from omnix.batch.models import Batch, BatchJob
from omnix.context import AppContext
from omnix.costs.models import AnalysisUsage
from omnix.segments.tasks import recompute_now
from tests.batch.conftest import HOUSEHOLDS, count_jobs, fast_settings, wait_until
from tests.factories import customer_headers, staff_headers

URL = "/v1/customers/batch-analysis"


async def _finished(
    client: httpx.AsyncClient, headers: dict[str, str], batch_id: str
) -> dict[str, Any]:
    body: dict[str, Any] = {}

    async def done() -> bool:
        response = await client.get(f"{URL}/{batch_id}", headers=headers)
        assert response.status_code == 200, response.text
        body.update(response.json())
        return body["status"] not in ("queued", "running")

    await wait_until(done)
    return body


async def test_batch_runs_every_job_once_and_reports_it(
    client: httpx.AsyncClient, context: AppContext, store: list[str], worker: object
) -> None:
    headers = await staff_headers(client, context)
    chosen = store[:3]
    response = await client.post(
        URL,
        json={
            "customerIds": [*chosen, chosen[0]],
            "analysisTypes": ["full_analysis", "customer_profiling"],
            "priority": "high",
        },
        headers=headers,
    )
    assert response.status_code == 202, response.text
    submitted = response.json()
    assert submitted["jobCount"] == 6
    assert submitted["customerCount"] == 3
    assert submitted["estimatedCost"] == 0
    assert "Local engine" in submitted["costNote"]
    assert submitted["model"] == "local:omnix-v1"

    status = await _finished(client, headers, submitted["batchId"])

    assert status["status"] == "completed"
    assert status["counts"]["succeeded"] == 6
    assert status["progress"] == 1.0
    assert status["priority"] == "high"
    assert status["startedAt"] is not None
    assert status["finishedAt"] is not None
    assert status["throughputPerSecond"] > 0
    assert status["errors"] == []
    assert status["resultsTotal"] == 6
    results = {(r["customerId"], r["analysisType"]): r for r in status["results"]}
    assert set(results) == {
        (c, t) for c in chosen for t in ("full_analysis", "customer_profiling")
    }
    async with context.db.session() as session:
        stored = (
            await session.scalars(
                select(StoredAnalysis).where(
                    StoredAnalysis.batch_id == submitted["batchId"]
                )
            )
        ).all()
        ledger = await session.scalar(
            select(func.count()).where(AnalysisUsage.batch_id == submitted["batchId"])
        )
    assert sorted(a.id for a in stored) == sorted(
        r["analysisId"] for r in results.values()
    )
    assert ledger == 6

    # The results are in the household's analysis history like any analysis.
    one = results[(chosen[0], "full_analysis")]
    history = await client.get(one["historyUrl"], headers=headers)
    assert one["analysisId"] in {a["analysisId"] for a in history.json()}


async def test_queue_stats_after_a_batch(
    client: httpx.AsyncClient, context: AppContext, store: list[str], worker: object
) -> None:
    headers = await staff_headers(client, context)
    response = await client.post(URL, json={"allCustomers": True}, headers=headers)
    assert response.status_code == 202, response.text
    await _finished(client, headers, response.json()["batchId"])

    stats = (await client.get(f"{URL}/queue/stats", headers=headers)).json()

    assert stats["broker"] == "memory"
    assert stats["completed"] == len(HOUSEHOLDS)
    assert stats["pending"] == stats["running"] == stats["failed"] == 0
    assert stats["throughputPerSecond"] > 0
    assert stats["sampleSize"] == len(HOUSEHOLDS)
    assert 0 < stats["runTimeMs"]["p50"] <= stats["runTimeMs"]["p95"]
    assert stats["waitTimeMs"]["p50"] <= stats["waitTimeMs"]["p95"]
    assert stats["workersAlive"] == 1
    assert stats["workers"][0]["ready"] is True
    assert stats["workers"][0]["jobsDone"] == len(HOUSEHOLDS)


async def test_batch_by_segment_takes_its_current_members(
    client: httpx.AsyncClient, context: AppContext, store: list[str], worker: object
) -> None:
    await recompute_now(context, triggered_by="test")
    headers = await staff_headers(client, context)
    overview = await client.get("/v1/customers/segments/overview", headers=headers)
    sizes = {s["segmentId"]: s["customerCount"] for s in overview.json()["segments"]}
    segment = max(sizes, key=lambda s: sizes[s])

    response = await client.post(
        URL,
        json={"segmentId": segment, "analysisTypes": ["consumption_prediction"]},
        headers=headers,
    )

    assert response.status_code == 202, response.text
    assert response.json()["jobCount"] == sizes[segment]


async def test_idempotency_key_returns_the_same_batch(
    client: httpx.AsyncClient, context: AppContext, store: list[str]
) -> None:
    headers = await staff_headers(client, context)
    body = {"customerIds": store[:2]}
    keyed = {**headers, "Idempotency-Key": "nightly-2018-01-01"}

    first = await client.post(URL, json=body, headers=keyed)
    again = await client.post(URL, json=body, headers=keyed)
    other_body = await client.post(URL, json={"customerIds": store[:1]}, headers=keyed)
    unkeyed = await client.post(URL, json=body, headers=headers)

    assert first.status_code == again.status_code == 202
    assert again.json()["batchId"] == first.json()["batchId"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other_body.status_code == 422
    assert unkeyed.json()["batchId"] != first.json()["batchId"]
    async with context.db.session() as session:
        batches = await session.scalar(select(func.count()).select_from(Batch))
        jobs = await session.scalar(select(func.count()).select_from(BatchJob))
    assert (batches, jobs) == (2, 4)


async def test_cancel_stops_queued_jobs(
    client: httpx.AsyncClient, context: AppContext, store: list[str]
) -> None:
    # No worker runs, so every job is still queued when the cancel arrives.
    headers = await staff_headers(client, context)
    submitted = (
        await client.post(URL, json={"customerIds": store[:4]}, headers=headers)
    ).json()
    batch_id = submitted["batchId"]

    cancelled = await client.post(f"{URL}/{batch_id}/cancel", headers=headers)
    again = await client.post(f"{URL}/{batch_id}/cancel", headers=headers)

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["counts"]["cancelled"] == 4
    assert cancelled.json()["cancelledAt"] is not None
    assert again.status_code == 200
    assert await count_jobs(context, batch_id, "queued") == 0


async def test_a_finished_batch_cannot_be_cancelled(
    client: httpx.AsyncClient, context: AppContext, store: list[str], worker: object
) -> None:
    headers = await staff_headers(client, context)
    batch_id = (
        await client.post(URL, json={"customerIds": store[:1]}, headers=headers)
    ).json()["batchId"]
    await _finished(client, headers, batch_id)

    response = await client.post(f"{URL}/{batch_id}/cancel", headers=headers)

    assert response.status_code == 409
    assert batch_id in response.json()["message"]


async def test_customers_are_refused_and_anonymous_callers_asked_to_sign_in(
    client: httpx.AsyncClient, context: AppContext, store: list[str]
) -> None:
    staff = await staff_headers(client, context)
    batch_id = (
        await client.post(URL, json={"customerIds": store[:1]}, headers=staff)
    ).json()["batchId"]
    shopper = await customer_headers(client, context, store[0])
    calls = [
        ("POST", URL, {"customerIds": [store[0]]}),
        ("GET", f"{URL}/{batch_id}", None),
        ("GET", f"{URL}/queue/stats", None),
        ("POST", f"{URL}/{batch_id}/cancel", None),
    ]
    for method, path, body in calls:
        refused = await client.request(method, path, json=body, headers=shopper)
        anonymous = await client.request(method, path, json=body)
        assert refused.status_code == 403, (method, path)
        assert anonymous.status_code == 401, (method, path)
        assert "batchId" not in refused.text
    assert await count_jobs(context, batch_id, "cancelled") == 0


@pytest.mark.parametrize(
    ("body", "field", "named"),
    [
        ({"customerIds": []}, "body.customerIds", "empty"),
        ({"customerIds": ["B0", "NOPE-1", "NOPE-2"]}, "body.customerIds", "NOPE-2"),
        ({"segmentId": "big_spenders"}, "body.segmentId", "big_spenders"),
        ({"segmentId": "champions"}, "body.segmentId", "no customers"),
        (
            {"allCustomers": True, "analysisTypes": ["horoscope", "full_analysis"]},
            "body.analysisTypes",
            "horoscope",
        ),
        ({"allCustomers": True, "analysisTypes": []}, "body.analysisTypes", ""),
        ({}, "body.customerIds", "none was given"),
        ({"customerIds": ["B0"], "allCustomers": True}, "body.segmentId", "got"),
        ({"allCustomers": True, "model": "gpt-17"}, "body.model", "gpt-17"),
        (
            {"allCustomers": True, "model": "bedrock:claude-haiku"},
            "body.model",
            "unavailable",
        ),
        ({"allCustomers": True, "priority": "urgent"}, "body.priority", ""),
        ({"allCustomers": True, "customers": ["B0"]}, "body.customers", ""),
    ],
)
async def test_bad_input_is_a_400_naming_the_problem(
    client: httpx.AsyncClient,
    context: AppContext,
    store: list[str],
    body: dict[str, Any],
    field: str,
    named: str,
) -> None:
    headers = await staff_headers(client, context)

    response = await client.post(URL, json=body, headers=headers)

    assert response.status_code == 400, response.text
    answer = response.json()
    assert any(d["field"].startswith(field) for d in answer["details"])
    assert named in answer["message"]
    async with context.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Batch)) == 0


async def test_oversized_batches_are_refused(
    client: httpx.AsyncClient, context: AppContext, store: list[str]
) -> None:
    install_batch_settings(context, fast_settings(max_jobs=10, max_customer_ids=3))
    headers = await staff_headers(client, context)

    too_many_jobs = await client.post(
        URL,
        json={
            "allCustomers": True,
            "analysisTypes": ["full_analysis", "customer_profiling"],
        },
        headers=headers,
    )
    too_long_list = await client.post(
        URL, json={"customerIds": store[:4]}, headers=headers
    )

    assert too_many_jobs.status_code == 400
    assert "12 jobs, more than the 10" in too_many_jobs.json()["message"]
    assert too_long_list.status_code == 400
    assert too_long_list.json()["details"][0]["field"] == "body.customerIds"


async def test_unknown_batches_are_404_and_paths_reach_the_batch_routes(
    client: httpx.AsyncClient, context: AppContext, store: list[str]
) -> None:
    headers = await staff_headers(client, context)

    status = await client.get(f"{URL}/no-such-batch", headers=headers)
    cancel = await client.post(f"{URL}/no-such-batch/cancel", headers=headers)
    stats = await client.get(f"{URL}/queue/stats", headers=headers)
    too_long = await client.get(f"{URL}/{'x' * 65}", headers=headers)

    assert status.status_code == cancel.status_code == 404
    assert "Batch no-such-batch not found" in status.json()["message"]
    assert stats.status_code == 200
    assert "workersAlive" in stats.json()
    assert too_long.status_code == 400
