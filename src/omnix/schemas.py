"""Schema pieces shared by every domain: the error envelope and base models."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
)
from pydantic.alias_generators import to_camel

# No purchase, interaction or event of a store's customers happened before
# this. Far older instants are typing errors that would skew every interval
# and revenue series; year-one instants with an offset overflow in UTC.
EARLIEST_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)


# Nothing planned reaches past this either (a test starting in 9999 overflowed
# when its end was computed).
LATEST_INSTANT = datetime(2100, 1, 1, tzinfo=UTC)


def _not_before_earliest(value: datetime) -> datetime:
    if value.year < EARLIEST_INSTANT.year or value < EARLIEST_INSTANT:
        raise ValueError(
            f"is before {EARLIEST_INSTANT.date()}, the earliest date accepted"
        )
    if value.year >= LATEST_INSTANT.year or value >= LATEST_INSTANT:
        raise ValueError(f"is not before {LATEST_INSTANT.date()}, the latest accepted")
    return value


_ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]")


def _iso_instant(value: Any) -> Any:
    # Pydantic's lax parsing also reads 1514628000 or "1514628000" as Unix time.
    if isinstance(value, datetime) or (
        isinstance(value, str) and _ISO_INSTANT.match(value)
    ):
        return value
    raise ValueError(
        "must be an ISO 8601 date-time with an offset, e.g. 2017-12-01T10:00:00Z"
    )


StoreInstant = Annotated[
    AwareDatetime, BeforeValidator(_iso_instant), AfterValidator(_not_before_earliest)
]
"""An instant with a UTC offset, from ``EARLIEST_INSTANT`` to before
``LATEST_INSTANT``."""

# Calendar days a request may name: from EARLIEST_INSTANT's day to the end of
# this century (a target for 9999 is a typing error, not a plan).
LATEST_DATE = date(2099, 12, 31)
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day(value: Any) -> Any:
    # Pydantic's lax date parsing also reads "0" or 86400 as a Unix time.
    if isinstance(value, date) or (
        isinstance(value, str) and _ISO_DAY.fullmatch(value)
    ):
        return value
    raise ValueError("must be a date written YYYY-MM-DD")


def _within_store_dates(value: date) -> date:
    if not EARLIEST_INSTANT.date() <= value <= LATEST_DATE:
        raise ValueError(f"must be between {EARLIEST_INSTANT.date()} and {LATEST_DATE}")
    return value


StoreDate = Annotated[
    date, BeforeValidator(_iso_day), AfterValidator(_within_store_dates)
]
"""A calendar day written ``YYYY-MM-DD``, from 2000-01-01 to 2099-12-31."""

# Numbers and flags in requests as JSON writes them: ``true`` is not 1 and
# ``"3"`` is not 3 (Pydantic's lax mode would coerce both). A JSON integer is
# still a valid ``JsonNumber``.
JsonInt = Annotated[int, Strict()]
JsonNumber = Annotated[float, Strict()]
JsonBool = Annotated[bool, Strict()]


class ApiModel(BaseModel):
    """Response models: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, from_attributes=True
    )


class InputModel(BaseModel):
    """Request bodies: camelCase, and unknown fields are an error, not ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        str_strip_whitespace=True,
        allow_inf_nan=False,
    )


class ErrorDetail(BaseModel):
    field: str = Field(description="Where the problem is, e.g. `body.quantity`.")
    message: str


class ErrorBody(BaseModel):
    """The envelope of every error answer."""

    statusCode: int  # noqa: N815 (wire name of the original NestJS backend)
    error: str
    message: str
    details: list[ErrorDetail] | None = None


class Message(ApiModel):
    success: bool = True
    message: str


def drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
