"""Tables: customers, purchase lines, product interactions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from omnix.db.base import Base

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants BIGINT.
LineId = BigInteger().with_variant(Integer(), "sqlite")


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    # Declared demographics (None where the household did not say).
    age_group: Mapped[str | None] = mapped_column(String(20))
    income_level: Mapped[str | None] = mapped_column(String(20))
    household_size: Mapped[int | None]
    household_composition: Mapped[str | None] = mapped_column(String(40))
    marital_status: Mapped[str | None] = mapped_column(String(20))
    home_ownership: Mapped[str | None] = mapped_column(String(40))
    kids_count: Mapped[int | None]
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PurchaseLine(Base):
    """One product line of one order (basket)."""

    __tablename__ = "purchases"

    id: Mapped[int] = mapped_column(LineId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE")
    )
    order_id: Mapped[str] = mapped_column(String(64))
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    # Distinguishes repeated lines of one product in one order, so that a
    # re-sent order or file is recognised line by line.
    line_no: Mapped[int] = mapped_column(default=0)
    store_id: Mapped[str | None] = mapped_column(String(64))
    quantity: Mapped[float]
    price: Mapped[float]
    purchased_at: Mapped[datetime]


Index("ix_purchases_customer_time", PurchaseLine.customer_id, PurchaseLine.purchased_at)
Index(
    "uq_purchases_line",
    PurchaseLine.customer_id,
    PurchaseLine.order_id,
    PurchaseLine.product_id,
    PurchaseLine.line_no,
    unique=True,
)
Index("ix_purchases_product", PurchaseLine.product_id)


class ProductInteraction(Base):
    __tablename__ = "product_interactions"

    id: Mapped[int] = mapped_column(LineId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE")
    )
    product_id: Mapped[str] = mapped_column(String(64), index=True)
    interaction_type: Mapped[str] = mapped_column(String(32))
    session_id: Mapped[str | None] = mapped_column(String(64))
    duration_seconds: Mapped[float | None]
    rating: Mapped[int | None]
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime]


Index(
    "ix_interactions_customer_time",
    ProductInteraction.customer_id,
    ProductInteraction.occurred_at,
)
