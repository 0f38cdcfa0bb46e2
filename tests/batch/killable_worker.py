"""An ``omnix worker`` that the crash test kills with SIGKILL.

It is the real worker (settings from the environment, Redis queue) with two
traps, each hanging inside one job and writing a line to stdout first:

- ``before-commit`` on the job of BEFORE_CUSTOMER/BEFORE_TYPE: the analysis
  and its ledger row are computed and added to the open transaction, which is
  never committed;
- ``after-commit`` on the job of AFTER_CUSTOMER/AFTER_TYPE: the job's result
  is committed, but its queue message is never acknowledged.

Killed in that state, the worker leaves the two worst cases for duplicates.

Usage: python killable_worker.py BEFORE_CUSTOMER BEFORE_TYPE AFTER_CUSTOMER
AFTER_TYPE
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from omnix.batch import leases, tasks, worker

BEFORE = (sys.argv[1], sys.argv[2])
AFTER = (sys.argv[3], sys.argv[4])
real_store = tasks.store_analysis
real_execute = tasks.execute_job
# The job each asyncio task runs; the store step runs in the job's task.
running: dict[int, leases.ClaimedJob] = {}


async def _hang(trap: str) -> None:
    sys.stdout.write(f"TRAPPED {trap}\n")
    sys.stdout.flush()
    await asyncio.Event().wait()


async def store_then_hang(session: Any, run: Any, batch_id: str | None = None) -> Any:
    stored = await real_store(session, run, batch_id=batch_id)
    job = running.get(id(asyncio.current_task()))
    if job is not None and (job.customer_id, job.analysis_type) == BEFORE:
        await _hang("before-commit")
    return stored


async def execute_then_hang(
    context: Any, job: leases.ClaimedJob, worker_id: str, settings: Any
) -> float | None:
    running[id(asyncio.current_task())] = job
    delay = await real_execute(context, job, worker_id, settings)
    if (job.customer_id, job.analysis_type) == AFTER:
        await _hang("after-commit")
    return delay


tasks.store_analysis = store_then_hang  # type: ignore[assignment]
tasks.execute_job = execute_then_hang  # type: ignore[assignment]

if __name__ == "__main__":
    worker.app(["--concurrency", "2"])
