"""Auth request and response bodies, shaped as in the integration guide."""

from __future__ import annotations

from typing import Literal

from pydantic import EmailStr, Field

from omnix.schemas import ApiModel, InputModel

Role = Literal["customer", "manager", "admin"]


class LoginRequest(InputModel):
    # Not validated as an address: any text is looked up, and fails the same way.
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(InputModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class LogoutRequest(InputModel):
    refresh_token: str | None = Field(default=None, max_length=512)


class AuthUser(ApiModel):
    id: str
    email: str
    roles: list[Role] = Field(description="The account's role, as a one-item list.")
    customer_id: str | None = Field(
        default=None, description="The household a customer account belongs to."
    )


class TokenPair(ApiModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    user: AuthUser


class TokenEnvelope(ApiModel):
    data: TokenPair
    message: str


class LogoutResponse(ApiModel):
    message: str


class UserCreate(InputModel):
    email: EmailStr
    password: str = Field(min_length=12, max_length=1024)
    role: Role
    customer_id: str | None = Field(default=None, max_length=64)
