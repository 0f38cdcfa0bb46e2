"""What a purchase or import says about a product."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProductFacts:
    product_id: str
    name: str | None = None
    category: str | None = None
    department: str | None = None
    brand: str | None = None
    size: str | None = None
