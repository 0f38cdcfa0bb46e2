"""Shared pieces of the benchmarks: a loaded demo database and servers."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATA = ROOT / "data" / "bench"
PASSWORD = "bench-password-not-secret"
AS_OF = "2018-01-01T00:00:00+00:00"


def bench_env(data_dir: Path = BENCH_DATA) -> dict[str, str]:
    return {
        **os.environ,
        "OMNIX_DATA_DIR": str(data_dir),
        "OMNIX_AS_OF": AS_OF,
        "OMNIX_DEMO_PASSWORD": PASSWORD,
        "OMNIX_LOG_LEVEL": "WARNING",
    }


def omnix(*args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "omnix.cli", *args],
        env=env or bench_env(),
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def ensure_demo_database() -> None:
    """Load the demo data once into ``data/bench`` and reuse it afterwards."""
    omnix("demo", "--load-only")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_idle(pid: int, limit_s: float = 180.0) -> float:
    """Seconds until a server's start-up work (model fits) has finished.

    Idle means under 5% of a core over one second; measuring before that
    would time the start-up work, not the requests.
    """
    started = time.perf_counter()
    while time.perf_counter() - started < limit_s:
        before = _cpu_seconds(pid)
        time.sleep(1.0)
        if _cpu_seconds(pid) - before < 0.05:
            break
    return time.perf_counter() - started


@contextmanager
def server(app: str, env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(base + "/openapi.json", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        wait_until_idle(process.pid)
        yield base
    finally:
        process.terminate()
        process.wait(10)


def login(base: str, email: str) -> str:
    response = httpx.post(
        base + "/auth/login", json={"email": email, "password": PASSWORD}
    )
    response.raise_for_status()
    return str(response.json()["data"]["accessToken"])


def median(values: list[float]) -> float:
    return statistics.median(values)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)
