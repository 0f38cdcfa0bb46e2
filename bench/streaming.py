"""Streaming benchmark: Complete Journey line items replayed as purchase events.

On a copy of the demo database (``data/bench``) the line items of the last two
weeks of 2017 are removed and replayed through ``POST /v1/streaming/events/
batch`` against a running server:

1. latency: the week of 18-24 December at 1,000 events/s (batches of 100
   every 100 ms); event-to-insight is the time from sending an event's batch
   to receiving, on ``/ws``, an insight naming that event (p50, p99). Target
   p99 <= 250 ms.
2. throughput: the week of 25-31 December as fast as the server takes it
   (batches of 1,000, four requests in flight); sustained events/s from the
   first request until the consumers have applied every event. Target
   >= 5,000 events/s.

Before them the bench waits until the consumer reads the stream: a consumer
first reads the histories of the households that bought most recently (its
warm-up, like a batch worker fitting its models before taking jobs). That
start-up, from the consumer's process start to its first read, is printed on
its own line; the two phases start after it.

Both run twice: with Redis Streams (``omnix serve`` without consumers, one
``omnix worker``) and with the embedded stream (the consumer inside
``omnix serve``). The machine, its load and the database (SQLite, the
embedded default) are printed with the figures.

``BENCH_STREAMING_LATENCY_EVENTS`` caps phase 1 (default 15,000);
``OMNIX_TEST_REDIS_URL`` names the Redis server (default localhost).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import connect

from bench.common import (
    BENCH_DATA,
    ROOT,
    bench_env,
    ensure_demo_database,
    login,
    server,
)

REDIS_URL = os.environ.get("OMNIX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LATENCY_WEEK = ("2017-12-18", "2017-12-25")
THROUGHPUT_WEEK = ("2017-12-25", "2018-01-01")
LATENCY_EVENTS = int(os.environ.get("BENCH_STREAMING_LATENCY_EVENTS", "15000"))
RATE = 1_000
TICK_EVENTS = 100
BATCH = 1_000
IN_FLIGHT = 4


def _events(
    connection: sqlite3.Connection, week: tuple[str, str]
) -> list[dict[str, Any]]:
    rows = connection.execute(
        "SELECT p.customer_id, p.order_id, p.product_id, p.line_no, p.quantity, "
        "p.price, p.purchased_at, pr.name, pr.category FROM purchases p "
        "JOIN products pr ON pr.id = p.product_id "
        "WHERE p.purchased_at >= ? AND p.purchased_at < ? "
        "ORDER BY p.purchased_at, p.order_id, p.line_no",
        week,
    ).fetchall()
    return [
        {
            "eventId": f"cj-{order}-{product}-{line}",
            "customerId": customer,
            "productId": product,
            "productName": name or f"Product {product}",
            "productCategory": category or "Uncategorised",
            "quantity": quantity,
            "price": price,
            "totalAmount": round(quantity * price, 2),
            "timestamp": at.replace(" ", "T") + "+00:00",
            "orderId": order,
            "lineNo": line,
            "deviceType": "pos",
        }
        for customer, order, product, line, quantity, price, at, name, category in rows
    ]


def prepare(directory: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Copy the demo database, take the two weeks out as events, and store a
    segment snapshot of what is left (the reference the stream ranks against)."""
    for name in ("omnix.db", "jwt_secret"):
        shutil.copy(BENCH_DATA / name, directory / name)
    with sqlite3.connect(directory / "omnix.db") as connection:
        latency = _events(connection, LATENCY_WEEK)[:LATENCY_EVENTS]
        throughput = _events(connection, THROUGHPUT_WEEK)
        connection.execute(
            "DELETE FROM purchases WHERE purchased_at >= ?", (LATENCY_WEEK[0],)
        )
    subprocess.run(
        [sys.executable, "-c", "from bench.streaming import _tables; _tables()"],
        env={**bench_env(directory), "PYTHONPATH": str(ROOT)},
        check=True,
        cwd=ROOT,
    )
    return latency, throughput


def _tables() -> None:
    """Create missing tables in the copy (the demo may predate them) and a
    segment snapshot at the demo clock."""
    from omnix.config import get_settings
    from omnix.context import AppContext
    from omnix.db.models import Base
    from omnix.segments.tasks import recompute_now

    async def create() -> None:
        context = AppContext.from_settings(get_settings())
        async with context.db.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        await recompute_now(context, triggered_by="bench")
        await context.db.dispose()

    asyncio.run(create())


@contextmanager
def worker(env: dict[str, str]) -> Iterator[None]:
    process = subprocess.Popen(
        [sys.executable, "-m", "omnix.streaming.cli"], env=env, cwd=ROOT
    )
    try:
        yield
    finally:
        process.terminate()
        process.wait(30)


def _processed(database: Path) -> int:
    with sqlite3.connect(database, timeout=30) as connection:
        row = connection.execute(
            "SELECT processed_events FROM stream_progress"
        ).fetchone()
    return int(row[0]) if row else 0


async def _post(client: httpx.AsyncClient, token: str, body: bytes) -> None:
    response = await client.post(
        "/v1/streaming/events/batch",
        content=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
        },
        timeout=120,
    )
    response.raise_for_status()


async def latency_phase(
    base: str, token: str, events: list[dict[str, Any]], database: Path
) -> dict[str, Any]:
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    received = 0
    ws_url = base.replace("http://", "ws://") + f"/ws?token={token}"

    async def listen() -> None:
        nonlocal received
        async with connect(ws_url, max_queue=None) as socket:
            ready.set()
            async for frame in socket:
                message = orjson.loads(frame)
                if message["type"] != "insight":
                    continue
                received += 1
                event_id = message["insight"]["data"].get("eventId")
                if event_id in sent_at:
                    latencies.append(time.perf_counter() - sent_at[event_id])

    ready = asyncio.Event()
    listener = asyncio.create_task(listen())
    await ready.wait()
    start_processed = _processed(database)
    async with httpx.AsyncClient(base_url=base) as client:
        started = time.perf_counter()
        pending = []
        for number, start in enumerate(range(0, len(events), TICK_EVENTS)):
            due = started + number * TICK_EVENTS / RATE
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            chunk = events[start : start + TICK_EVENTS]
            now = time.perf_counter()
            sent_at.update((event["eventId"], now) for event in chunk)
            pending.append(
                asyncio.create_task(_post(client, token, orjson.dumps(chunk)))
            )
        await asyncio.gather(*pending)
        sending = time.perf_counter() - started
    while _processed(database) - start_processed < len(events):  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # stragglers on the socket
    listener.cancel()
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[max(0, int(q * len(ordered) + 0.5) - 1)] * 1000

    return {
        "events": len(events),
        "offered_rate": len(events) / sending,
        "insights": received,
        "measured": len(ordered),
        "p50_ms": pct(0.50) if ordered else None,
        "p99_ms": pct(0.99) if ordered else None,
        "max_ms": ordered[-1] * 1000 if ordered else None,
    }


async def throughput_phase(
    base: str, token: str, events: list[dict[str, Any]], database: Path
) -> dict[str, Any]:
    bodies = [orjson.dumps(events[i : i + BATCH]) for i in range(0, len(events), BATCH)]
    start_processed = _processed(database)
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    async with httpx.AsyncClient(base_url=base) as client:

        async def sender() -> None:
            while not queue.empty():
                await _post(client, token, queue.get_nowait())

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(IN_FLIGHT)))
        accepted = time.perf_counter() - started
    while _processed(database) - start_processed < len(events):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    total = time.perf_counter() - started
    return {
        "events": len(events),
        "accept_rate": len(events) / accepted,
        "end_to_end_rate": len(events) / total,
        "seconds": total,
    }


def run(engine: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="omnix-stream-") as folder:
        directory = Path(folder)
        latency_events, throughput_events = prepare(directory)
        env = {
            **bench_env(directory),
            "OMNIX_STREAMING_PARTNER_SUGGESTIONS": "false",
            "OMNIX_PREFIT_POPULATION": "false",
            "OMNIX_MAX_BODY_BYTES": str(20 * 1024 * 1024),
        }
        if engine == "redis":
            env["OMNIX_REDIS_URL"] = REDIS_URL
            env["OMNIX_STREAMING_KEY_PREFIX"] = f"omnix-bench:{uuid.uuid4().hex[:8]}:"
            env["OMNIX_STREAMING_CONSUME_IN_SERVE"] = "false"
        database = directory / "omnix.db"
        started = time.perf_counter()
        with server("omnix.asgi:app", env) as base:
            _wait_until_up(base)
            token = login(base, "manager@omnix.demo")
            if engine == "redis":
                started = time.perf_counter()
                with worker(env):
                    return _phases(
                        base,
                        token,
                        latency_events,
                        throughput_events,
                        database,
                        started,
                    )
            return _phases(
                base, token, latency_events, throughput_events, database, started
            )


def _phases(
    base: str,
    token: str,
    latency_events: list[dict[str, Any]],
    throughput_events: list[dict[str, Any]],
    database: Path,
    consumer_started: float,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    httpx.post(base + "/v1/streaming/stream/create", headers=headers).raise_for_status()
    ready = _wait_for_consumer(base, headers) - consumer_started
    latency = asyncio.run(latency_phase(base, token, latency_events, database))
    throughput = asyncio.run(throughput_phase(base, token, throughput_events, database))
    return {"ready_s": ready, "latency": latency, "throughput": throughput}


def _wait_for_consumer(
    base: str, headers: dict[str, str], seconds: float = 300.0
) -> float:
    """The instant a consumer is first listed, by the bus or by its own
    report (written when it starts taking events, after its warm-up)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = httpx.get(
            base + "/v1/streaming/stream/metrics", headers=headers, timeout=10
        )
        metrics = response.json() if response.status_code == 200 else {}
        if metrics.get("consumers") or metrics.get("processing"):
            return time.perf_counter()
        time.sleep(0.1)
    raise TimeoutError("no consumer read the stream")


def _wait_until_up(base: str, seconds: float = 180.0) -> None:
    """A loaded machine can take longer to import the app than the shared
    helper waits; wait here as long as it takes (within reason)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            httpx.get(base + "/health", timeout=2).raise_for_status()
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _fmt(value: float | None, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:,.0f}{unit}"


def main() -> None:
    if not (BENCH_DATA / "omnix.db").exists():
        ensure_demo_database()
    print("Streaming: Complete Journey purchase events through /events/batch")
    print(
        f"  machine: {os.cpu_count()} cores, load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}; database SQLite"
    )
    for engine, label in (
        ("redis", "Redis Streams, one worker"),
        ("memory", "embedded"),
    ):
        result = run(engine)
        lat, thr = result["latency"], result["throughput"]
        print(f"  {label}:")
        print(
            f"    start-up {result['ready_s']:.1f} s from the consumer's process "
            "start to its first read (imports and the warm-up read of households' "
            "histories; not in the figures below)"
        )
        print(
            f"    latency  {lat['events']:,} events at {lat['offered_rate']:,.0f}/s: "
            f"event-to-insight p50 {_fmt(lat['p50_ms'], ' ms')}, "
            f"p99 {_fmt(lat['p99_ms'], ' ms')} (target <= 250), "
            f"max {_fmt(lat['max_ms'], ' ms')} over {lat['measured']:,} insights"
        )
        print(
            f"    throughput {thr['events']:,} events: accepted at "
            f"{thr['accept_rate']:,.0f}/s, applied end to end at "
            f"{thr['end_to_end_rate']:,.0f}/s (target >= 5,000) in "
            f"{thr['seconds']:.1f} s"
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
