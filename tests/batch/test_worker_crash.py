"""A worker process killed (SIGKILL) in the middle of a batch on the Redis
queue: the batch still completes, and every job's effect (its stored
analysis and its usage ledger row) exists exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select

from omnix.analytics.models import StoredAnalysis
from omnix.batch.config import BatchSettings, install_batch_settings
from omnix.batch.models import SUCCEEDED, BatchJob
from omnix.batch.tasks import CONSUMER_GROUP, close_batch_queue
from omnix.batch.worker import run_worker
from omnix.context import AppContext
from omnix.costs.models import AnalysisUsage
from tests.batch.conftest import REDIS_URL, fast_settings, wait_until
from tests.conftest import TEST_SECRET
from tests.factories import staff_headers

pytestmark = pytest.mark.redis

URL = "/v1/customers/batch-analysis"
KILLABLE = Path(__file__).with_name("killable_worker.py")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def redis_queue(
    context: AppContext, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[BatchSettings, dict[str, str]]]:
    """The API side on a fresh Redis queue, and the environment of workers
    sharing it; the queue's keys are deleted afterwards."""
    admin = aioredis.Redis.from_url(REDIS_URL)
    try:
        await admin.ping()
    except RedisConnectionError:
        await admin.aclose()
        pytest.skip(f"no Redis at {REDIS_URL}")
    # Chunks of two jobs: one household's two analyses.
    settings = fast_settings(
        lease_seconds=2.0, sweep_seconds=0.3, stall_seconds=1.5, chunk_size=2
    )
    context.settings = context.settings.model_copy(update={"redis_url": REDIS_URL})
    install_batch_settings(context, settings)
    env = {
        **os.environ,
        "OMNIX_DATABASE_URL": database_url,
        "OMNIX_REDIS_URL": REDIS_URL,
        "OMNIX_DATA_DIR": str(tmp_path),
        "OMNIX_JWT_SECRET": TEST_SECRET,
        "OMNIX_ENVIRONMENT": "test",
        "OMNIX_AS_OF": context.clock.now().isoformat(),
        "OMNIX_LOG_LEVEL": "WARNING",
        "OMNIX_BATCH_QUEUE_NAME": settings.queue_name,
        "OMNIX_BATCH_LEASE_SECONDS": str(settings.lease_seconds),
        "OMNIX_BATCH_SWEEP_SECONDS": str(settings.sweep_seconds),
        "OMNIX_BATCH_STALL_SECONDS": str(settings.stall_seconds),
        "OMNIX_BATCH_CHUNK_SIZE": str(settings.chunk_size),
        "PYTHONPATH": str(ROOT),
    }
    try:
        yield settings, env
    finally:
        await close_batch_queue(context)
        await admin.delete(
            settings.queue_name, f"autoclaim:{CONSUMER_GROUP}:{settings.queue_name}"
        )
        await admin.aclose()


async def _spawn(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _trapped(process: asyncio.subprocess.Process, count: int) -> list[str]:
    assert process.stdout is not None
    lines = []
    while len(lines) < count:
        line = await asyncio.wait_for(process.stdout.readline(), 90)
        if not line:
            pytest.fail(f"the worker ended before {count} traps: {lines}")
        if line.startswith(b"TRAPPED"):
            lines.append(line.decode().split()[1])
    return lines


async def _jobs(context: AppContext, batch_id: str) -> list[BatchJob]:
    async with context.db.session() as session:
        rows = await session.scalars(
            select(BatchJob).where(BatchJob.batch_id == batch_id).order_by(BatchJob.id)
        )
        return list(rows)


async def test_a_killed_worker_leaves_every_job_done_exactly_once(
    client: httpx.AsyncClient,
    context: AppContext,
    store: list[str],
    redis_queue: tuple[BatchSettings, dict[str, str]],
) -> None:
    settings, env = redis_queue
    headers = await staff_headers(client, context)
    response = await client.post(
        URL,
        json={
            "customerIds": store,
            "analysisTypes": ["full_analysis", "customer_profiling"],
        },
        headers=headers,
    )
    assert response.status_code == 202, response.text
    batch_id = response.json()["batchId"]
    # Jobs are claimed in id order, two per chunk: B0's two jobs, B1's, B2's,
    # ...; the doomed worker runs two chunks at a time, so it hangs in B1's
    # chunk before its commit and in B2's chunk after its commit, and holds
    # both.
    doomed = await _spawn(
        env,
        str(KILLABLE),
        "B1",
        "full_analysis",
        "B2",
        "full_analysis",
    )
    try:
        assert sorted(await _trapped(doomed, 2)) == ["after-commit", "before-commit"]
        held = {
            j.customer_id + "/" + j.analysis_type: j
            for j in await _jobs(context, batch_id)
        }
        assert held["B1/full_analysis"].state == "running"
        assert held["B2/full_analysis"].state == SUCCEEDED
        doomed.kill()  # SIGKILL: no clean-up, no acknowledgement, no goodbye
        await doomed.wait()
    finally:
        if doomed.returncode is None:
            doomed.kill()
            await doomed.wait()
    assert doomed.returncode == -signal.SIGKILL

    # The survivor runs in this process (a second process would only add
    # start-up time): its own context, database engine and worker id, on the
    # same Redis queue, as on another machine.
    survivor = AppContext.from_settings(context.settings, context.clock)
    install_batch_settings(survivor, settings)
    stop = asyncio.Event()
    working = asyncio.create_task(run_worker(survivor, stop))
    try:

        async def batch_done() -> bool:
            jobs = await _jobs(context, batch_id)
            return all(j.state == SUCCEEDED for j in jobs)

        await wait_until(batch_done, within=90, step=0.2)
    finally:
        stop.set()
        await asyncio.wait_for(working, 60)
        await close_batch_queue(survivor)
        await survivor.db.dispose()

    jobs = await _jobs(context, batch_id)
    assert len(jobs) == 2 * len(store)
    async with context.db.session() as session:
        stored = list(
            await session.scalars(
                select(StoredAnalysis.id).where(StoredAnalysis.batch_id == batch_id)
            )
        )
        ledger = Counter(
            (
                await session.execute(
                    select(
                        AnalysisUsage.customer_id, AnalysisUsage.analysis_type
                    ).where(AnalysisUsage.batch_id == batch_id)
                )
            ).tuples()
        )
    assert sorted(stored) == sorted(j.analysis_id for j in jobs)
    assert ledger == Counter((j.customer_id, j.analysis_type) for j in jobs)
    assert set(ledger.values()) == {1}
    by_key = {(j.customer_id, j.analysis_type): j for j in jobs}
    taken_over = by_key[("B1", "full_analysis")]
    assert taken_over.attempts >= 2
    assert taken_over.retries >= 1
    assert by_key[("B2", "full_analysis")].attempts == 1
    # Their chunk mates shared their fate, and were done once all the same.
    assert by_key[("B1", "customer_profiling")].attempts >= 2
    assert by_key[("B2", "customer_profiling")].attempts == 1

    status = (await client.get(f"{URL}/{batch_id}", headers=headers)).json()
    assert status["status"] == "completed"
    assert status["resultsTotal"] == len(jobs)
