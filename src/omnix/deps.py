"""Request dependencies: the context, the database session, the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.auth.models import LoginSession
from omnix.clock import Clock
from omnix.context import AppContext
from omnix.db.readcache import ReadCache
from omnix.errors import Forbidden, OmnixError, Unauthorized

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# Dependencies are ``async`` even where they never await: FastAPI runs a
# plain ``def`` dependency in its thread pool, a thread hop per request.
async def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


ContextDep = Annotated[AppContext, Depends(get_context)]


async def get_clock(context: ContextDep) -> Clock:
    return context.clock


ClockDep = Annotated[Clock, Depends(get_clock)]


async def get_session(
    request: Request, context: ContextDep
) -> AsyncIterator[AsyncSession]:
    """One session per request, committed once when the route succeeds."""
    write = request.method not in READ_METHODS
    async with context.db.session(write=write) as session:
        try:
            yield session
        except OmnixError as exc:
            if exc.keep_changes:
                await session.commit()
            else:
                await session.rollback()
            raise
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="An access token from /auth/login")


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: str
    session_id: str
    customer_id: str | None
    expires_at: datetime

    @property
    def is_staff(self) -> bool:
        return self.role in ("manager", "admin")


async def get_principal(
    context: ContextDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized()
    claims = context.signer.verify(credentials.credentials)
    # A session revoked by sign-out or by a reused refresh token ends its
    # access tokens at once, in every process: the revocation is a commit,
    # and any commit empties the read cache, so the lookup runs again.
    key = ("live-session", claims.session_id)
    cache = context.read_cache
    if cache.get(key) is None:
        generation = cache.generation()
        live = await session.scalar(
            select(LoginSession.id).where(
                LoginSession.id == claims.session_id,
                LoginSession.revoked_at.is_(None),
            )
        )
        if live is None:
            raise Unauthorized("Session has ended")
        cache.put(key, generation, True)
    return Principal(
        user_id=claims.user_id,
        role=claims.role,
        session_id=claims.session_id,
        customer_id=claims.customer_id,
        expires_at=claims.expires_at,
    )


CurrentUser = Annotated[Principal, Depends(get_principal)]


async def get_read_cache(context: ContextDep) -> ReadCache:
    return context.read_cache


ReadCacheDep = Annotated[ReadCache, Depends(get_read_cache)]


async def require_staff(principal: CurrentUser) -> Principal:
    if not principal.is_staff:
        raise Forbidden("This action needs the manager or admin role")
    return principal


async def require_admin(principal: CurrentUser) -> Principal:
    if principal.role != "admin":
        raise Forbidden("This action needs the admin role")
    return principal


ManagerUser = Annotated[Principal, Depends(require_staff)]
AdminUser = Annotated[Principal, Depends(require_admin)]


def ensure_customer_access(principal: Principal, customer_id: str) -> None:
    """A customer reaches only their own records; staff reach everyone's."""
    if not principal.is_staff and principal.customer_id != customer_id:
        raise Forbidden("You may only access your own customer records")
