"""Table: products."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from omnix.db.base import Base


class Product(Base):
    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(120), index=True)
    department: Mapped[str | None] = mapped_column(String(120))
    brand: Mapped[str | None] = mapped_column(String(120))
    size: Mapped[str | None] = mapped_column(String(60))
    # Inactive products (discontinued or hidden) are never recommended.
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime]
