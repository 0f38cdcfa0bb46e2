"""The read cache: replayed answers are exact, and never outlive a change."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from omnix.context import AppContext
from tests.factories import (
    customer_headers,
    make_customer,
    purchase_body,
    staff_headers,
)


@pytest.fixture
def sqlite_only(context: AppContext) -> None:
    if not context.read_cache.enabled:
        pytest.skip("the read cache runs on SQLite only")


async def _with_purchase(
    client: httpx.AsyncClient, context: AppContext
) -> dict[str, str]:
    """Two households, one purchase of 1001's, and a manager's headers."""
    await make_customer(context, "1001")
    await make_customer(context, "1002")
    headers = await staff_headers(client, context)
    response = await client.post(
        "/v1/customers/1001/purchases", json=purchase_body("P1"), headers=headers
    )
    assert response.status_code == 201, response.text
    return headers


@pytest.mark.usefixtures("sqlite_only")
async def test_a_second_read_is_replayed_byte_for_byte(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await _with_purchase(client, context)
    headers = await staff_headers(client, context, "admin")
    for path in ("/v1/customers/1001/profile", "/v1/customers/1001/purchases"):
        first = await client.get(path, headers=headers)
        second = await client.get(path, headers=headers)
        assert first.status_code == second.status_code == 200
        assert "x-cache" not in first.headers
        assert second.headers["x-cache"] == "hit"
        assert second.content == first.content
        assert second.headers["content-type"] == first.headers["content-type"]


@pytest.mark.usefixtures("sqlite_only")
async def test_a_new_purchase_ends_the_replay(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    headers = await _with_purchase(client, context)
    before = await client.get("/v1/customers/1001/profile", headers=headers)
    await client.post(
        "/v1/customers/1001/purchases", json=purchase_body("P2"), headers=headers
    )
    after = await client.get("/v1/customers/1001/profile", headers=headers)
    assert "x-cache" not in after.headers
    lines = after.json()["purchaseSummary"]["lineCount"]
    assert lines == before.json()["purchaseSummary"]["lineCount"] + 1


@pytest.mark.usefixtures("sqlite_only")
async def test_a_write_from_another_connection_ends_the_replay(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    headers = await _with_purchase(client, context)
    await client.get("/v1/customers/1001/profile", headers=headers)
    # As `omnix import` or a batch worker would: a connection of its own.
    await make_customer(context, "1003", name="Someone else")
    again = await client.get("/v1/customers/1001/profile", headers=headers)
    assert "x-cache" not in again.headers


@pytest.mark.usefixtures("sqlite_only")
async def test_signing_out_ends_the_replay(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await _with_purchase(client, context)
    headers = await customer_headers(client, context, "1001")
    path = "/v1/customers/1001/profile"
    await client.get(path, headers=headers)
    assert (await client.get(path, headers=headers)).headers["x-cache"] == "hit"
    assert (await client.post("/auth/logout", headers=headers)).status_code in (
        200,
        204,
    )
    assert (await client.get(path, headers=headers)).status_code == 401


@pytest.mark.usefixtures("sqlite_only")
async def test_answers_are_kept_per_caller(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    staff = await _with_purchase(client, context)
    other = await customer_headers(client, context, "1002")
    path = "/v1/customers/1001/purchases"
    await client.get(path, headers=staff)
    assert (await client.get(path, headers=staff)).headers["x-cache"] == "hit"
    refused = await client.get(path, headers=other)
    assert refused.status_code == 403
    assert (await client.get(path, headers=staff)).headers["x-cache"] == "hit"


@pytest.mark.usefixtures("sqlite_only")
async def test_refusals_and_other_routes_are_not_replayed(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    headers = await _with_purchase(client, context)
    for path in ("/v1/customers/9999/profile", "/v1/customers/1001/interactions"):
        first = await client.get(path, headers=headers)
        second = await client.get(path, headers=headers)
        assert "x-cache" not in second.headers, path
        assert second.status_code == first.status_code


@pytest.mark.usefixtures("sqlite_only")
async def test_nothing_is_replayed_after_the_token_expires(
    client: httpx.AsyncClient, context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = await _with_purchase(client, context)
    path = "/v1/customers/1001/profile"
    await client.get(path, headers=headers)
    assert (await client.get(path, headers=headers)).headers["x-cache"] == "hit"
    later = context.clock.wall() + timedelta(minutes=60)
    monkeypatch.setattr(context.clock, "wall", lambda: later)
    response = await client.get(path, headers=headers)
    assert "x-cache" not in response.headers


@pytest.mark.usefixtures("sqlite_only")
async def test_writes_to_other_tables_leave_the_answers(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    headers = await _with_purchase(client, context)
    path = "/v1/customers/1001/profile"
    await client.get(path, headers=headers)
    # A worker's heartbeat or a job's progress: not what answers are read from.
    async with context.db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO idempotent_requests (key, principal, request_hash, "
                "status_code, response_body, created_at) "
                "VALUES ('k', 'p', 'h', 200, '{}', '2017-12-01 00:00:00')"
            )
        )
    assert (await client.get(path, headers=headers)).headers["x-cache"] == "hit"


@pytest.mark.usefixtures("sqlite_only")
async def test_a_bulk_import_through_its_own_driver_ends_the_replay(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    headers = await _with_purchase(client, context)
    path = "/v1/customers/1001/profile"
    await client.get(path, headers=headers)
    database = context.db.sqlite_path
    assert database is not None
    # What `omnix import` does: the standard library's driver, its own commit.
    with closing(sqlite3.connect(database)) as connection, connection:
        connection.execute("UPDATE customers SET name = 'Renamed' WHERE id = '1001'")
    again = await client.get(path, headers=headers)
    assert "x-cache" not in again.headers
    assert again.json()["name"] == "Renamed"
