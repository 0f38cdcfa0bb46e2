"""The ``omnix worker`` command refuses to start without a queue to share."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from omnix.batch.worker import app
from omnix.config import get_settings


def test_worker_needs_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMNIX_REDIS_URL", raising=False)
    get_settings.cache_clear()

    result = CliRunner().invoke(app, ["--concurrency", "2"])
    get_settings.cache_clear()

    assert result.exit_code == 2
    assert "OMNIX_REDIS_URL is not set" in result.output


def test_worker_concurrency_is_bounded() -> None:
    result = CliRunner().invoke(app, ["--concurrency", "0"])

    assert result.exit_code == 2
    assert "concurrency" in result.output.lower()
