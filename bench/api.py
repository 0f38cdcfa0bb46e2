"""Throughput and latency of the profile and purchases endpoints (wrk).

Each round measures the bare FastAPI endpoint and the two OMNIX endpoints side
by side, with the read cache on (the default) and off; the figures printed are
medians over the rounds. Servers are measured once their start-up work (the
population fit) has finished and one pass over the households has run.
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
    base: str, path_template: str, token: str, connections: int, seconds: int = 0
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
            f"-d{seconds or SECONDS}s",
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
    # The miss path: every request reads the database.
    uncached_env = {**env, "OMNIX_READ_CACHE_MB": "0"}
    endpoints = {
        "GET profile": "/v1/customers/%s/profile",
        "GET purchases?limit=50": "/v1/customers/%s/purchases?limit=50",
    }
    rows = ["bare FastAPI JSON"] + [
        f"{name}{suffix}" for suffix in ("", " (cache off)") for name in endpoints
    ]
    results: dict[str, dict[str, list[float]]] = {
        row: {"rps32": [], "p99_8": []} for row in rows
    }
    with (
        server("bench.bare_app:app", env) as bare,
        server("omnix.asgi:app", env) as cached,
        server("omnix.asgi:app", uncached_env) as uncached,
    ):
        token = login(cached, "manager@omnix.demo")
        targets = {"bare FastAPI JSON": (bare, endpoints["GET profile"])}
        for name, template in endpoints.items():
            targets[name] = (cached, template)
            targets[f"{name} (cache off)"] = (uncached, template)
        # One pass over the households first: the figures are the warm state.
        for base, template in targets.values():
            _wrk(base, template, token, 8, seconds=2)
        for _ in range(ROUNDS):
            for row, (base, template) in targets.items():
                rps, _ = _wrk(base, template, token, 32)
                _, p99 = _wrk(base, template, token, 8)
                results[row]["rps32"].append(rps)
                results[row]["p99_8"].append(p99)
    bare_rps = median(results["bare FastAPI JSON"]["rps32"])
    print(f"API ({ROUNDS} rounds of {SECONDS} s, medians; wrk, one uvicorn worker)")
    print(f"{'endpoint':<38}{'req/s @32':>12}{'ratio':>8}{'p99 ms @8':>12}")
    for row, figures in results.items():
        rps, p99 = median(figures["rps32"]), median(figures["p99_8"])
        print(f"{row:<38}{rps:>12.0f}{rps / bare_rps:>8.2f}{p99:>12.1f}")
    print("targets: ratio >= 0.50 at 32 connections, p99 <= 20 ms at 8 connections")
    print("(cache off: OMNIX_READ_CACHE_MB=0, every request reads the database)")


if __name__ == "__main__":
    main()
