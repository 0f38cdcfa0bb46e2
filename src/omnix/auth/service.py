"""Sign-in, token rotation and sign-out."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.auth.models import LoginSession, LoginThrottle, RefreshToken, UserAccount
from omnix.auth.schemas import AuthUser, TokenPair
from omnix.auth.security import (
    TokenSigner,
    hash_password,
    hash_refresh_token,
    new_refresh_token,
    verify_password,
)
from omnix.errors import Conflict, NotFound, TooManyRequests, Unauthorized

log = structlog.get_logger()


@dataclass(frozen=True)
class AuthPolicy:
    refresh_lifetime: timedelta
    max_failures: int
    failure_window: timedelta


def _throttle_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


async def check_throttle(session: AsyncSession, email: str, now: datetime) -> None:
    row = await session.get(LoginThrottle, _throttle_key(email))
    if row and row.blocked_until and row.blocked_until > now:
        retry_after = int((row.blocked_until - now).total_seconds()) + 1
        raise TooManyRequests("Too many failed sign-ins; try again later", retry_after)


async def record_failure(
    session: AsyncSession, email: str, now: datetime, policy: AuthPolicy
) -> None:
    key = _throttle_key(email)
    row = await session.get(LoginThrottle, key)
    if row is None or now - row.window_started_at > policy.failure_window:
        if row is None:
            row = LoginThrottle(key=key, failures=0, window_started_at=now)
            session.add(row)
        row.failures, row.window_started_at, row.blocked_until = 0, now, None
    row.failures += 1
    if row.failures >= policy.max_failures:
        row.blocked_until = now + policy.failure_window
        log.warning("auth.login_throttled", failures=row.failures)


async def clear_failures(session: AsyncSession, email: str) -> None:
    row = await session.get(LoginThrottle, _throttle_key(email))
    if row is not None:
        await session.delete(row)


def auth_user(account: UserAccount) -> AuthUser:
    return AuthUser(
        id=account.id,
        email=account.email,
        roles=[account.role],
        customer_id=account.customer_id,
    )


async def _issue_pair(
    session: AsyncSession,
    account: UserAccount,
    session_id: str,
    signer: TokenSigner,
    policy: AuthPolicy,
    now: datetime,
) -> TokenPair:
    refresh = new_refresh_token()
    session.add(
        RefreshToken(
            token_hash=hash_refresh_token(refresh),
            session_id=session_id,
            issued_at=now,
            expires_at=now + policy.refresh_lifetime,
        )
    )
    access, expires_at = signer.issue(
        user_id=account.id,
        role=account.role,
        session_id=session_id,
        customer_id=account.customer_id,
        now=now,
    )
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_in=int((expires_at - now).total_seconds()),
        user=auth_user(account),
    )


async def login(
    session: AsyncSession,
    email: str,
    password: str,
    signer: TokenSigner,
    policy: AuthPolicy,
    now: datetime,
) -> TokenPair:
    """Check the password and open a new session; the same 401 for any failure."""
    await check_throttle(session, email, now)
    account = await session.scalar(
        select(UserAccount).where(UserAccount.email == email.strip().lower())
    )
    valid = verify_password(account.password_hash if account else None, password)
    if not valid or account is None or account.disabled:
        await record_failure(session, email, now, policy)
        raise Unauthorized("Invalid email or password", keep_changes=True)
    await clear_failures(session, email)
    login_session = LoginSession(
        id=str(uuid.uuid4()), user_id=account.id, created_at=now
    )
    session.add(login_session)
    log.info("auth.login", user_id=account.id, role=account.role)
    return await _issue_pair(session, account, login_session.id, signer, policy, now)


async def refresh(
    session: AsyncSession,
    token: str,
    signer: TokenSigner,
    policy: AuthPolicy,
    now: datetime,
) -> TokenPair:
    """Rotate a refresh token; a reused one revokes its whole family."""
    token_hash = hash_refresh_token(token)
    row = await session.get(RefreshToken, token_hash)
    if row is None:
        raise Unauthorized("Invalid refresh token")
    login_session = await session.get(LoginSession, row.session_id)
    if login_session is None or login_session.revoked_at is not None:
        raise Unauthorized("Session has ended")
    if row.expires_at <= now:
        raise Unauthorized("Refresh token expired")
    # Claim the token atomically: of two racing refreshes only one updates it.
    claimed = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == token_hash, RefreshToken.used_at.is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        login_session.revoked_at, login_session.revoked_reason = now, "refresh_reuse"
        log.warning("auth.refresh_reuse", session_id=login_session.id)
        raise Unauthorized(
            "Refresh token already used; session revoked", keep_changes=True
        )
    account = await session.get(UserAccount, login_session.user_id)
    if account is None or account.disabled:
        raise Unauthorized("Account disabled")
    return await _issue_pair(session, account, login_session.id, signer, policy, now)


async def revoke_session(session: AsyncSession, session_id: str, now: datetime) -> None:
    await session.execute(
        update(LoginSession)
        .where(LoginSession.id == session_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason="logout")
    )


async def session_of_refresh_token(session: AsyncSession, token: str) -> str | None:
    row = await session.get(RefreshToken, hash_refresh_token(token))
    return row.session_id if row else None


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    role: str,
    customer_id: str | None,
    now: datetime,
) -> UserAccount:
    from omnix.customers.models import Customer

    email = email.strip().lower()
    if await session.scalar(select(UserAccount.id).where(UserAccount.email == email)):
        raise Conflict(f"An account for {email} already exists")
    if role == "customer" and customer_id is None:
        raise Conflict("A customer account needs --customer-id")
    if customer_id is not None and await session.get(Customer, customer_id) is None:
        raise NotFound(f"Customer {customer_id} not found")
    account = UserAccount(
        id=str(uuid.uuid4()),
        email=email,
        password_hash=hash_password(password),
        role=role,
        customer_id=customer_id,
        created_at=now,
    )
    session.add(account)
    return account


async def owner_of_session(session: AsyncSession, session_id: str) -> str | None:
    row = await session.get(LoginSession, session_id)
    return row.user_id if row else None
