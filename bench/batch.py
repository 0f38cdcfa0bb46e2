"""Batch analysis benchmark: every Complete Journey household, full analysis
with the local engine, on one and then on two ``omnix worker`` processes
sharing a Redis queue.

A copy of the demo database (``data/bench``) in a temporary directory is the
store. The batch is submitted in this process through the batch service and
its queue (the API endpoint adds only the HTTP round trip). Each worker
process fits the population models once, before it takes jobs; that fit is
reported separately as the warm-up, and the batch clock starts only when
every worker is ready. Workers claim jobs in chunks
(``OMNIX_BATCH_CHUNK_SIZE``, default 16). The batch time runs from submission
to the last job finished; each run then checks that every job stored exactly
one analysis and one ledger row.

Worker processes run with ``POLARS_MAX_THREADS=1``: one analysis is many
small data-frame queries, for which Polars' thread pool costs more than it
gives, and two processes on two cores would otherwise contend for four
threads. Target: at most 60 s with two workers.

``OMNIX_BENCH_BATCH_HOUSEHOLDS`` limits the households for a quick try;
``OMNIX_BENCH_REDIS_URL`` names another Redis (default the local one).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import redis
from sqlalchemy import func, select

from bench.common import AS_OF, BENCH_DATA, ROOT, ensure_demo_database
from omnix.analytics.models import StoredAnalysis
from omnix.batch.config import BatchSettings, install_batch_settings
from omnix.batch.models import FINISHED_STATES, BatchJob, BatchWorker
from omnix.batch.reports import queue_stats
from omnix.batch.schemas import BatchRequest
from omnix.batch.service import submit_batch
from omnix.batch.tasks import CONSUMER_GROUP, batch_queue, close_batch_queue
from omnix.clock import Clock
from omnix.config import Settings
from omnix.context import AppContext
from omnix.costs.models import AnalysisUsage
from omnix.customers.models import Customer
from omnix.db.models import Base

REDIS_URL = os.environ.get("OMNIX_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
ANALYSIS_TYPE = "full_analysis"
TARGET_SECONDS = 60.0
READY_TIMEOUT_S = 1200.0
BATCH_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class Run:
    workers: int
    jobs: int
    start_up_s: list[float]
    warm_up_s: list[float]
    batch_s: float
    run_p50_ms: float | None
    run_p95_ms: float | None
    stored: int
    ledger: int
    # CPU seconds the worker processes spent on the batch (from /proc).
    worker_cpu_s: float


def _copy_demo(directory: Path) -> Path:
    source = BENCH_DATA / "omnix.db"
    if not source.exists():
        ensure_demo_database()
    target = directory / "omnix.db"
    # The backup API copies a consistent database, WAL included.
    with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
        live.backup(copy)
    return target


async def _create_missing_tables(context: AppContext) -> None:
    # The demo database may predate the analyses, ledger and batch tables.
    async with context.db.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)


def _worker_env(data_dir: Path, queue_name: str) -> dict[str, str]:
    return {
        **os.environ,
        "OMNIX_DATA_DIR": str(data_dir),
        "OMNIX_AS_OF": AS_OF,
        "OMNIX_REDIS_URL": REDIS_URL,
        "OMNIX_LOG_LEVEL": "WARNING",
        "OMNIX_BATCH_QUEUE_NAME": queue_name,
        "OMNIX_BATCH_CONCURRENCY": "2",
        "POLARS_MAX_THREADS": "1",
    }


async def _wait_ready(
    context: AppContext, since: datetime, count: int
) -> list[BatchWorker]:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        async with context.db.session() as session:
            workers = list(
                await session.scalars(
                    select(BatchWorker).where(
                        BatchWorker.started_at >= since,
                        BatchWorker.stopped_at.is_(None),
                    )
                )
            )
        if len(workers) == count and all(w.ready_at for w in workers):
            return workers
        await asyncio.sleep(0.5)
    raise SystemExit(f"{count} workers were not ready within {READY_TIMEOUT_S} s")


async def _wait_finished(context: AppContext, batch_id: str, jobs: int) -> datetime:
    deadline = time.monotonic() + BATCH_TIMEOUT_S
    while time.monotonic() < deadline:
        async with context.db.session() as session:
            finished, last = (
                await session.execute(
                    select(func.count(), func.max(BatchJob.finished_at)).where(
                        BatchJob.batch_id == batch_id,
                        BatchJob.state.in_(FINISHED_STATES),
                    )
                )
            ).one()
        if finished == jobs and last is not None:
            return last
        await asyncio.sleep(0.25)
    raise SystemExit(f"batch {batch_id} did not finish within {BATCH_TIMEOUT_S} s")


def _cpu_seconds(processes: list[asyncio.subprocess.Process]) -> float:
    """User and system CPU time of the processes so far (Linux ``/proc``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for process in processes:
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1]
        utime, stime = fields.split()[11:13]
        total += int(utime) + int(stime)
    return total / ticks


async def _effects(context: AppContext, batch_id: str) -> tuple[int, int]:
    async with context.db.session() as session:
        stored = await session.scalar(
            select(func.count()).where(StoredAnalysis.batch_id == batch_id)
        )
        ledger = await session.scalar(
            select(func.count()).where(AnalysisUsage.batch_id == batch_id)
        )
    return int(stored or 0), int(ledger or 0)


async def _run(data_dir: Path, workers: int, limit: int | None, log: Path) -> Run:
    queue_name = f"omnix-bench:batch:{uuid.uuid4().hex[:10]}"
    settings = Settings(data_dir=data_dir, as_of=AS_OF, redis_url=REDIS_URL)
    context = AppContext.from_settings(settings)
    batch_config = BatchSettings(queue_name=queue_name)
    install_batch_settings(context, batch_config)
    await _create_missing_tables(context)
    async with context.db.session() as session:
        customers = list(await session.scalars(select(Customer.id).order_by("id")))
    customers = customers[:limit] if limit else customers

    since = Clock.wall()
    with log.open("a") as sink:
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "omnix.batch.worker",
                env=_worker_env(data_dir, queue_name),
                cwd=ROOT,
                stdout=sink,
                stderr=sink,
            )
            for _ in range(workers)
        ]
    try:
        ready = await _wait_ready(context, since, workers)
        start_up = [(w.started_at - since).total_seconds() for w in ready]
        warm_up = [
            (w.ready_at - w.started_at).total_seconds() for w in ready if w.ready_at
        ]

        cpu_before = _cpu_seconds(processes)
        submitted_at = Clock.wall()
        async with context.db.transaction() as session:
            batch = await submit_batch(
                context,
                session,
                BatchRequest(customer_ids=customers, analysis_types=[ANALYSIS_TYPE]),
                batch_config.model_copy(update={"max_customer_ids": len(customers)}),
                requested_by="bench",
            )
        await batch_queue(context).dispatch(batch.job_count)
        last = await _wait_finished(context, batch.batch_id, batch.job_count)
        worker_cpu = _cpu_seconds(processes) - cpu_before
        async with context.db.session() as session:
            stats = await queue_stats(
                session, batch_config, Clock.wall(), broker="redis"
            )
        stored, ledger = await _effects(context, batch.batch_id)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), 60)
            except TimeoutError:
                process.kill()
        await close_batch_queue(context)
        await context.db.dispose()
        client = redis.Redis.from_url(REDIS_URL)
        client.delete(queue_name, f"autoclaim:{CONSUMER_GROUP}:{queue_name}")
        client.close()
    return Run(
        workers=workers,
        jobs=batch.job_count,
        start_up_s=start_up,
        warm_up_s=warm_up,
        batch_s=(last - submitted_at).total_seconds(),
        run_p50_ms=stats.run_time_ms.p50,
        run_p95_ms=stats.run_time_ms.p95,
        stored=stored,
        ledger=ledger,
        worker_cpu_s=worker_cpu,
    )


def _report(run: Run) -> None:
    rate = run.jobs / run.batch_s
    starts = ", ".join(f"{s:.1f}" for s in run.start_up_s)
    warms = ", ".join(f"{s:.1f}" for s in run.warm_up_s)
    print(f"  {run.workers} worker(s): {run.jobs:,} jobs in {run.batch_s:.1f} s")
    print(
        f"    {rate:.1f} jobs/s; claimed to stored p50 {run.run_p50_ms} ms, "
        f"p95 {run.run_p95_ms} ms (a chunk's jobs are stored together)"
    )
    print(f"    process start-up (imports) {starts} s; population fit {warms} s")
    cpu_ms = 1000 * run.worker_cpu_s / run.jobs
    print(
        f"    worker CPU {run.worker_cpu_s:.1f} s = {cpu_ms:.1f} ms per job; on "
        f"{run.workers} free core(s) that alone takes "
        f"{run.worker_cpu_s / run.workers:.1f} s"
    )
    exact = run.stored == run.ledger == run.jobs
    print(
        f"    stored analyses {run.stored:,}, ledger rows {run.ledger:,}: "
        f"{'one per job' if exact else 'NOT one per job'}"
    )


def main() -> None:
    limit_text = os.environ.get("OMNIX_BENCH_BATCH_HOUSEHOLDS")
    limit = int(limit_text) if limit_text else None
    chunk = BatchSettings().chunk_size
    print(
        f"Batch analysis: {ANALYSIS_TYPE} with the local engine over "
        f"{limit or 'all'} Complete Journey households (SQLite copy of the demo, "
        f"Redis queue, 2 chunks of {chunk} jobs at once per worker, "
        f"POLARS_MAX_THREADS=1)"
    )
    print(
        "  Each worker process fits the population models once before taking "
        "jobs (warm-up, not in the batch time)."
    )
    # Other work on the machine takes cores from the workers: say how busy.
    started_load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="omnix-batch-") as folder:
        data_dir = Path(folder)
        _copy_demo(data_dir)
        log = data_dir / "workers.log"
        runs = []
        try:
            for workers in (1, 2):
                run = asyncio.run(_run(data_dir, workers, limit, log))
                _report(run)
                runs.append(run)
        except BaseException:
            if log.exists():
                print("  worker log (last lines):")
                print("".join(log.read_text().splitlines(keepends=True)[-30:]))
            raise
    one, two = runs
    speed_up = one.batch_s / two.batch_s
    verdict = "met" if two.batch_s <= TARGET_SECONDS else "NOT met"
    print(
        f"  speed-up of two workers over one: {speed_up:.2f}x; target "
        f"<= {TARGET_SECONDS:.0f} s with two: {verdict} ({two.batch_s:.1f} s)"
    )
    print(
        f"  machine: {os.cpu_count()} cores, load average {started_load:.1f} "
        f"at the start, {os.getloadavg()[0]:.1f} at the end"
    )


if __name__ == "__main__":
    main()
