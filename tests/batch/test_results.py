"""A batch stores, for each household, the analysis the API computes on
demand: the chunked path (one lines query for many households, one
transaction for their results) changes how the data is read, not what the
analysis says."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from omnix.analytics.models import StoredAnalysis
from omnix.batch.config import BatchSettings
from omnix.batch.models import BatchJob
from omnix.context import AppContext
from tests.batch.conftest import wait_until
from tests.factories import make_customer, staff_headers

URL = "/v1/customers/batch-analysis"
# What differs between two runs of the same analysis: its id and when and
# how fast it was computed.
PER_RUN = ("analysisId", "computedAt", "processingTimeMs")


def _comparable(result: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in result.items() if key not in PER_RUN}


async def test_a_batch_stores_what_the_api_answers_on_demand(
    client: httpx.AsyncClient,
    context: AppContext,
    store: list[str],
    batch_config: BatchSettings,
    worker: object,
) -> None:
    # Every household lands in one chunk, one of them without purchases.
    assert batch_config.chunk_size >= len(store) + 1
    households = [*store, await make_customer(context, "B-none")]
    headers = await staff_headers(client, context)
    response = await client.post(URL, json={"customerIds": households}, headers=headers)
    assert response.status_code == 202, response.text
    batch_id = response.json()["batchId"]

    async def finished() -> bool:
        status = (await client.get(f"{URL}/{batch_id}", headers=headers)).json()
        return bool(status["status"] == "completed")

    await wait_until(finished)
    async with context.db.session() as session:
        rows = await session.execute(
            select(BatchJob.customer_id, StoredAnalysis.result)
            .join(StoredAnalysis, StoredAnalysis.id == BatchJob.analysis_id)
            .where(BatchJob.batch_id == batch_id)
        )
        stored = dict(rows.tuples().all())
    assert sorted(stored) == sorted(households)
    assert any(result["consumptionPatterns"] for result in stored.values())
    for household in households:
        on_demand = await client.get(
            f"/v1/customers/{household}/ai-analysis", headers=headers
        )
        assert on_demand.status_code == 200, on_demand.text
        assert _comparable(stored[household]) == _comparable(on_demand.json())
