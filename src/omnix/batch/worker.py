"""A batch worker: runs jobs from the queue, renews its leases, and sweeps up
after workers that died.

``run_worker(context, stop)`` is the whole worker as one coroutine, so a
process can run it beside other workers (the streaming consumer, say) under
one event loop. ``app`` is its Typer command (registered as
``omnix worker``); ``python -m omnix.batch.worker`` runs the same.

With ``OMNIX_REDIS_URL`` the worker reads the shared Redis queue. Without it
there is no queue to read from another process: the worker then serves the
in-memory queue of its own process, which is how the API runs its embedded
workers (see ``endpoints.lifespan``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

import structlog
import typer
from sqlalchemy import delete, update

from omnix.analytics.service import population_cache
from omnix.batch import leases
from omnix.batch.config import BatchSettings, install_batch_settings
from omnix.batch.models import BatchWorker
from omnix.batch.tasks import BatchQueue, batch_queue
from omnix.clock import Clock
from omnix.context import AppContext

log = structlog.get_logger()

# Rows of workers silent for this long are deleted by the sweeper.
FORGET_WORKERS_AFTER = timedelta(days=1)


async def run_worker(
    context: AppContext, stop: asyncio.Event, *, warm_up: bool = True
) -> None:
    """Work batch jobs until ``stop`` is set.

    With ``warm_up`` and a pinned clock, the population models are fitted
    before the first job is taken, so queue messages are not held by a
    process that cannot run them yet (fitting takes a while on a large store;
    each process fits once per batch instant).
    """
    queue = batch_queue(context)
    settings = queue.settings
    await queue.start(worker=True)
    await _register(context, queue)
    queue.serving = True
    loops = [
        asyncio.create_task(_every(settings.lease_seconds / 3, _heartbeat, queue)),
        asyncio.create_task(_every(settings.sweep_seconds, sweep, queue)),
    ]
    log.info(
        "batch.worker_started",
        worker=queue.worker_id,
        broker=queue.kind,
        concurrency=settings.concurrency,
    )
    try:
        if warm_up and context.clock.pinned is not None:
            await population_cache(context).get(context.clock.now())
        await _mark_ready(context, queue)
        if queue.kind == "redis":
            await queue.receive(stop)
        else:
            await stop.wait()
            await queue.drain()
    finally:
        queue.serving = False
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        await _unregister(context, queue)
        log.info("batch.worker_stopped", worker=queue.worker_id)


async def _every(
    seconds: float, step: Callable[[BatchQueue], Awaitable[None]], queue: BatchQueue
) -> None:
    while True:
        try:
            await step(queue)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A database hiccup must not end the loop; the next round retries.
            log.exception("batch.worker_loop_failed", step=step.__name__)
        await asyncio.sleep(seconds)


async def _register(context: AppContext, queue: BatchQueue) -> None:
    now = Clock.wall()
    async with context.db.transaction() as session:
        session.add(
            BatchWorker(
                id=queue.worker_id,
                host=socket.gethostname()[:255],
                pid=os.getpid(),
                broker=queue.kind,
                concurrency=queue.settings.concurrency,
                started_at=now,
                heartbeat_at=now,
            )
        )


async def _mark_ready(context: AppContext, queue: BatchQueue) -> None:
    async with context.db.transaction() as session:
        await session.execute(
            update(BatchWorker)
            .where(BatchWorker.id == queue.worker_id)
            .values(ready_at=Clock.wall())
        )
    log.info("batch.worker_ready", worker=queue.worker_id)


async def _unregister(context: AppContext, queue: BatchQueue) -> None:
    try:
        async with context.db.transaction() as session:
            await session.execute(
                update(BatchWorker)
                .where(BatchWorker.id == queue.worker_id)
                .values(stopped_at=Clock.wall())
            )
    except Exception:
        log.exception("batch.worker_unregister_failed", worker=queue.worker_id)


async def _heartbeat(queue: BatchQueue) -> None:
    """Show this worker alive and keep the leases of the jobs it runs."""
    db, now = queue.context.db, Clock.wall()
    async with db.transaction() as session:
        await session.execute(
            update(BatchWorker)
            .where(BatchWorker.id == queue.worker_id)
            .values(heartbeat_at=now)
        )
    await leases.renew_leases(db, queue.worker_id, queue.settings, now)


async def sweep(queue: BatchQueue) -> None:
    """Fail jobs that outlived their attempts, requeue jobs of dead workers,
    and replace queue messages lost with them. Every worker sweeps; the
    conditional updates make concurrent sweeps harmless."""
    db, settings, now = queue.context.db, queue.settings, Clock.wall()
    exhausted = await leases.fail_exhausted(db, settings, now)
    requeued = await leases.requeue_expired(db, settings, now)
    stalled = await leases.stalled_jobs(db, settings, now)
    if exhausted or requeued or stalled:
        log.warning(
            "batch.swept",
            worker=queue.worker_id,
            failed=exhausted,
            requeued=requeued,
            resent=stalled,
        )
    if requeued + stalled:
        await queue.dispatch(requeued + stalled)
    async with db.transaction() as session:
        await session.execute(
            delete(BatchWorker).where(
                BatchWorker.heartbeat_at < now - FORGET_WORKERS_AFTER
            )
        )


app = typer.Typer(
    help="Run batch analysis jobs from the shared queue (OMNIX_REDIS_URL).",
    invoke_without_command=True,
)


@app.callback()
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1, max=64, help="Jobs at once (default OMNIX_BATCH_CONCURRENCY, 2)."
        ),
    ] = None,
) -> None:
    """Work batch analysis jobs until interrupted (SIGINT or SIGTERM)."""
    from omnix.config import get_settings
    from omnix.logging import configure_logging

    settings = get_settings()
    if not settings.redis_url:
        typer.echo(
            "error: OMNIX_REDIS_URL is not set; without Redis, batch jobs run "
            "inside the API process and need no worker."
        )
        raise typer.Exit(2)
    configure_logging(json=settings.log_json, level=settings.log_level)
    context = AppContext.from_settings(settings)
    batch = BatchSettings()
    if concurrency is not None:
        batch = batch.model_copy(update={"concurrency": concurrency})
    install_batch_settings(context, batch)
    asyncio.run(_serve(context))


async def _serve(context: AppContext) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await run_worker(context, stop)
    finally:
        await batch_queue(context).close()
        await context.db.dispose()


if __name__ == "__main__":
    app()
