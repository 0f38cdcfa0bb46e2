"""Keeps the catalogue up to date from purchases and imports."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func
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
    """Insert unknown products; fill in what known ones lacked or changed."""
    merged = _merge(facts)
    if not merged:
        return
    named, unnamed = [], []
    for product_id, columns in merged.items():
        row = {"id": product_id, **columns, "active": True, "updated_at": now}
        if row["name"] is None:
            row["name"] = f"Product {product_id}"
            unnamed.append(row)
        else:
            named.append(row)
    for rows, update_name in ((named, True), (unnamed, False)):
        if rows:
            await _upsert(session, rows, update_name=update_name)


async def _upsert(
    session: AsyncSession, rows: list[dict[str, Any]], *, update_name: bool
) -> None:
    insert = (
        postgresql.insert if dialect_name(session) == "postgresql" else sqlite.insert
    )
    statement = insert(Product).values(rows)
    # Keep what the catalogue knows when the new line says nothing.
    columns = ("category", "department", "brand", "size")
    updates: dict[str, Any] = {
        column: func.coalesce(statement.excluded[column], Product.__table__.c[column])
        for column in columns
    }
    if update_name:
        updates["name"] = statement.excluded.name
    updates["updated_at"] = statement.excluded.updated_at
    await session.execute(
        statement.on_conflict_do_update(index_elements=[Product.id], set_=updates)
    )
