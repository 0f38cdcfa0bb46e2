"""Password hashing (argon2id) and access tokens (JWT, one pinned algorithm)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from omnix.errors import Unauthorized

# OWASP's argon2id minimum: 19 MiB of memory, 2 iterations, 1 lane.
PASSWORD_HASHER = PasswordHasher(
    time_cost=2, memory_cost=19_456, parallelism=1, type=Type.ID
)
# Verified when the e-mail is unknown, so both answers take the same time.
_DECOY_HASH = PASSWORD_HASHER.hash(secrets.token_urlsafe(16))

ALGORITHM = "HS256"
ACCESS_TYPE = "access"
ROLES = ("customer", "manager", "admin")


def hash_password(password: str) -> str:
    return PASSWORD_HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return PASSWORD_HASHER.verify(password_hash or _DECOY_HASH, password) and (
            password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    role: str
    session_id: str
    customer_id: str | None
    expires_at: datetime


@dataclass(frozen=True)
class TokenSigner:
    secret: str
    issuer: str
    audience: str
    lifetime: timedelta

    def issue(
        self,
        *,
        user_id: str,
        role: str,
        session_id: str,
        customer_id: str | None,
        now: datetime,
    ) -> tuple[str, datetime]:
        expires_at = now + self.lifetime
        claims = {
            "sub": user_id,
            "role": role,
            "sid": session_id,
            "cid": customer_id,
            "typ": ACCESS_TYPE,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM), expires_at

    def verify(self, token: str) -> AccessClaims:
        """Decode an access token; every failure is the same 401."""
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != ALGORITHM:
                raise Unauthorized("Invalid access token")
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "sid"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("Access token expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("Invalid access token") from exc
        if claims.get("typ") != ACCESS_TYPE or claims.get("role") not in ROLES:
            raise Unauthorized("Invalid access token")
        return AccessClaims(
            user_id=str(claims["sub"]),
            role=str(claims["role"]),
            session_id=str(claims["sid"]),
            customer_id=claims.get("cid"),
            expires_at=datetime.fromtimestamp(claims["exp"]).astimezone(),
        )
