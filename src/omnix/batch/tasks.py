"""Jobs on taskiq: queue messages wake workers; the database says what to run.

Each queue message asks "run the most urgent claimable jobs" (a chunk of
up to ``chunk_size``, see ``runner``). On Redis a submission sends one
message per chunk, so the queue spreads the work over every worker that
reads it, and each message leads to at most one chunk run (in memory, a few
messages each run chunks until none is left). Messages are
interchangeable: a duplicate finds nothing to claim and ends, and a lost one
(a worker killed holding it) is replaced by the sweeper once the queue runs
dry while claimable jobs remain (``leases.stalled_jobs``). Priorities live in
the claim order, not in the broker.

Two brokers, chosen by ``OMNIX_REDIS_URL``:

- unset: taskiq's ``InMemoryBroker`` inside the API process (the embedded
  default), whose workers are that process's tasks;
- set: taskiq-redis's ``RedisStreamBroker`` (a Redis stream with a consumer
  group), read by ``omnix worker`` processes on any machines. A message is
  acknowledged after its jobs ran; one left unacknowledged by a dead worker is
  claimed again by taskiq after a while, which is harmless (see above).
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import uuid
from typing import Any

import structlog
from taskiq import AsyncBroker, InMemoryBroker
from taskiq.acks import AcknowledgeType
from taskiq.receiver import Receiver
from taskiq_redis import RedisStreamBroker

from omnix.batch import leases, runner
from omnix.batch.config import BatchSettings, batch_settings
from omnix.clock import Clock
from omnix.context import AppContext

log = structlog.get_logger()

TASK_NAME = "omnix.batch.run_next_job"
CONSUMER_GROUP = "omnix-batch"
KICK_CHUNK = 200
# A worker asked to stop finishes the jobs it holds for at most this long.
STOP_GRACE_SECONDS = 30.0
_EXTRAS_KEY = "batch_queue"


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class BatchQueue:
    """This process's broker, its task, and the jobs it runs."""

    def __init__(self, context: AppContext, settings: BatchSettings) -> None:
        self.context = context
        self.settings = settings
        redis_url = context.settings.redis_url
        self.kind = "redis" if redis_url else "memory"
        self.worker_id = _worker_id()
        self.broker: AsyncBroker = (
            self._redis_broker(redis_url) if redis_url else InMemoryBroker()
        )

        async def run_next_job() -> None:
            await self._run_next_job()

        # taskiq renames the function it registers, so not a bound method.
        self.task = self.broker.register_task(run_next_job, task_name=TASK_NAME)
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._started = False
        self._stopping = False
        # True while ``run_worker`` serves this queue in this process.
        self.serving = False
        self._timers: set[asyncio.Task[None]] = set()

    def _redis_broker(self, url: str) -> RedisStreamBroker:
        settings = self.settings
        idle_seconds = max(settings.lease_seconds, settings.stall_seconds)
        return RedisStreamBroker(
            url=url,
            queue_name=settings.queue_name,
            consumer_group_name=CONSUMER_GROUP,
            # A group created after messages were sent still reads them.
            consumer_id="0",
            # One message per read: a killed worker strands as few as possible.
            xread_count=1,
            xread_block=1000,
            maxlen=4 * settings.max_jobs,
            idle_timeout=int(1000 * idle_seconds),
            # A worker killed while holding taskiq's reclaim lock frees it.
            unacknowledged_lock_timeout=5.0,
        )

    async def start(self, *, worker: bool = False) -> None:
        if self._started:
            return
        self.broker.is_worker_process = worker
        await self.broker.startup()
        self._started = True

    async def close(self) -> None:
        for timer in list(self._timers):
            timer.cancel()
        if self._started:
            await self.broker.shutdown()
            self._started = False

    async def dispatch(self, jobs: int) -> None:
        """Send the messages that ``jobs`` newly claimable jobs need: one per
        chunk of them on Redis, one per slot in memory.

        The in-memory queue has no one to deliver to while no worker serves
        it in this process; the jobs then wait in the database, and the
        sweeper of the next worker to start sends their messages.
        """
        if self.kind == "memory":
            if not self.serving:
                return
            count = min(jobs, self.settings.concurrency)
        else:
            count = math.ceil(jobs / self.settings.chunk_size)
        await self.start()
        for first in range(0, count, KICK_CHUNK):
            size = min(KICK_CHUNK, count - first)
            await asyncio.gather(*(self.task.kiq() for _ in range(size)))

    def dispatch_later(self, delay: float) -> None:
        """One message after ``delay`` seconds (a retry's back-off). Should this
        process stop first, the sweeper of a live worker sends it instead."""

        async def later() -> None:
            await asyncio.sleep(delay)
            await self.dispatch(1)

        timer = asyncio.get_running_loop().create_task(later())
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)

    async def drain(self) -> None:
        """Take no new job; wait (a while) for the in-process ones to finish.

        Messages of the in-memory queue still waiting for a slot end without
        claiming; their jobs stay queued in the database for the next start.
        """
        self._stopping = True
        if isinstance(self.broker, InMemoryBroker):
            try:
                await asyncio.wait_for(self.broker.wait_all(), STOP_GRACE_SECONDS)
            except TimeoutError:
                log.warning("batch.drain_timeout", worker=self.worker_id)

    async def receive(self, stop: asyncio.Event) -> None:
        """Read the Redis queue until ``stop`` is set, then finish held jobs."""
        receiver = Receiver(
            broker=self.broker,
            max_async_tasks=self.settings.concurrency,
            max_prefetch=0,
            run_startup=False,
            ack_type=AcknowledgeType.WHEN_EXECUTED,
            wait_tasks_timeout=STOP_GRACE_SECONDS,
        )
        await receiver.listen(stop)

    async def _run_next_job(self) -> None:
        """The task: claim the most urgent chunk of jobs, if any, and run it.

        On the in-memory queue a message goes on claiming until nothing is
        left, so a large batch needs only ``concurrency`` messages in memory
        (see ``dispatch``); on Redis each message runs one chunk, so that the
        jobs spread over every worker reading the queue.
        """
        settings = self.settings
        async with self._slots:
            while not self._stopping:
                try:
                    jobs = await leases.claim_jobs(
                        self.context.db,
                        self.worker_id,
                        settings,
                        Clock.wall(),
                        settings.chunk_size,
                    )
                except Exception:
                    # The message is spent; the sweeper replaces it if work
                    # remains.
                    log.exception("batch.claim_failed", worker=self.worker_id)
                    return
                if not jobs:
                    return
                delays = await runner.execute_jobs(
                    self.context, jobs, self.worker_id, settings
                )
                for delay in delays:
                    self.dispatch_later(delay)
                if self.kind != "memory":
                    return


def batch_queue(context: AppContext) -> BatchQueue:
    """The context's queue, built from its settings on first use."""
    queue = context.extras.get(_EXTRAS_KEY)
    if not isinstance(queue, BatchQueue):
        queue = BatchQueue(context, batch_settings(context))
        context.extras[_EXTRAS_KEY] = queue
    return queue


async def close_batch_queue(context: AppContext) -> None:
    queue: Any = context.extras.pop(_EXTRAS_KEY, None)
    if isinstance(queue, BatchQueue):
        await queue.close()
