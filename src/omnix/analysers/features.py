"""The computed features of one household: all an LLM provider ever sees.

Only aggregates leave the service: purchase rhythms per product, spend
shares per category, order value statistics, candidate products from the
catalogue. The model forbids unknown keys, so a name, e-mail address, postal
address, customer id or declared demographic added to the dict by mistake
raises ``ValueError`` instead of being sent to a third party.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Days = Annotated[float, Field(ge=0.0)]
Money = Annotated[float, Field(ge=0.0)]
Label = Annotated[str, Field(min_length=1, max_length=200)]

# Defence in depth: free-text fields come from the catalogue, so something
# shaped like an e-mail address there means personal data leaked in.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


class _Features(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrderValueStats(_Features):
    """Order (basket) value in the store currency over the household's history."""

    mean: Money
    median: Money
    p90: Money | None = None
    std: Money | None = None


class CategoryShare(_Features):
    """Share of the household's spend that went to one category."""

    category: Label
    spend_share: Share
    distinct_purchase_days: int | None = Field(default=None, ge=1)


class ProductRhythm(_Features):
    """How regularly the household buys one product (distinct purchase days)."""

    product_id: Label
    product_name: Label | None = None
    category: Label | None = None
    distinct_purchase_days: int = Field(ge=1)
    last_purchase_date: date
    mean_interval_days: Days | None = None
    median_interval_days: Days | None = None
    interval_std_days: Days | None = None
    mean_quantity: Annotated[float, Field(gt=0.0)] | None = None


class CandidateProduct(_Features):
    """A product that may be recommended (active, visible, in stock)."""

    product_id: Label
    product_name: Label | None = None
    category: Label | None = None
    previously_bought: bool
    # Share of the store's orders that contain it (population popularity).
    popularity: Share | None = None


class CustomerFeatures(_Features):
    """Everything an LLM-backed analyser may send about one household.

    Each analysis type sends the subset it needs (see ``prompts``). Fields
    the caller cannot compute stay ``None`` and are simply left out.
    """

    as_of: date
    segment: Label | None = None
    tenure_days: int = Field(ge=0)
    order_count: int = Field(ge=0)
    distinct_purchase_days: int = Field(ge=0)
    days_since_last_order: int | None = Field(default=None, ge=0)
    mean_days_between_orders: Days | None = None
    order_value: OrderValueStats | None = None
    mean_items_per_order: Annotated[float, Field(ge=0.0)] | None = None
    mean_units_per_line: Annotated[float, Field(ge=0.0)] | None = None
    # Share of branded spend going to the household's most bought brand.
    top_brand_share: Share | None = None
    # Mean percentile of the unit prices paid within each category
    # (0 = always the cheapest option, 1 = always the dearest).
    price_percentile: Share | None = None
    # Coefficient of variation of monthly spend; high means seasonal.
    monthly_spend_cv: Annotated[float, Field(ge=0.0)] | None = None
    # Share of orders placed on the household's most common weekday.
    weekday_concentration: Share | None = None
    category_shares: list[CategoryShare] = Field(default_factory=list)
    product_rhythms: list[ProductRhythm] = Field(default_factory=list)
    candidates: list[CandidateProduct] = Field(default_factory=list)

    @model_validator(mode="after")
    def _no_personal_data(self) -> CustomerFeatures:
        for text in _strings(self.model_dump()):
            if _EMAIL.search(text):
                raise ValueError("features contain an e-mail address")
        return self

    @model_validator(mode="after")
    def _unique_products(self) -> CustomerFeatures:
        for name, ids in (
            ("product_rhythms", [r.product_id for r in self.product_rhythms]),
            ("candidates", [c.product_id for c in self.candidates]),
        ):
            if len(ids) != len(set(ids)):
                raise ValueError(f"{name} lists a product_id twice")
        return self


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []
