"""End-to-end fixtures: a running OMNIX with the demo data and Debian's Chromium.

These tests drive a real browser against a real server, so they run only when
asked (``make test-e2e`` sets ``OMNIX_E2E=1``); the ordinary suite skips them.
The server is the one at ``OMNIX_E2E_URL`` when that is set; otherwise a
fresh one is started here: ``omnix demo --load-only`` into a temporary data
directory, then ``omnix serve`` on a free port, stopped at the end.

Chromium is the system's (``/usr/lib/chromium/chromium``, from the Debian
package); Playwright never downloads a browser. Screenshots go to
``artifacts/screenshots/``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("OMNIX_E2E_CHROMIUM", "/usr/lib/chromium/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
DEMO_PASSWORD = "e2e-demo-password-not-secret"
DEMO_AS_OF = "2018-01-01T00:00:00Z"
MANAGER_EMAIL = "manager@omnix.demo"
CUSTOMER_EMAIL = "customer@omnix.demo"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    here = Path(__file__).parent
    for item in items:
        if here not in Path(str(item.fspath)).parents:
            continue
        item.add_marker(pytest.mark.browser)
        if os.environ.get("OMNIX_E2E") != "1":
            item.add_marker(
                pytest.mark.skip(reason="browser tests run with `make test-e2e`")
            )


@dataclass(frozen=True)
class Server:
    url: str
    password: str
    served: frozenset[tuple[str, str]]

    def serves(self, method: str, path: str) -> bool:
        return (method.lower(), path) in self.served

    def api(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        timeout: float = 60,
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method.upper()
        )
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def sign_in(self, email: str) -> dict[str, Any]:
        answer = self.api(
            "POST", "/auth/login", body={"email": email, "password": self.password}
        )
        data: dict[str, Any] = answer["data"]
        return data


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"omnix serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise RuntimeError(f"omnix serve did not answer {url}/health in {seconds} s")


def _omnix() -> str:
    candidate = Path(sys.executable).with_name("omnix")
    return str(candidate) if candidate.exists() else "omnix"


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    external = os.environ.get("OMNIX_E2E_URL")
    if external:
        password = os.environ.get("OMNIX_DEMO_PASSWORD", DEMO_PASSWORD)
        described = _describe(external.rstrip("/"), password)
        _warm_up(described)
        yield described
        return

    # Not under pytest's basetemp: other pytest runs on the machine prune old
    # basetemp folders, and this one must outlive the whole session.
    data_dir = Path(tempfile.mkdtemp(prefix="omnix-e2e-"))
    try:
        yield from _serve_demo(data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _serve_demo(data_dir: Path) -> Iterator[Server]:
    env = {
        **os.environ,
        "OMNIX_DATA_DIR": str(data_dir),
        "OMNIX_AS_OF": DEMO_AS_OF,
        "OMNIX_DEMO_PASSWORD": DEMO_PASSWORD,
        "OMNIX_ENVIRONMENT": "test",
    }
    env.pop("OMNIX_DATABASE_URL", None)
    subprocess.run(
        [_omnix(), "demo", "--load-only"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=600,
    )
    port = _free_port()
    log = (data_dir / "serve.log").open("wb")
    process = subprocess.Popen(
        [_omnix(), "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, seconds=60)
        described = _describe(url, DEMO_PASSWORD)
        _warm_up(described)
        yield described
    finally:
        died = process.poll()
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        # Server-side errors are in its log; show them with the test report.
        tail = (data_dir / "serve.log").read_text(errors="replace")
        errors = [line for line in tail.splitlines() if "Error" in line][-10:]
        if died is not None or errors:
            state = f"exited with {died}" if died is not None else "logged errors"
            sys.stderr.write(f"\nomnix serve {state}:\n" + "\n".join(errors) + "\n")


WARM_UP_PATHS = (
    "/v1/customers/{id}/replenishment-alerts",
    "/v1/customers/{id}/ai-recommendations",
    "/v1/customers/{id}/consumption-predictions",
    "/v1/customers/{id}/customer-profile-analysis",
)


def _warm_up(server: Server) -> None:
    """The first analyses fit population models over every line (one to two
    minutes on two cores); pay that once here rather than inside a page's
    timeout."""
    login = server.sign_in(CUSTOMER_EMAIL)
    household = login["user"]["customerId"]
    for path in WARM_UP_PATHS:
        if not server.serves("get", path):
            continue
        started = time.monotonic()
        try:
            server.api(
                "GET",
                path.replace("{id}", household),
                token=login["accessToken"],
                timeout=600,
            )
        except urllib.error.HTTPError as failure:
            # The tests that need the analysis fail on their own, with their
            # story; the others still run.
            sys.stderr.write(f"\nwarm-up: {path} answered {failure.code}\n")
        sys.stderr.write(f"\nwarm-up: {path} {time.monotonic() - started:.1f} s\n")


def _describe(url: str, password: str) -> Server:
    with urllib.request.urlopen(url + "/openapi.json", timeout=30) as response:
        schema = json.loads(response.read())
    served = frozenset(
        (method, path)
        for path, operations in schema["paths"].items()
        for method in operations
    )
    return Server(url=url, password=password, served=served)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `apt-get install chromium` (make test-e2e does)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


def _page(browser: Any, viewport: dict[str, int]) -> Iterator[Any]:
    context = browser.new_context(viewport=viewport, locale="en-US")
    context.set_default_timeout(60_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    yield from _page(browser, DESKTOP)


@pytest.fixture
def phone_page(browser: Any) -> Iterator[Any]:
    yield from _page(browser, PHONE)


def expect_served(
    request: pytest.FixtureRequest, server: Server, method: str, path: str, why: str
) -> None:
    """Marks the test expected to fail while the API lacks the endpoint."""
    if not server.serves(method, path):
        request.applymarker(
            pytest.mark.xfail(
                reason=f"{method.upper()} {path} is not served yet: {why}", strict=True
            )
        )
