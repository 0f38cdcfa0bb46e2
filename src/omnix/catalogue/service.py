"""Keeps the catalogue up to date from purchases and imports."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.catalogue.models import Product
from omnix.catalogue.schemas import ProductFacts
from omnix.db.session import dialect_name

_DESCRIPTIVE = ("name", "category", "department", "brand", "size")


def _merge(facts: Iterable[ProductFacts]) -> dict[str, dict[str, str | None]]:
    """One row per product; a later non-empty value wins over an earlier one."""
    merged: dict[str, dict[str, str | None]] = {}
    for fact in facts:
        row = merged.setdefault(fact.product_id, dict.fromkeys(_DESCRIPTIVE))
        for column in _DESCRIPTIVE:
            value = getattr(fact, column)
            if value:
                row[column] = value
    return merged


async def upsert_products(
    session: AsyncSession, facts: Iterable[ProductFacts], now: datetime
) -> None:
    """Insert unknown products; fill in what known ones lack, change nothing
    they already say (the same rule as ``omnix.ingest.bulk.PRODUCT_MERGE``)."""
    merged = _merge(facts)
    if not merged:
        return
    rows = [
        {
            "id": product_id,
            **columns,
            "name": columns["name"] or placeholder_name(product_id),
            "active": True,
            "updated_at": now,
        }
        for product_id, columns in merged.items()
    ]
    insert = (
        postgresql.insert if dialect_name(session) == "postgresql" else sqlite.insert
    )
    statement = insert(Product).values(rows)
    known = Product.__table__.c
    updates: dict[str, Any] = {
        column: func.coalesce(known[column], statement.excluded[column])
        for column in ("category", "department", "brand", "size")
    }
    updates["name"] = case(
        (known.name == placeholder_name(known.id), statement.excluded.name),
        else_=known.name,
    )
    updates["updated_at"] = statement.excluded.updated_at
    await session.execute(
        statement.on_conflict_do_update(index_elements=[Product.id], set_=updates)
    )


def placeholder_name(product_id: Any) -> Any:
    """The name of a product first seen without one: text, or a SQL expression."""
    if isinstance(product_id, str):
        return f"Product {product_id}"
    return literal("Product ") + product_id
