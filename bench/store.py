"""Store figures of the manager dashboard on the demo database, in one run.

* ``GET /v1/analytics/revenue`` for each granularity: the orders-then-days
  aggregate over every line in the database (1.46M on Complete Journey),
  median of seven requests in process;
* ``GET /v1/analytics/inventory-forecast?days=7``: the first request after
  the population fit (every pair of the history read and scored) and the
  warm ones (the kept forecast), medians.

The demo database (``data/bench``, loaded once by ``omnix demo --load-only``)
is copied to a temporary directory first, and tables newer than the copy are
created there; ``data/bench`` itself is only read. Times are wall and CPU
(every thread of the process) seconds: the machine shares its two cores.

Run with ``python -m bench.store``.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine

from bench.common import AS_OF, BENCH_DATA, PASSWORD, ensure_demo_database
from omnix.analytics.inventory import inventory_forecasts
from omnix.analytics.service import population_cache
from omnix.app import create_app
from omnix.clock import Clock
from omnix.config import Settings
from omnix.context import AppContext
from omnix.db.models import Base
from omnix.logging import configure_logging

ROUNDS = 7
MANAGER = "manager@omnix.demo"


def _copy_database(folder: Path) -> str:
    shutil.copy(BENCH_DATA / "omnix.db", folder / "omnix.db")
    engine = create_engine(f"sqlite:///{folder / 'omnix.db'}")
    Base.metadata.create_all(engine, checkfirst=True)
    engine.dispose()
    return f"sqlite+aiosqlite:///{folder / 'omnix.db'}"


async def _timed(call: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = await call()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _line(label: str, walls: list[float], cpus: list[float]) -> str:
    return (
        f"    {label:<28} wall {statistics.median(walls) * 1e3:8.1f} ms"
        f"   cpu {statistics.median(cpus) * 1e3:8.1f} ms"
    )


def _seconds(label: str, wall: float, cpu: float) -> str:
    return f"    {label:<28} wall {wall:8.1f} s    cpu {cpu:8.1f} s"


async def _run(url: str, folder: Path) -> None:
    settings = Settings(
        environment="test",
        data_dir=folder,
        database_url=url,
        jwt_secret="bench-signing-secret-" + "x" * 40,
        prefit_population=False,
    )
    context = AppContext.from_settings(settings, Clock(datetime.fromisoformat(AS_OF)))
    transport = httpx.ASGITransport(app=create_app(context))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://bench", timeout=600
    ) as client:
        login = await client.post(
            "/auth/login", json={"email": MANAGER, "password": PASSWORD}
        )
        headers = {"Authorization": f"Bearer {login.json()['data']['accessToken']}"}
        print(f"Store figures on the demo database at {AS_OF[:10]}")
        print(f"  revenue series ({ROUNDS} requests, medians)")
        for granularity in ("day", "week", "month"):
            walls, cpus = [], []
            for _ in range(ROUNDS):

                async def revenue(g: str = granularity) -> httpx.Response:
                    return await client.get(
                        "/v1/analytics/revenue",
                        params={"granularity": g},
                        headers=headers,
                    )

                answer, wall, cpu = await _timed(revenue)
                assert answer.status_code == 200, answer.text
                walls.append(wall)
                cpus.append(cpu)
            points = len(answer.json()["points"])
            print(_line(f"{granularity} ({points} periods)", walls, cpus))

        as_of = context.clock.now()
        _, fit_wall, fit_cpu = await _timed(
            lambda: population_cache(context).get(as_of)
        )

        async def forecast() -> httpx.Response:
            return await client.get(
                "/v1/analytics/inventory-forecast",
                params={"days": 7},
                headers=headers,
            )

        first, cold_wall, cold_cpu = await _timed(forecast)
        assert first.status_code == 200, first.text
        warm_walls, warm_cpus = [], []
        for _ in range(ROUNDS):
            _, wall, cpu = await _timed(forecast)
            warm_walls.append(wall)
            warm_cpus.append(cpu)
        kept = await inventory_forecasts(context).get(
            await population_cache(context).get(as_of), as_of, 7
        )
        print(
            f"  inventory forecast, 7 days ({kept.products.height:,} products, "
            f"{first.json()['totalExpectedUnits']:,.0f} units expected)"
        )
        print(_seconds("population fit (before)", fit_wall, fit_cpu))
        print(_seconds("first request", cold_wall, cold_cpu))
        print(_line("warm requests", warm_walls, warm_cpus))
    await context.db.dispose()


def main() -> None:
    configure_logging(json=False, level="WARNING")
    ensure_demo_database()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        asyncio.run(_run(_copy_database(folder), folder))


if __name__ == "__main__":
    main()
