"""Replaying a read's answer to the same caller until the database changes.

Routes opt in with the ``CacheAnswer`` dependency, which runs after the
caller was authenticated and allowed to read the resource. Their 200 answers
are kept per (Authorization header, path, query string), so a stored answer
is only ever replayed to a caller the route itself already let through, and
never after that caller's access token expires. Any commit to the database
(a new purchase, an edited profile, a sign-out revoking the session) empties
the cache: see ``omnix.db.readcache``. A replayed answer carries
``X-Cache: hit``.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from omnix.clock import Clock
from omnix.db.readcache import ReadCache
from omnix.deps import CurrentUser

CACHE_UNTIL = "omnix.cache_answer_until"


@dataclass(frozen=True)
class StoredAnswer:
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    expires_at: float

    def __len__(self) -> int:
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers)


async def _cache_answer(request: Request, principal: CurrentUser) -> None:
    # The middleware put this dict in the scope before calling the app.
    request.scope.setdefault("state", {})[CACHE_UNTIL] = (
        principal.expires_at.timestamp()
    )


CacheAnswer = Depends(_cache_answer)
"""Route dependency: this GET's successful answer may be replayed."""


class ResponseCacheMiddleware:
    def __init__(self, app: ASGIApp, cache: ReadCache, clock: Clock) -> None:
        self.app = app
        self.cache = cache
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        authorization = _authorization(scope) if self._applies(scope) else None
        if authorization is None:
            await self.app(scope, receive, send)
            return
        key = ("answer", authorization, scope["path"], scope["query_string"])
        stored = self.cache.get(key)
        now = self.clock.wall().timestamp()
        if isinstance(stored, StoredAnswer) and stored.expires_at > now:
            await _replay(stored, send)
            return

        generation = self.cache.generation()
        status = 0
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers.extend(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        state = scope.setdefault("state", {})
        await self.app(scope, receive, capture)
        until = state.get(CACHE_UNTIL)
        if status == 200 and isinstance(until, float) and until > now:
            answer = StoredAnswer(tuple(headers), b"".join(chunks), until)
            self.cache.put(key, generation, answer)

    def _applies(self, scope: Scope) -> bool:
        return (
            scope["type"] == "http" and scope["method"] == "GET" and self.cache.enabled
        )


def _authorization(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bytes(value)
    return None


async def _replay(stored: StoredAnswer, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [*stored.headers, (b"x-cache", b"hit")],
        }
    )
    await send({"type": "http.response.body", "body": stored.body})
