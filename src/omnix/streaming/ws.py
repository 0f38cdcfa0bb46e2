"""``/ws``: insights pushed to dashboards as they are produced.

Protocol (JSON text frames):

* authenticate with an access token, as ``/ws?token=…`` or, within 10 s of
  connecting, a first message ``{"type": "auth", "token": "…"}``; a bad or
  missing token closes the socket with code 4401;
* the server answers ``{"type": "welcome", "role", "customerId", "filter"}``;
* ``{"type": "subscribe", "customerId"?, "priority"?: [..], "minPriority"?,
  "types"?: [..]}`` replaces the filter (also accepted as query parameters
  ``customerId``, ``priority``, ``minPriority`` and ``types``, comma
  separated). A customer always receives their own household only: asking
  for another is refused with an ``error`` message (code 4403), an unknown
  priority or type with code 4400 (on connection, both close the socket);
* insights arrive as ``{"type": "insight", "insight": RealtimeInsight}``; a
  client too slow to keep up (1000 waiting) loses the excess and is told
  ``{"type": "dropped", "count": n}``;
* ``{"type": "ping"}`` gets ``{"type": "pong"}``;
* the socket closes with 4401 when the access token expires or its session
  is revoked (checked every minute): reconnect with a fresh token.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from omnix.auth.models import LoginSession
from omnix.context import AppContext
from omnix.deps import Principal
from omnix.errors import OmnixError
from omnix.streaming.runtime import streaming_runtime
from omnix.streaming.schemas import INSIGHT_TYPES, PRIORITIES

router = APIRouter()

AUTH_TIMEOUT_S = 10.0
SESSION_CHECK_S = 60.0
BAD_REQUEST, UNAUTHORIZED, FORBIDDEN = 4400, 4401, 4403


class Refused(Exception):
    """A request on the socket that is refused; the socket stays open."""

    def __init__(self, message: str, code: int = BAD_REQUEST) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class InsightFilter:
    """Which insights a client receives."""

    customer_id: str | None = None
    priorities: set[str] = field(default_factory=lambda: set(PRIORITIES))
    types: set[str] = field(default_factory=lambda: set(INSIGHT_TYPES))

    def accepts(self, insight: dict[str, Any]) -> bool:
        return (
            (self.customer_id is None or insight["customerId"] == self.customer_id)
            and insight["priority"] in self.priorities
            and insight["insightType"] in self.types
        )

    def describe(self) -> dict[str, Any]:
        return {
            "customerId": self.customer_id,
            "priority": [p for p in PRIORITIES if p in self.priorities],
            "types": [t for t in INSIGHT_TYPES if t in self.types],
        }


def _names(value: Any, allowed: tuple[str, ...], what: str) -> set[str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise Refused(f"{what}: a non-empty list of {', '.join(allowed)}")
    chosen = {str(item).strip() for item in items}
    unknown = chosen - set(allowed)
    if unknown:
        raise Refused(f"{what}: unknown {sorted(unknown)}; valid: {', '.join(allowed)}")
    return chosen


def build_filter(principal: Principal, request: dict[str, Any]) -> InsightFilter:
    """The filter a subscription asks for, within what the caller may see."""
    wanted = request.get("customerId")
    if wanted is not None and not isinstance(wanted, str):
        raise Refused("customerId: a string")
    if not principal.is_staff:
        if wanted is not None and wanted != principal.customer_id:
            raise Refused("customers receive their own insights only", FORBIDDEN)
        wanted = principal.customer_id
    chosen = InsightFilter(customer_id=wanted)
    if request.get("priority") is not None:
        chosen.priorities = _names(request["priority"], PRIORITIES, "priority")
    if request.get("minPriority") is not None:
        lowest_set = _names(request["minPriority"], PRIORITIES, "minPriority")
        if len(lowest_set) != 1:
            raise Refused("minPriority: one priority")
        (lowest,) = lowest_set
        chosen.priorities &= set(PRIORITIES[PRIORITIES.index(lowest) :])
    if request.get("types") is not None:
        chosen.types = _names(request["types"], INSIGHT_TYPES, "types")
    return chosen


async def authenticate(context: AppContext, token: str) -> tuple[Principal, float]:
    """The caller and when their token expires (epoch seconds)."""
    claims = context.signer.verify(token)
    async with context.db.session() as session:
        login = await session.get(LoginSession, claims.session_id)
    if login is None or login.revoked_at is not None:
        raise OmnixError("Session has ended")
    principal = Principal(
        user_id=claims.user_id,
        role=claims.role,
        session_id=claims.session_id,
        customer_id=claims.customer_id,
        expires_at=claims.expires_at,
    )
    return principal, claims.expires_at.timestamp()


async def _session_alive(context: AppContext, session_id: str) -> bool:
    async with context.db.session() as session:
        login = await session.get(LoginSession, session_id)
    return login is not None and login.revoked_at is None


async def _send(socket: WebSocket, message: dict[str, Any]) -> None:
    await socket.send_text(orjson.dumps(message).decode())


async def _first_token(socket: WebSocket) -> str | None:
    token = socket.query_params.get("token")
    if token:
        return token
    with contextlib.suppress(TimeoutError, ValueError):
        first = orjson.loads(
            await asyncio.wait_for(socket.receive_text(), AUTH_TIMEOUT_S)
        )
        if isinstance(first, dict) and first.get("type") == "auth":
            value = first.get("token")
            return value if isinstance(value, str) else None
    return None


@router.websocket("/ws")
async def insights_socket(socket: WebSocket) -> None:
    """Live insights (see the module docstring for the protocol)."""
    context: AppContext = socket.app.state.context
    hub = streaming_runtime(context).hub
    await socket.accept()
    try:
        token = await _first_token(socket)
        principal, expires_at = await authenticate(context, token or "")
    except (OmnixError, WebSocketDisconnect) as exc:
        reason = exc.message if isinstance(exc, OmnixError) else "disconnected"
        with contextlib.suppress(Exception):
            await _send(
                socket, {"type": "error", "code": UNAUTHORIZED, "message": reason}
            )
            await socket.close(code=UNAUTHORIZED, reason=reason[:120])
        return
    try:
        chosen = build_filter(principal, dict(socket.query_params))
    except Refused as exc:
        await _send(socket, {"type": "error", "code": exc.code, "message": str(exc)})
        await socket.close(code=exc.code, reason=str(exc)[:120])
        return
    current = {"filter": chosen}
    subscription = hub.subscribe(lambda insight: current["filter"].accepts(insight))
    await _send(
        socket,
        {
            "type": "welcome",
            "role": principal.role,
            "customerId": principal.customer_id,
            "filter": chosen.describe(),
            "expiresAt": datetime.fromtimestamp(expires_at, UTC).isoformat(),
        },
    )

    async def push() -> None:
        reported = 0
        while True:
            insight = await subscription.queue.get()
            if subscription.dropped > reported:
                await _send(
                    socket,
                    {"type": "dropped", "count": subscription.dropped - reported},
                )
                reported = subscription.dropped
            await _send(socket, {"type": "insight", "insight": insight})

    async def listen() -> None:
        while True:
            frame = await socket.receive()
            if frame["type"] == "websocket.disconnect":
                return
            try:
                request = orjson.loads(frame.get("text") or frame.get("bytes") or b"")
            except orjson.JSONDecodeError:
                request = None
            kind = request.get("type") if isinstance(request, dict) else None
            if kind == "ping":
                await _send(socket, {"type": "pong"})
            elif kind == "subscribe" and isinstance(request, dict):
                try:
                    current["filter"] = build_filter(principal, request)
                except Refused as exc:
                    await _send(
                        socket,
                        {"type": "error", "code": exc.code, "message": str(exc)},
                    )
                    continue
                await _send(
                    socket,
                    {"type": "subscribed", "filter": current["filter"].describe()},
                )
            else:
                await _send(
                    socket,
                    {
                        "type": "error",
                        "code": BAD_REQUEST,
                        "message": "expected ping or subscribe",
                    },
                )

    async def guard() -> str:
        while True:
            left = expires_at - time.time()
            if left <= 0:
                return "Access token expired"
            await asyncio.sleep(min(left, SESSION_CHECK_S))
            if not await _session_alive(context, principal.session_id):
                return "Session has ended"

    tasks = [asyncio.create_task(job()) for job in (push, listen)]
    ended = asyncio.create_task(guard())
    try:
        done, _ = await asyncio.wait(
            [*tasks, ended], return_when=asyncio.FIRST_COMPLETED
        )
        if ended in done and not ended.exception():
            reason = ended.result()
            with contextlib.suppress(Exception):
                await _send(
                    socket,
                    {"type": "error", "code": UNAUTHORIZED, "message": reason},
                )
                await socket.close(code=UNAUTHORIZED, reason=reason)
    finally:
        hub.unsubscribe(subscription)
        for task in (*tasks, ended):
            task.cancel()
        await asyncio.gather(*tasks, ended, return_exceptions=True)
