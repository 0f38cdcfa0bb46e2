"""A small store: a few households with regular rhythms, written directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from omnix.customers.models import PurchaseLine
from tests.factories import add_products, make_customer

START = datetime(2017, 6, 1, 10, tzinfo=UTC)
PRODUCTS = {
    "COFFEE": ("Ground Coffee 500g", "Coffee"),
    "MILK": ("Whole Milk 1L", "Milk"),
    "BREAD": ("Sourdough Loaf", "Bread"),
    "EGGS": ("Free Range Eggs 12", "Eggs"),
    "TEA": ("Green Tea 20 bags", "Tea"),
}


async def _write(context, lines: list[PurchaseLine]) -> None:
    async with context.db.transaction() as session:
        session.add_all(lines)


@pytest.fixture
async def store(context):
    """Ten households; H0 buys coffee weekly and milk twice a week."""
    await add_products(context, PRODUCTS)
    lines = []
    for number in range(10):
        household = await make_customer(context, f"H{number}", created_at=START)
        for day in range(0, 210, 3 + number % 4):
            when = START + timedelta(days=day, hours=number)
            order = f"{household}-{day}"
            for line_no, (product, every) in enumerate(
                (("MILK", 1), ("COFFEE", 2), ("BREAD", 3), ("TEA", 5))
            ):
                if (day // (3 + number % 4)) % every == 0 and (number + line_no) % 4:
                    lines.append(
                        PurchaseLine(
                            customer_id=household,
                            order_id=order,
                            product_id=product,
                            quantity=1 + line_no % 2,
                            price=2.0 + line_no,
                            purchased_at=when,
                        )
                    )
    await _write(context, lines)
    await make_customer(context, "EMPTY", created_at=START)
    await make_customer(context, "ONCE", created_at=START)
    await _write(
        context,
        [
            PurchaseLine(
                customer_id="ONCE",
                order_id="o1",
                product_id="EGGS",
                quantity=1,
                price=3.0,
                purchased_at=START + timedelta(days=100),
            )
        ],
    )
    await make_customer(context, "ONEDAY", created_at=START)
    await _write(
        context,
        [
            PurchaseLine(
                customer_id="ONEDAY",
                order_id=f"d{n}",
                product_id=p,
                quantity=1,
                price=1.0,
                purchased_at=START + timedelta(days=150, hours=n),
            )
            for n, p in enumerate(("EGGS", "MILK", "EGGS"))
        ],
    )
    return "H0"
