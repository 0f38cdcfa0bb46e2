"""``omnix worker``: insight consumers outside the API processes.

Run any number of them against the same ``OMNIX_REDIS_URL`` and database:
they share the stream's consumer group (each event goes to one of them), the
timer (each due product is raised once) and the outbox relay. A worker that
dies leaves its unacknowledged entries pending; another claims them after
``claim_idle_ms`` and, since applying an event is idempotent, nothing is lost
or counted twice.
"""

from __future__ import annotations

import asyncio

from omnix.context import AppContext
from omnix.streaming.relay import run_relay
from omnix.streaming.runtime import run_consumers, streaming_runtime


async def run_worker(
    context: AppContext, stop: asyncio.Event, *, consumers: int = 1
) -> None:
    """Consume and relay until ``stop`` is set, then finish the batches in hand."""
    runtime = streaming_runtime(context)
    relay = asyncio.create_task(run_relay(context, runtime))
    try:
        await run_consumers(context, runtime, stop, consumers=consumers, name="worker")
    finally:
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)
        await runtime.close()
        await context.db.dispose()
