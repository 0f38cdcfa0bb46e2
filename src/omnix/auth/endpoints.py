"""``/auth/*`` (also under ``/v1/auth``): sign-in, token refresh, sign-out."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from omnix.auth import service
from omnix.auth.models import UserAccount
from omnix.auth.schemas import (
    AuthUser,
    LoginRequest,
    LogoutRequest,
    LogoutResponse,
    RefreshRequest,
    TokenEnvelope,
)
from omnix.context import AppContext
from omnix.deps import ContextDep, CurrentUser, SessionDep
from omnix.errors import (
    BadRequest,
    NotFound,
    TooManyRequests,
    Unauthorized,
    error_responses,
)

router = APIRouter(prefix="/auth", tags=["auth"])


def _policy(context: AppContext) -> service.AuthPolicy:
    settings = context.settings
    return service.AuthPolicy(
        refresh_lifetime=timedelta(days=settings.refresh_token_days),
        max_failures=settings.login_max_failures,
        failure_window=timedelta(seconds=settings.login_window_seconds),
    )


@router.post(
    "/login",
    operation_id="login",
    responses=error_responses(BadRequest, Unauthorized, TooManyRequests),
)
async def login(
    body: LoginRequest, session: SessionDep, context: ContextDep
) -> TokenEnvelope:
    """Sign in with e-mail and password; returns an access and a refresh token."""
    pair = await service.login(
        session,
        body.email,
        body.password,
        context.signer,
        _policy(context),
        context.clock.wall(),
    )
    return TokenEnvelope(data=pair, message="Login successful")


@router.post(
    "/refresh",
    operation_id="refreshToken",
    responses=error_responses(BadRequest, Unauthorized),
)
async def refresh(
    body: RefreshRequest, session: SessionDep, context: ContextDep
) -> TokenEnvelope:
    """Exchange a refresh token for a new pair; each refresh token works once."""
    pair = await service.refresh(
        session,
        body.refresh_token,
        context.signer,
        _policy(context),
        context.clock.wall(),
    )
    return TokenEnvelope(data=pair, message="Token refreshed")


@router.post(
    "/logout",
    operation_id="logout",
    responses=error_responses(BadRequest, Unauthorized),
)
async def logout(
    principal: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    body: LogoutRequest | None = None,
) -> LogoutResponse:
    """End the session: its access and refresh tokens stop working."""
    now = context.clock.wall()
    await service.revoke_session(session, principal.session_id, now)
    if body is not None and body.refresh_token:
        other = await service.session_of_refresh_token(session, body.refresh_token)
        if other is not None and other != principal.session_id:
            # Only the caller's own sessions may be ended this way.
            account_session = await service.owner_of_session(session, other)
            if account_session == principal.user_id:
                await service.revoke_session(session, other, now)
    return LogoutResponse(message="Logout successful")


@router.get(
    "/me", operation_id="currentUser", responses=error_responses(Unauthorized, NotFound)
)
async def me(principal: CurrentUser, session: SessionDep) -> AuthUser:
    """The signed-in account."""
    account = await session.get(UserAccount, principal.user_id)
    if account is None:
        raise NotFound("Account not found")
    return service.auth_user(account)
