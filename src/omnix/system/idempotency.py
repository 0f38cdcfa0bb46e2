"""``Idempotency-Key``: the same key and body replays the first answer."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.errors import UnprocessableContent, field_error
from omnix.system.models import IdempotentRequest

MAX_KEY_LENGTH = 200
KEY_PATTERN = re.compile(rf"^[\x20-\x7e]{{1,{MAX_KEY_LENGTH}}}$")


def request_fingerprint(scope: str, payload: BaseModel | None) -> str:
    body = payload.model_dump(mode="json", by_alias=True) if payload else None
    return hashlib.sha256(
        orjson.dumps([scope, body], option=orjson.OPT_SORT_KEYS)
    ).hexdigest()


async def run_idempotent(
    session: AsyncSession,
    *,
    key: str | None,
    principal: str,
    scope: str,
    payload: BaseModel | None,
    now: datetime,
    action: Callable[[], Awaitable[tuple[int, Any]]],
) -> JSONResponse:
    """Run ``action`` once per key; later sends of the same key get its answer.

    ``action`` returns the status code and a JSON-ready body. Without a key the
    action simply runs.
    """
    if key is not None and not KEY_PATTERN.fullmatch(key):
        raise field_error(
            "header.Idempotency-Key",
            f"must be 1-{MAX_KEY_LENGTH} printable ASCII characters",
        )
    fingerprint = request_fingerprint(scope, payload)
    if key is not None:
        stored = await session.get(IdempotentRequest, (key, principal))
        if stored is not None:
            if stored.request_hash != fingerprint:
                raise UnprocessableContent(
                    "This Idempotency-Key was already used with a different request",
                    details=[
                        {
                            "field": "header.Idempotency-Key",
                            "message": "reused with another body or endpoint",
                        }
                    ],
                )
            return JSONResponse(
                stored.response_body,
                status_code=stored.status_code,
                headers={"Idempotent-Replayed": "true"},
            )
    status_code, body = await action()
    if key is not None:
        session.add(
            IdempotentRequest(
                key=key,
                principal=principal,
                request_hash=fingerprint,
                status_code=status_code,
                response_body=body,
                created_at=now,
            )
        )
    return JSONResponse(body, status_code=status_code)
