"""Sign-in, rotation, sign-out and the token checks of the checklist (4-10)."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta

import jwt
import pytest

from omnix.clock import Clock
from tests.conftest import TEST_SECRET
from tests.factories import bearer, login, make_account, make_customer


async def test_login_returns_the_guides_shape(client, context):
    await make_customer(context, "42")
    email = await make_account(context, "customer", "42")
    response = await client.post(
        "/auth/login", json={"email": email, "password": "correct horse battery staple"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Login successful"
    data = body["data"]
    assert set(data) >= {"accessToken", "refreshToken", "user"}
    assert data["user"] == {
        "id": data["user"]["id"],
        "email": email,
        "roles": ["customer"],
        "customerId": "42",
    }
    assert "passwordHash" not in response.text
    assert "password" not in data["user"]


async def test_v1_prefix_serves_auth_too(client, context):
    email = await make_account(context, "manager")
    response = await client.post(
        "/v1/auth/login",
        json={"email": email, "password": "correct horse battery staple"},
    )
    assert response.status_code == 200


async def test_wrong_password_and_unknown_account_answer_alike(client, context):
    email = await make_account(context, "manager")
    wrong = await client.post("/auth/login", json={"email": email, "password": "nope"})
    unknown = await client.post(
        "/auth/login", json={"email": "ghost@omnix.example.com", "password": "nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_failed_logins_are_throttled_for_any_address(client, context):
    context.settings.login_max_failures = 3
    for email in ("ghost@omnix.example.com", await make_account(context, "manager")):
        for _ in range(3):
            response = await client.post(
                "/auth/login", json={"email": email, "password": "x"}
            )
            assert response.status_code == 401
        blocked = await client.post(
            "/auth/login", json={"email": email, "password": "x"}
        )
        assert blocked.status_code == 429
        assert int(blocked.headers["Retry-After"]) > 0
        assert blocked.json()["statusCode"] == 429


async def test_even_the_right_password_waits_out_the_block(client, context):
    context.settings.login_max_failures = 2
    email = await make_account(context, "manager")
    for _ in range(2):
        await client.post("/auth/login", json={"email": email, "password": "x"})
    right = await client.post(
        "/auth/login", json={"email": email, "password": "correct horse battery staple"}
    )
    assert right.status_code == 429


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "", "password": "x"}, "body.email"),
        ({"email": "a@b.co"}, "body.password"),
        ({"email": "a@b.co", "password": "x" * 5000}, "body.password"),
        ({"email": "a@b.co", "password": "x", "role": "admin"}, "body.role"),
    ],
)
async def test_bad_login_bodies_name_the_field(client, body, field):
    response = await client.post("/auth/login", json=body)
    assert response.status_code == 400
    assert field in [d["field"] for d in response.json()["details"]]


async def test_refresh_rotates_and_reuse_revokes_the_family(client, context):
    email = await make_account(context, "manager")
    first = await login(client, email)
    second = await client.post(
        "/auth/refresh", json={"refreshToken": first["refreshToken"]}
    )
    assert second.status_code == 200
    pair = second.json()["data"]
    assert pair["refreshToken"] != first["refreshToken"]
    assert (await client.get("/auth/me", headers=bearer(pair))).status_code == 200

    reuse = await client.post(
        "/auth/refresh", json={"refreshToken": first["refreshToken"]}
    )
    assert reuse.status_code == 401
    # The whole family is gone: the newest pair stops working too.
    assert (await client.get("/auth/me", headers=bearer(pair))).status_code == 401
    again = await client.post(
        "/auth/refresh", json={"refreshToken": pair["refreshToken"]}
    )
    assert again.status_code == 401


async def test_racing_refreshes_yield_at_most_one_pair(client, context):
    tokens = await login(client, await make_account(context, "manager"))
    answers = await asyncio.gather(
        *(
            client.post("/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
            for _ in range(4)
        )
    )
    assert sum(answer.status_code == 200 for answer in answers) <= 1


async def test_logout_ends_both_tokens(client, context):
    tokens = await login(client, await make_account(context, "manager"))
    response = await client.post(
        "/auth/logout",
        headers=bearer(tokens),
        json={"refreshToken": tokens["refreshToken"]},
    )
    assert response.status_code == 200
    assert (await client.get("/auth/me", headers=bearer(tokens))).status_code == 401
    refresh = await client.post(
        "/auth/refresh", json={"refreshToken": tokens["refreshToken"]}
    )
    assert refresh.status_code == 401


async def test_refresh_token_is_not_an_access_token(client, context):
    tokens = await login(client, await make_account(context, "manager"))
    as_access = {"Authorization": f"Bearer {tokens['refreshToken']}"}
    assert (await client.get("/auth/me", headers=as_access)).status_code == 401
    as_refresh = await client.post(
        "/auth/refresh", json={"refreshToken": tokens["accessToken"]}
    )
    assert as_refresh.status_code == 401


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _claims(tokens: dict) -> dict:
    return jwt.decode(tokens["accessToken"], options={"verify_signature": False})


async def test_forged_and_altered_tokens_are_refused(client, context):
    tokens = await login(client, await make_account(context, "manager"))
    claims = _claims(tokens)
    now = context.clock.wall()
    forged = [
        # alg none
        f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        # another secret
        jwt.encode(claims, "some-other-secret-" + "y" * 64, algorithm="HS256"),
        # another algorithm named in the header
        jwt.encode(claims, TEST_SECRET, algorithm="HS512"),
        # expired, not yet valid, wrong audience, similar issuer, wrong type
        jwt.encode(
            {**claims, "exp": int((now - timedelta(minutes=1)).timestamp())},
            TEST_SECRET,
            algorithm="HS256",
        ),
        jwt.encode(
            {**claims, "nbf": int((now + timedelta(hours=1)).timestamp())},
            TEST_SECRET,
            algorithm="HS256",
        ),
        jwt.encode({**claims, "aud": "someone-else"}, TEST_SECRET, algorithm="HS256"),
        jwt.encode({**claims, "iss": "omnix "}, TEST_SECRET, algorithm="HS256"),
        jwt.encode({**claims, "iss": "0mnix"}, TEST_SECRET, algorithm="HS256"),
        jwt.encode({**claims, "typ": "refresh"}, TEST_SECRET, algorithm="HS256"),
        jwt.encode({**claims, "role": "superuser"}, TEST_SECRET, algorithm="HS256"),
        "not-a-token",
    ]
    for token in forged:
        response = await client.get(
            "/auth/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, token
        assert response.json()["statusCode"] == 401
    # The untouched token still works, so the refusals above are the checks.
    assert (await client.get("/auth/me", headers=bearer(tokens))).status_code == 200


async def test_hs256_signed_with_public_key_material_is_refused(client, context):
    tokens = await login(client, await make_account(context, "manager"))
    pem = (
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n"
        "-----END PUBLIC KEY-----\n"
    )
    import hashlib
    import hmac

    header, payload = _b64({"alg": "HS256", "typ": "JWT"}), _b64(_claims(tokens))
    signature = hmac.new(pem.encode(), f"{header}.{payload}".encode(), hashlib.sha256)
    token = f"{header}.{payload}." + base64.urlsafe_b64encode(
        signature.digest()
    ).decode().rstrip("=")
    response = await client.get(
        "/auth/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401


async def test_missing_or_malformed_authorization_is_401(client):
    assert (await client.get("/auth/me")).status_code == 401
    basic = await client.get("/auth/me", headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401


async def test_access_tokens_use_wall_time_even_with_a_pinned_clock(client, context):
    # The demo pins business time to 2018; a token must still expire in real time.
    assert isinstance(context.clock, Clock)
    assert context.clock.pinned is not None
    tokens = await login(client, await make_account(context, "admin"))
    assert _claims(tokens)["exp"] > context.clock.wall().timestamp()
