"""Test data for the streaming service: households with a purchase history,
events in the guide's shape, and a running insight consumer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from omnix.catalogue.models import Product
from omnix.context import AppContext
from omnix.customers.models import PurchaseLine
from omnix.streaming import StreamEntry, schemas
from omnix.streaming.config import StreamingSettings
from omnix.streaming.runtime import StreamingRuntime, run_consumers, streaming_runtime
from omnix.streaming.service import accept_events
from tests.factories import make_customer

START = datetime(2017, 6, 5, 10, 0, tzinfo=UTC)  # a Monday, 10:00
PRODUCTS = {
    "COFFEE": ("Ground Coffee 500g", "Coffee", "Grocery"),
    "MILK": ("Whole Milk 1L", "Milk", "Dairy"),
    "BREAD": ("Sourdough Loaf", "Bread", "Bakery"),
    "TV": ("Television 55in", "Electronics", "Electronics"),
    "ASPIRIN": ("Aspirin 100", "Pain Relief", "Pharmacy"),
}


def settings_for_tests(**overrides: Any) -> StreamingSettings:
    """Settings for tests: short waits, no timer unless asked."""
    values: dict[str, Any] = {
        # Without a consumer there is nothing to wait for (see ``consuming``).
        "response_wait_ms": 0,
        "claim_idle_ms": 200,
        "due_check_s": 3_600,
        "relay_interval_s": 0.1,
        "relay_grace_s": 0.0,
        "metrics_interval_s": 0.2,
        "consumer_batch_size": 200,
        "partner_suggestions": False,
        **overrides,
    }
    return StreamingSettings(**values)


def runtime_of(context: AppContext, **overrides: Any) -> StreamingRuntime:
    """The context's runtime, created with :func:`settings_for_tests`."""
    context.extras["streaming_settings"] = settings_for_tests(**overrides)
    return streaming_runtime(context)


@asynccontextmanager
async def consuming(context: AppContext) -> AsyncIterator[StreamingRuntime]:
    """The insight consumers run for the duration of the block, and single
    events wait (up to 3 s) for their insights."""
    runtime = streaming_runtime(context)
    stop = asyncio.Event()
    task = asyncio.create_task(run_consumers(context, runtime, stop))
    runtime.settings.response_wait_ms = 3_000
    try:
        yield runtime
    finally:
        runtime.settings.response_wait_ms = 0
        stop.set()
        await asyncio.wait_for(task, 10)


async def add_products(context: AppContext) -> None:
    now = context.clock.wall()
    async with context.db.transaction() as session:
        for product_id, (name, category, department) in PRODUCTS.items():
            session.add(
                Product(
                    id=product_id,
                    name=name,
                    category=category,
                    department=department,
                    updated_at=now,
                )
            )


async def regular_household(
    context: AppContext,
    customer_id: str,
    *,
    orders: int = 30,
    every_days: int = 7,
    start: datetime = START,
    basket: tuple[tuple[str, float, float], ...] = (
        ("COFFEE", 1, 8.0),
        ("MILK", 2, 1.5),
        ("BREAD", 1, 4.0),
    ),
) -> list[dict[str, Any]]:
    """A household buying the same basket (about 15.00) every week at 10:00."""
    await make_customer(context, customer_id, created_at=start - timedelta(days=30))
    lines = []
    for number in range(orders):
        when = start + timedelta(days=number * every_days, minutes=number % 3)
        for line_no, (product_id, quantity, price) in enumerate(basket):
            lines.append(
                {
                    "customer_id": customer_id,
                    "order_id": f"{customer_id}-o{number}",
                    "product_id": product_id,
                    "line_no": line_no,
                    "store_id": None,
                    "quantity": quantity,
                    "price": price + (number % 2) * 0.5,
                    "purchased_at": when,
                }
            )
    async with context.db.transaction() as session:
        await session.execute(insert(PurchaseLine), lines)
    return lines


def purchase_event(
    customer_id: str,
    product_id: str = "COFFEE",
    *,
    at: datetime,
    quantity: float = 1,
    price: float = 8.0,
    **extra: Any,
) -> dict[str, Any]:
    name, category, _ = PRODUCTS.get(product_id, (f"Product {product_id}", "Misc", ""))
    return {
        "customerId": customer_id,
        "productId": product_id,
        "productCategory": extra.pop("productCategory", category),
        "productName": extra.pop("productName", name),
        "quantity": quantity,
        "price": price,
        "totalAmount": extra.pop("totalAmount", round(quantity * price, 2)),
        "timestamp": at.isoformat(),
        **extra,
    }


async def accept(
    context: AppContext, runtime: StreamingRuntime, events: list[dict[str, Any]]
) -> list[StreamEntry]:
    """Store purchase events as the endpoint does; the entries a consumer
    would read for them."""
    items = [schemas.PurchaseEvent.model_validate(e) for e in events]
    async with context.db.transaction() as session:
        accepted = await accept_events(
            session,
            runtime.settings.stream,
            items,
            business_now=context.clock.now(),
            wall_now=context.clock.wall(),
            batch=True,
        )
    return [
        StreamEntry(runtime.settings.stream, f"{i}-0", e.payload, 0.0, 1)
        for i, e in enumerate(accepted.fresh)
    ]
