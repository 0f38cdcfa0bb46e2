"""An ``omnix worker`` that the crash test kills with SIGKILL.

It is the real worker (settings from the environment, Redis queue) with two
traps, each hanging inside one job and writing a line to stdout first:

- ``before-commit`` on the job of BEFORE_CUSTOMER/BEFORE_TYPE: the analysis
  and its ledger row are computed and added to the open transaction of its
  chunk, which is never committed;
- ``after-commit`` on the chunk holding the job of AFTER_CUSTOMER/AFTER_TYPE:
  the chunk's results are committed, but its queue message is never
  acknowledged.

Killed in that state, the worker leaves the two worst cases for duplicates.

Usage: python killable_worker.py BEFORE_CUSTOMER BEFORE_TYPE AFTER_CUSTOMER
AFTER_TYPE
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from omnix.batch import leases, runner, worker

BEFORE = (sys.argv[1], sys.argv[2])
AFTER = (sys.argv[3], sys.argv[4])
real_stage = runner.stage_result
real_execute = runner.execute_jobs


async def _hang(trap: str) -> None:
    sys.stdout.write(f"TRAPPED {trap}\n")
    sys.stdout.flush()
    await asyncio.Event().wait()


async def stage_then_hang(session: Any, done: runner.Done) -> tuple[str, list[Any]]:
    staged = await real_stage(session, done)
    if (done.job.customer_id, done.job.analysis_type) == BEFORE:
        await _hang("before-commit")
    return staged


async def execute_then_hang(
    context: Any, jobs: list[leases.ClaimedJob], worker_id: str, settings: Any
) -> list[float]:
    delays = await real_execute(context, jobs, worker_id, settings)
    if any((job.customer_id, job.analysis_type) == AFTER for job in jobs):
        await _hang("after-commit")
    return delays


runner.stage_result = stage_then_hang  # type: ignore[assignment]
runner.execute_jobs = execute_then_hang  # type: ignore[assignment]

if __name__ == "__main__":
    worker.app(["--concurrency", "2"])
