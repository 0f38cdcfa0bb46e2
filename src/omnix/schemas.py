"""Schema pieces shared by every domain: the error envelope and base models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# No purchase, interaction or event of a store's customers happened before
# this. Far older instants are typing errors that would skew every interval
# and revenue series; year-one instants with an offset overflow in UTC.
EARLIEST_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)


def _not_before_earliest(value: datetime) -> datetime:
    if value.year < EARLIEST_INSTANT.year or value < EARLIEST_INSTANT:
        raise ValueError(
            f"is before {EARLIEST_INSTANT.date()}, the earliest date accepted"
        )
    return value


StoreInstant = Annotated[AwareDatetime, AfterValidator(_not_before_earliest)]
"""An instant with a UTC offset, not before ``EARLIEST_INSTANT``."""


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
