"""Schema pieces shared by every domain: the error envelope and base models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


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
