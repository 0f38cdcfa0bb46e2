"""An insight worker process that the crash test kills with SIGKILL.

It runs the real consumer (``InsightProcessor.handle`` over Redis), except
that the batch holding the trap event makes it write ``TRAPPED`` and hang:
``after`` the batch's transaction committed (the worst case: effects stored,
entries not acknowledged) or ``before`` it began.

Usage: python killable_worker.py DATABASE_URL REDIS_URL KEY_PREFIX TRAP WHEN
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from omnix.clock import Clock
from omnix.config import Settings
from omnix.context import AppContext
from omnix.streaming import StreamEntry
from omnix.streaming.processor import InsightProcessor
from omnix.streaming.runtime import streaming_runtime
from tests.streaming.households import settings_for_tests

SECRET = "killable-worker-secret-" + "x" * 40


async def main(database_url: str, redis_url: str, prefix: str, trap: str, when: str):  # type: ignore[no-untyped-def]
    settings = Settings(
        environment="test",
        data_dir=Path(tempfile.mkdtemp()),
        database_url=database_url,
        redis_url=redis_url,
        jwt_secret=SECRET,
        prefit_population=False,
    )
    context = AppContext.from_settings(
        settings, Clock(datetime(2018, 1, 1, tzinfo=UTC))
    )
    context.extras["streaming_settings"] = settings_for_tests(
        key_prefix=prefix, claim_idle_ms=60_000
    )
    runtime = streaming_runtime(context)
    processor = InsightProcessor(context, runtime)

    async def handle(entries: list[StreamEntry]) -> None:
        trapped = any(entry.event_id == trap for entry in entries)
        if trapped and when == "before":
            sys.stdout.write("TRAPPED\n")
            sys.stdout.flush()
            await asyncio.Event().wait()
        await processor.handle(entries)
        if trapped:
            sys.stdout.write("TRAPPED\n")
            sys.stdout.flush()
            await asyncio.Event().wait()  # hang until SIGKILL

    await runtime.bus.consume_batches(
        runtime.settings.stream,
        "doomed-worker",
        handle,
        stop=asyncio.Event(),
        batch_size=4,
        block_ms=100,
    )


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
