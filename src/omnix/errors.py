"""One error tree; each class carries its HTTP status. One handler renders it."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from omnix.schemas import ErrorBody


class OmnixError(Exception):
    status_code: int = 500

    def __init__(
        self,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        keep_changes: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers
        # Commit the request's writes before answering with this error (for
        # example a failed sign-in still counts towards the throttle).
        self.keep_changes = keep_changes

    def envelope(self) -> dict[str, Any]:
        return error_envelope(self.status_code, self.message, self.details)


def error_envelope(
    status_code: int, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "statusCode": status_code,
        "error": HTTPStatus(status_code).phrase,
        "message": message,
    }
    if details is not None:
        body["details"] = details
    return body


class BadRequest(OmnixError):
    status_code = 400


class Unauthorized(OmnixError):
    status_code = 401

    def __init__(
        self, message: str = "Authentication required", *, keep_changes: bool = False
    ) -> None:
        super().__init__(
            message, headers={"WWW-Authenticate": "Bearer"}, keep_changes=keep_changes
        )


class Forbidden(OmnixError):
    status_code = 403


class NotFound(OmnixError):
    status_code = 404


class Conflict(OmnixError):
    status_code = 409


class PayloadTooLarge(OmnixError):
    status_code = 413


class UnprocessableContent(OmnixError):
    status_code = 422


class TooManyRequests(OmnixError):
    status_code = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after_s))})


class ServiceUnavailable(OmnixError):
    status_code = 503


def field_error(field: str, message: str) -> BadRequest:
    """A 400 naming one offending field."""
    return BadRequest(
        f"Invalid {field}: {message}", details=[{"field": field, "message": message}]
    )


def error_responses(*errors: type[OmnixError]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the errors it can return, in the envelope."""
    return {
        cls.status_code: {
            "model": ErrorBody,
            "description": HTTPStatus(cls.status_code).phrase,
        }
        for cls in errors
    }
