"""Small factory functions for test data; each writes through the services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from omnix.auth.service import create_user
from omnix.catalogue.models import Product
from omnix.context import AppContext
from omnix.customers.models import Customer

PASSWORD = "correct horse battery staple"


async def add_products(
    context: AppContext, products: dict[str, tuple[str, str]]
) -> None:
    """Catalogue rows from ``{id: (name, category)}``, all Grocery / Private."""
    now = context.clock.wall()
    async with context.db.transaction() as session:
        for product_id, (name, category) in products.items():
            session.add(
                Product(
                    id=product_id,
                    name=name,
                    category=category,
                    department="Grocery",
                    brand="Private",
                    updated_at=now,
                )
            )


async def make_customer(
    context: AppContext, customer_id: str = "1001", **columns: Any
) -> str:
    now = context.clock.wall()
    async with context.db.transaction() as session:
        session.add(
            Customer(
                id=customer_id,
                created_at=columns.pop("created_at", now),
                updated_at=now,
                preferences={},
                **columns,
            )
        )
    return customer_id


async def make_account(
    context: AppContext,
    role: str,
    customer_id: str | None = None,
    email: str | None = None,
) -> str:
    email = email or f"{role}-{customer_id or 'staff'}@omnix.example.com"
    async with context.db.transaction() as session:
        await create_user(
            session,
            email=email,
            password=PASSWORD,
            role=role,
            customer_id=customer_id,
            now=context.clock.wall(),
        )
    return email


async def login(client: httpx.AsyncClient, email: str) -> dict[str, Any]:
    response = await client.post(
        "/auth/login", json={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['accessToken']}"}


async def staff_headers(
    client: httpx.AsyncClient, context: AppContext, role: str = "manager"
) -> dict[str, str]:
    return bearer(await login(client, await make_account(context, role)))


async def customer_headers(
    client: httpx.AsyncClient, context: AppContext, customer_id: str
) -> dict[str, str]:
    return bearer(
        await login(client, await make_account(context, "customer", customer_id))
    )


def purchase_body(
    product_id: str = "P1",
    *,
    when: datetime | None = None,
    quantity: float = 1,
    price: float = 2.5,
    **extra: Any,
) -> dict[str, Any]:
    when = when or datetime(2017, 12, 1, 10, 0, tzinfo=UTC)
    return {
        "productId": product_id,
        "productName": extra.pop("productName", f"Product {product_id}"),
        "category": extra.pop("category", "Coffee"),
        "quantity": quantity,
        "price": price,
        "purchaseDate": when.isoformat(),
        **extra,
    }


def days(n: float) -> timedelta:
    return timedelta(days=n)
