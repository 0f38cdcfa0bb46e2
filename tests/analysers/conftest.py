"""A scripted HTTP server on 127.0.0.1 that plays an LLM provider's part.

Each test queues the replies the "provider" gives, in order, and afterwards
reads the requests it received. The SDKs under test talk to it over real
sockets, so the wire format (paths, headers, JSON shapes, status codes) is
exercised exactly as against the real service.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

# The analytics tests' small store, for the end-to-end analyser tests.
from tests.analytics.conftest import store  # noqa: F401


@dataclass(frozen=True)
class ScriptedReply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class ScriptedProvider(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.replies: deque[ScriptedReply] = deque()
        # Answers computed from each request, for concurrent requests whose
        # arrival order is not known; used once the queued replies run out.
        self.responder: Callable[[ReceivedRequest], ScriptedReply] | None = None
        self.received: list[ReceivedRequest] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def reply(
        self,
        status: int,
        body: Any,
        *,
        headers: dict[str, str] | None = None,
        delay_s: float = 0.0,
    ) -> None:
        """Queue the next reply."""
        self.replies.append(ScriptedReply(status, body, headers or {}, delay_s))

    def next_reply(self, request: ReceivedRequest) -> ScriptedReply:
        with self._lock:
            self.received.append(request)
            if self.replies:
                return self.replies.popleft()
        if self.responder is not None:
            return self.responder(request)
        return ScriptedReply(599, {"message": "no scripted reply left"})


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedProvider

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        body = json.loads(raw) if raw else None
        request = ReceivedRequest(
            method="POST",
            path=self.path,
            headers={key.lower(): value for key, value in self.headers.items()},
            body=body,
        )
        reply = self.server.next_reply(request)
        if reply.delay_s and self.server.stopping.wait(reply.delay_s):
            return
        payload = (
            reply.body
            if isinstance(reply.body, bytes)
            else json.dumps(reply.body).encode()
        )
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its deadline passed): nothing to answer.
            pass

    def log_message(self, format: str, *args: Any) -> None:
        # Keep pytest output clean; the received list is the record.
        pass


@pytest.fixture
def provider_server() -> Iterator[ScriptedProvider]:
    server = ScriptedProvider()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def aws_test_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Fake static AWS keys in the environment, and nothing else to find."""
    _isolate_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDOMNIXTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "omnix-test-secret")


@pytest.fixture
def no_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """An environment in which the AWS credential chain finds nothing."""
    _isolate_aws(monkeypatch, tmp_path)


def _isolate_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_BEARER_TOKEN_BEDROCK",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    # Never wait on the EC2 instance metadata service from a test.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def fitted_shop() -> Any:
    """The engine tests' simulated shop with its population models (fitted once)."""
    from omnix.engine.population import fit_population_models
    from tests.engine.conftest import simulate_shop

    shop = simulate_shop()
    models = fit_population_models(
        shop.history, shop.catalogue, shop.customers, shop.split
    )
    return shop, models
