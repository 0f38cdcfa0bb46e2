"""Test data for segmentation: generated households written straight to the
tables, and an independent Python computation of their RFM features."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import insert

from omnix.catalogue.models import Product
from omnix.context import AppContext
from omnix.customers.models import Customer, PurchaseLine

AS_OF = datetime(2018, 1, 1, tzinfo=UTC)
YEAR_START = datetime(2017, 1, 1, tzinfo=UTC)
PRODUCTS = [f"P{i:03d}" for i in range(40)]


@dataclass
class Households:
    """Customers (id -> account opening) and their purchase lines."""

    created: dict[str, datetime] = field(default_factory=dict)
    lines: list[dict[str, Any]] = field(default_factory=list)

    def customer(self, customer_id: str, created: datetime = YEAR_START) -> str:
        self.created[customer_id] = created
        return customer_id

    def order(
        self,
        customer_id: str,
        when: datetime,
        items: list[tuple[str, float, float]],
        order_id: str | None = None,
    ) -> None:
        """One basket: (product, quantity, unit price) per line."""
        order_id = order_id or f"{customer_id}-{when:%Y%m%d%H%M%S}"
        for line_no, (product_id, quantity, price) in enumerate(items):
            self.lines.append(
                {
                    "customer_id": customer_id,
                    "order_id": order_id,
                    "product_id": product_id,
                    "line_no": line_no,
                    "store_id": None,
                    "quantity": quantity,
                    "price": price,
                    "purchased_at": when,
                }
            )

    def regular(
        self,
        customer_id: str,
        *,
        every_days: int,
        last: datetime,
        first: datetime = YEAR_START,
        basket: float = 50.0,
        product_id: str = "P000",
    ) -> None:
        """Orders from ``last`` back to ``first`` every ``every_days`` days."""
        when = last
        while when >= first:
            self.order(customer_id, when, [(product_id, 2, basket / 2)])
            when -= timedelta(days=every_days)


def random_households(seed: int, customers: int) -> Households:
    """Customers with 0-30 orders of 1-6 lines, prices in cents, many ties."""
    rng = np.random.default_rng(seed)
    households = Households()
    for c in range(customers):
        customer_id = f"H{c:04d}"
        created = YEAR_START + timedelta(days=int(rng.integers(0, 330)))
        households.customer(customer_id, created)
        for o in range(int(rng.choice([0, 1, 2, 3, 5, 8, 13, 30]))):
            # Whole hours, and some purchases after AS_OF that must be ignored.
            when = created + timedelta(hours=int(rng.integers(0, 24 * 380)))
            items = [
                (
                    PRODUCTS[int(rng.integers(0, len(PRODUCTS)))],
                    float(rng.integers(1, 4)),
                    float(rng.choice([0.99, 1.5, 2.25, 3.0, 10.0, 4.35])),
                )
                for _ in range(int(rng.integers(1, 7)))
            ]
            households.order(customer_id, when, items, order_id=f"{customer_id}-{o}")
    return households


async def store(context: AppContext, households: Households) -> None:
    """Write products, customers and lines in one transaction."""
    now = context.clock.wall()
    async with context.db.transaction() as session:
        await session.execute(
            insert(Product),
            [
                {"id": p, "name": f"Product {p}", "category": "Grocery",
                 "department": "Food", "brand": None, "size": None,
                 "active": p != "P039", "updated_at": now}
                for p in PRODUCTS
            ],
        )  # fmt: skip
        await session.execute(
            insert(Customer),
            [
                {"id": c, "created_at": created, "updated_at": now, "preferences": {}}
                for c, created in households.created.items()
            ],
        )
        if households.lines:
            await session.execute(insert(PurchaseLine), households.lines)


@dataclass(frozen=True)
class Expected:
    """Features computed in plain Python, one entry per customer id."""

    recency_days: dict[str, int]
    order_count: dict[str, int]
    total_spend: dict[str, float]
    tenure_days: dict[str, int]


def expected_features(households: Households, as_of: datetime) -> Expected:
    """Whole UTC days, distinct orders, spend rounded to cents."""
    today = as_of.date()
    last: dict[str, date] = {}
    first: dict[str, date] = {}
    orders: dict[str, set[str]] = {}
    spend: dict[str, float] = {}
    for line in households.lines:
        if line["purchased_at"] > as_of:
            continue
        c, day = line["customer_id"], line["purchased_at"].date()
        last[c] = max(last.get(c, day), day)
        first[c] = min(first.get(c, day), day)
        orders.setdefault(c, set()).add(line["order_id"])
        spend[c] = spend.get(c, 0.0) + line["quantity"] * line["price"]
    return Expected(
        recency_days={c: (today - d).days for c, d in last.items()},
        order_count={c: len(o) for c, o in orders.items()},
        total_spend={c: round(s, 2) for c, s in spend.items()},
        tenure_days={
            c: max((today - first.get(c, created.date())).days, 0)
            for c, created in households.created.items()
        },
    )


def champion_and_regulars() -> Households:
    """A top customer who stops shopping at the end of September, and 29
    regulars who keep shopping until the end of the year."""
    households = Households()
    households.customer("champ")
    households.regular(
        "champ", every_days=3, last=datetime(2017, 9, 28, 18, tzinfo=UTC), basket=120
    )
    for i in range(29):
        customer = households.customer(f"R{i:02d}")
        households.regular(
            customer,
            every_days=5 + i,
            last=datetime(2017, 12, 31, 10, tzinfo=UTC) - timedelta(days=i % 7),
            basket=20 + i,
        )
    return households
