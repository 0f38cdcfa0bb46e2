"""``/ws`` against a real server (uvicorn in this event loop, ``websockets``)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from omnix.app import create_app
from omnix.context import AppContext
from omnix.streaming.runtime import streaming_runtime
from tests.factories import PASSWORD, make_account
from tests.streaming.households import (
    START,
    add_products,
    purchase_event,
    regular_household,
    runtime_of,
)

AT = START + timedelta(days=30 * 7, hours=-10)  # 2018-01-01 00:00, the clock


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serving(context: AppContext) -> AsyncIterator[str]:
    """The app with its lifespan (so its embedded consumer) on a free port."""
    config = uvicorn.Config(
        create_app(context),
        host="127.0.0.1",
        port=_free_port(),
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag only)
        await asyncio.sleep(0.01)
    try:
        yield f"127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        runtime = streaming_runtime(context)
        if runtime.task is not None:
            runtime.task.cancel()
            await asyncio.gather(runtime.task, return_exceptions=True)


@pytest.fixture
async def shop(context: AppContext) -> AppContext:
    await add_products(context)
    await regular_household(context, "H1")
    await regular_household(context, "H2")
    runtime_of(context, response_wait_ms=0)
    return context


async def _token(
    base: str, context: AppContext, role: str, customer: str | None
) -> str:
    email = await make_account(context, role, customer)
    async with httpx.AsyncClient(base_url=f"http://{base}") as client:
        response = await client.post(
            "/auth/login", json={"email": email, "password": PASSWORD}
        )
    return str(response.json()["data"]["accessToken"])


async def _publish(base: str, token: str, event: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=f"http://{base}") as client:
        response = await client.post(
            "/v1/streaming/events/purchase",
            json=event,
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text


def _text(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()


async def _next(ws: ClientConnection, kind: str = "insight") -> dict[str, Any]:
    while True:
        message = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
        if message["type"] == kind:
            return dict(message)


async def _insights_for(ws: ClientConnection, seconds: float) -> list[dict[str, Any]]:
    got = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = orjson.loads(await asyncio.wait_for(ws.recv(), left))
        except TimeoutError:
            break
        if message["type"] == "insight":
            got.append(message["insight"])
    return got


async def test_an_insight_reaches_the_socket_within_a_second(shop: AppContext) -> None:
    """Measured on a running server: a first event warms its connections."""
    async with serving(shop) as base:
        token = await _token(base, shop, "manager", None)
        async with connect(f"ws://{base}/ws?token={token}") as ws:
            welcome = await _next(ws, "welcome")
            assert welcome["role"] == "manager"
            assert welcome["filter"]["customerId"] is None
            warm_up = purchase_event("H2", "TV", at=AT, price=499.0, orderId="warm")
            await _publish(base, token, warm_up)
            assert (await _next(ws))["insight"]["customerId"] == "H2"
            await _insights_for(ws, 0.3)  # the warm-up's other insights
            started = time.monotonic()
            event = purchase_event("H1", "TV", at=AT, price=499.0, orderId="big")
            publishing = asyncio.create_task(_publish(base, token, event))
            insight = (await _next(ws))["insight"]
            elapsed = time.monotonic() - started
            await publishing
    assert insight["customerId"] == "H1"
    assert insight["insightType"] == "behavior_anomaly"
    assert elapsed < 1.0


async def test_customers_see_their_own_and_managers_filter(shop: AppContext) -> None:
    async with serving(shop) as base:
        staff = await _token(base, shop, "manager", None)
        own = await _token(base, shop, "customer", "H1")
        async with (
            connect(f"ws://{base}/ws") as customer_ws,
            connect(f"ws://{base}/ws?token={staff}&minPriority=critical") as critical,
        ):
            await customer_ws.send(_text({"type": "auth", "token": own}))
            welcome = await _next(customer_ws, "welcome")
            assert welcome["filter"]["customerId"] == "H1"
            assert (await _next(critical, "welcome"))["filter"]["priority"] == [
                "critical"
            ]
            for customer in ("H2", "H1"):
                event = purchase_event(
                    customer, "TV", at=AT, price=499.0, orderId=f"big-{customer}"
                )
                await _publish(base, staff, event)
            mine = await _insights_for(customer_ws, 1.5)
            important = await _insights_for(critical, 0.5)
    assert {i["customerId"] for i in mine} == {"H1"}
    assert len(mine) == 3
    assert {(i["customerId"], i["priority"]) for i in important} == {
        ("H1", "critical"),
        ("H2", "critical"),
    }


async def test_refusals(shop: AppContext) -> None:
    async with serving(shop) as base:
        with pytest.raises(ConnectionClosed) as closed:
            async with connect(f"ws://{base}/ws?token=not-a-token") as ws:
                await _next(ws, "welcome")
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401

        own = await _token(base, shop, "customer", "H1")
        with pytest.raises(ConnectionClosed) as closed:
            async with connect(f"ws://{base}/ws?token={own}&customerId=H2") as ws:
                await _next(ws, "welcome")
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403

        async with connect(f"ws://{base}/ws?token={own}") as ws:
            await _next(ws, "welcome")
            await ws.send(_text({"type": "subscribe", "customerId": "H2"}))
            refused = await _next(ws, "error")
            assert refused["code"] == 4403
            await ws.send(_text({"type": "subscribe", "types": ["nope"]}))
            assert (await _next(ws, "error"))["code"] == 4400
            await ws.send(_text({"type": "ping"}))
            assert (await _next(ws, "pong")) == {"type": "pong"}
