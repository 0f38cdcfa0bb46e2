"""Customer DTOs: the guide's names, with the fields the guide leaves open."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import EmailStr, Field

from omnix.schemas import (
    ApiModel,
    InputModel,
    JsonBool,
    JsonInt,
    JsonNumber,
    StoreInstant,
)

AgeGroup = Literal["19-24", "25-34", "35-44", "45-54", "55-64", "65+"]
IncomeLevel = Literal[
    "Under 15K",
    "15-24K",
    "25-34K",
    "35-49K",
    "50-74K",
    "75-99K",
    "100-124K",
    "125-149K",
    "150-174K",
    "175-199K",
    "200-249K",
    "250K+",
]
InteractionType = Literal[
    "view",
    "click",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "wishlist",
    "rating",
    "share",
]
Identifier = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")


class Demographics(ApiModel):
    """What the household declared about itself; every field optional."""

    age_group: AgeGroup | None = None
    income_level: IncomeLevel | None = None
    household_size: JsonInt | None = Field(default=None, ge=1, le=20)
    household_composition: str | None = Field(default=None, max_length=40)
    marital_status: Literal["Married", "Unmarried"] | None = None
    home_ownership: str | None = Field(default=None, max_length=40)
    kids_count: JsonInt | None = Field(default=None, ge=0, le=15)


class DemographicsInput(InputModel, Demographics):
    pass


class CustomerPreferences(ApiModel):
    favorite_categories: list[str] = Field(default_factory=list, max_length=50)
    preferred_brands: list[str] = Field(default_factory=list, max_length=50)
    dietary_restrictions: list[str] = Field(default_factory=list, max_length=20)
    communication_channels: list[Literal["email", "sms", "push", "mail"]] = Field(
        default_factory=list
    )
    replenishment_reminders: bool = True
    marketing_opt_in: bool = False


class CustomerPreferencesDto(InputModel):
    """A partial update: only the fields sent change (null leaves one as it is)."""

    favorite_categories: list[str] | None = Field(default=None, max_length=50)
    preferred_brands: list[str] | None = Field(default=None, max_length=50)
    dietary_restrictions: list[str] | None = Field(default=None, max_length=20)
    communication_channels: list[Literal["email", "sms", "push", "mail"]] | None = None
    replenishment_reminders: JsonBool | None = None
    marketing_opt_in: JsonBool | None = None


class PurchaseSummary(ApiModel):
    order_count: int
    line_count: int
    total_spent: float
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None


class CustomerProfileDto(ApiModel):
    customer_id: str
    name: str | None
    email: str | None
    phone: str | None
    demographics: Demographics
    preferences: CustomerPreferences
    purchase_summary: PurchaseSummary
    created_at: datetime
    updated_at: datetime


class CreateCustomerProfileDto(InputModel):
    customer_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:\-]+$",
        description="An id from the store's own systems; generated when absent.",
    )
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=40, pattern=r"^[0-9+()\-. ]+$")
    demographics: DemographicsInput | None = None
    preferences: CustomerPreferencesDto | None = None


class UpdateCustomerProfileDto(InputModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=40, pattern=r"^[0-9+()\-. ]+$")
    demographics: DemographicsInput | None = None


class Purchase(ApiModel):
    id: str
    customer_id: str
    product_id: str
    product_name: str
    category: str | None
    quantity: float
    price: float = Field(description="Unit price; the line is worth quantity x price.")
    total_amount: float
    purchase_date: datetime
    order_id: str
    store_id: str | None = None
    brand: str | None = None
    size: str | None = None
    department: str | None = None


MAX_QUANTITY = 1000.0
MAX_PRICE = 100_000.0


class CreatePurchaseHistoryDto(InputModel):
    product_id: str = Identifier
    product_name: str | None = Field(default=None, min_length=1, max_length=200)
    category: str | None = Field(default=None, min_length=1, max_length=120)
    department: str | None = Field(default=None, min_length=1, max_length=120)
    brand: str | None = Field(default=None, min_length=1, max_length=120)
    size: str | None = Field(default=None, min_length=1, max_length=60)
    quantity: JsonNumber = Field(gt=0, le=MAX_QUANTITY)
    price: JsonNumber = Field(ge=0, le=MAX_PRICE, description="Unit price.")
    purchase_date: StoreInstant
    order_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:\-]+$",
        description="The basket; without it, one customer's lines of one minute "
        "form one order.",
    )
    store_id: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$"
    )


class ImportPurchaseHistoryDto(InputModel):
    purchases: list[CreatePurchaseHistoryDto] = Field(min_length=1)


class ImportResult(ApiModel):
    imported: int = Field(description="Lines added by this request.")
    duplicates: int = Field(description="Lines already stored, left unchanged.")


class ProductInteraction(ApiModel):
    id: str
    customer_id: str
    product_id: str
    interaction_type: InteractionType
    timestamp: datetime
    session_id: str | None = None
    duration: float | None = Field(default=None, description="Seconds.")
    rating: int | None = None
    metadata: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class CreateProductInteractionDto(InputModel):
    product_id: str = Identifier
    interaction_type: InteractionType
    timestamp: StoreInstant | None = Field(
        default=None, description="When it happened; the server's time when absent."
    )
    session_id: str | None = Field(default=None, max_length=64)
    duration: JsonNumber | None = Field(default=None, ge=0, le=86_400)
    rating: JsonInt | None = Field(default=None, ge=1, le=5)
    metadata: dict[str, str | int | float | bool | None] = Field(
        default_factory=dict, max_length=20
    )


class CustomerListItem(ApiModel):
    customer_id: str
    name: str | None
    email: str | None
    age_group: str | None
    income_level: str | None
    created_at: datetime


class CustomerPage(ApiModel):
    items: list[CustomerListItem]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )
