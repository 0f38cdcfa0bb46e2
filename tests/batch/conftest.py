"""A small store of households with weekly rhythms, fast batch settings, and
an in-process worker on the in-memory queue."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from omnix.batch.config import BatchSettings, install_batch_settings
from omnix.batch.models import BatchJob
from omnix.batch.tasks import close_batch_queue
from omnix.batch.worker import run_worker
from omnix.catalogue.models import Product
from omnix.context import AppContext
from omnix.customers.models import PurchaseLine
from tests.factories import make_customer

REDIS_URL = os.environ.get("OMNIX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
START = datetime(2017, 7, 3, 9, tzinfo=UTC)
PRODUCTS = {
    "OATS": ("Rolled Oats 1kg", "Cereal"),
    "MILK": ("Semi-skimmed Milk 2L", "Milk"),
    "RICE": ("Basmati Rice 1kg", "Rice"),
    "SOAP": ("Dish Soap 500ml", "Cleaning"),
}
HOUSEHOLDS = [f"B{number}" for number in range(6)]


def fast_settings(**overrides: object) -> BatchSettings:
    """Leases, sweeps and back-offs short enough for a test to watch."""
    values: dict[str, object] = {
        "queue_name": f"omnix-test:batch:{uuid.uuid4().hex[:12]}",
        "concurrency": 2,
        "lease_seconds": 2.0,
        "sweep_seconds": 0.3,
        "stall_seconds": 1.5,
        "max_attempts": 3,
        "retry_base_seconds": 0.1,
        "retry_max_seconds": 0.3,
        **overrides,
    }
    return BatchSettings.model_validate(values)


@pytest.fixture
async def store(context: AppContext) -> list[str]:
    """Six households buying milk weekly, oats fortnightly, rice and soap
    now and then, over half a year before the test clock."""
    now = context.clock.wall()
    async with context.db.transaction() as session:
        session.add_all(
            Product(
                id=product_id,
                name=name,
                category=category,
                department="Grocery",
                brand="Own",
                updated_at=now,
            )
            for product_id, (name, category) in PRODUCTS.items()
        )
    lines = []
    for number, household in enumerate(HOUSEHOLDS):
        await make_customer(context, household, created_at=START)
        for week in range(26):
            when = START + timedelta(days=7 * week + number % 3, hours=number)
            basket = ["MILK"]
            basket += ["OATS"] if week % 2 == 0 else []
            basket += ["RICE"] if (week + number) % 5 == 0 else []
            basket += ["SOAP"] if (week + number) % 7 == 0 else []
            lines += [
                PurchaseLine(
                    customer_id=household,
                    order_id=f"{household}-{week}",
                    product_id=product,
                    line_no=line_no,
                    quantity=1 + line_no % 2,
                    price=1.5 + line_no,
                    purchased_at=when,
                )
                for line_no, product in enumerate(basket)
            ]
    async with context.db.transaction() as session:
        session.add_all(lines)
    return HOUSEHOLDS


@pytest.fixture
def batch_config(context: AppContext) -> BatchSettings:
    # A generous lease: the first job of a test also fits the population
    # models, and a loaded machine must not make that look like a dead worker.
    settings = fast_settings(lease_seconds=20.0)
    install_batch_settings(context, settings)
    return settings


@pytest.fixture
async def worker(
    context: AppContext, batch_config: BatchSettings
) -> AsyncIterator[asyncio.Task[None]]:
    """The embedded worker, as the API runs it without Redis."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(context, stop, warm_up=False))
    yield task
    stop.set()
    await asyncio.wait_for(task, 30)
    await close_batch_queue(context)


async def count_jobs(context: AppContext, batch_id: str, state: str) -> int:
    async with context.db.session() as session:
        found = await session.scalar(
            select(func.count()).where(
                BatchJob.batch_id == batch_id, BatchJob.state == state
            )
        )
    return int(found or 0)


async def wait_until(
    check: Callable[[], Awaitable[bool]], within: float = 30.0, step: float = 0.1
) -> None:
    """Poll ``check`` until it holds; fail the test after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"condition not met within {within} s")
        await asyncio.sleep(step)
