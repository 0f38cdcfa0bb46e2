"""Throughput and latency of the profile and purchases endpoints (wrk).

Each round measures the bare FastAPI endpoint and the two OMNIX endpoints side
by side; the figures printed are medians over the rounds.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

from bench.common import (
    BENCH_DATA,
    bench_env,
    ensure_demo_database,
    login,
    median,
    server,
)

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))

LUA = """
local ids = {%s}
local i = 0
request = function()
  i = i + 1
  local id = ids[(i %% #ids) + 1]
  return wrk.format("GET", string.format("%s", id), {["Authorization"] = "Bearer %s"})
end
"""


def _households() -> list[str]:
    """Every seventh demo household that has purchases."""
    with sqlite3.connect(BENCH_DATA / "omnix.db") as connection:
        rows = connection.execute(
            "SELECT DISTINCT customer_id FROM purchases ORDER BY customer_id"
        ).fetchall()
    return [row[0] for row in rows[::7]]


def _wrk(
    base: str, path_template: str, token: str, connections: int
) -> tuple[float, float]:
    """Requests per second and p99 latency in milliseconds."""
    ids = ",".join(f'"{h}"' for h in _households())
    script = LUA % (ids, path_template, token)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    output = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{SECONDS}s",
            "--latency",
            "-s",
            handle.name,
            base,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    Path(handle.name).unlink()
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise RuntimeError(
            f"{path_template}: {errors.group(1)} failed responses\n{output}"
        )
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    assert p99 is not None
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return rps, float(p99.group(1)) * scale


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    ensure_demo_database()
    env = bench_env()
    endpoints = {
        "bare FastAPI JSON": "/v1/customers/%s/profile",
        "GET profile": "/v1/customers/%s/profile",
        "GET purchases?limit=50": "/v1/customers/%s/purchases?limit=50",
    }
    results: dict[str, dict[str, list[float]]] = {
        name: {"rps32": [], "p99_8": []} for name in endpoints
    }
    with (
        server("bench.bare_app:app", env) as bare,
        server("omnix.asgi:app", env) as api,
    ):
        token = login(api, "manager@omnix.demo")
        for _ in range(ROUNDS):
            for name, template in endpoints.items():
                base = bare if name.startswith("bare") else api
                rps, _ = _wrk(base, template, token, 32)
                _, p99 = _wrk(base, template, token, 8)
                results[name]["rps32"].append(rps)
                results[name]["p99_8"].append(p99)
    bare_rps = median(results["bare FastAPI JSON"]["rps32"])
    print(f"API ({ROUNDS} rounds of {SECONDS} s, medians; wrk, one uvicorn worker)")
    print(f"{'endpoint':<26}{'req/s @32':>12}{'ratio':>8}{'p99 ms @8':>12}")
    for name, figures in results.items():
        rps, p99 = median(figures["rps32"]), median(figures["p99_8"])
        print(f"{name:<26}{rps:>12.0f}{rps / bare_rps:>8.2f}{p99:>12.1f}")
    print("targets: ratio >= 0.50 at 32 connections, p99 <= 20 ms at 8 connections")


if __name__ == "__main__":
    main()
