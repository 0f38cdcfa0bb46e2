"""``omnix segments recompute`` against the test database."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from omnix.config import get_settings
from omnix.segments.cli import app
from omnix.segments.models import SegmentRun
from tests.conftest import TEST_SECRET
from tests.segments.support import champion_and_regulars, store


@pytest.fixture
def cli_environment(monkeypatch, database_url, tmp_path):
    monkeypatch.setenv("OMNIX_DATABASE_URL", database_url)
    monkeypatch.setenv("OMNIX_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OMNIX_JWT_SECRET", TEST_SECRET)
    monkeypatch.setenv("OMNIX_AS_OF", "2018-01-01T00:00:00+00:00")
    monkeypatch.setenv("OMNIX_LOG_LEVEL", "WARNING")
    # The test schema comes from the models; Alembic has nothing to do here.
    monkeypatch.setattr("omnix.db.migrate.upgrade", lambda url: None)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def test_recompute_now_and_back_dated(context, cli_environment):
    await store(context, champion_and_regulars())
    runner = CliRunner()

    back = await asyncio.to_thread(
        runner.invoke, app, ["recompute", "--as-of", "2017-10-01"]
    )
    now = await asyncio.to_thread(runner.invoke, app, ["recompute"])

    assert back.exit_code == 0, back.output
    assert now.exit_code == 0, now.output
    assert "Segmented 30 customers as of 2017-10-01T00:00:00+00:00" in back.output
    assert "as of 2018-01-01T00:00:00+00:00" in now.output
    assert "cant_lose_them" in now.output
    async with context.db.session() as session:
        runs = (await session.scalars(select(SegmentRun).order_by(SegmentRun.id))).all()
    assert [(r.triggered_by, r.as_of.month) for r in runs] == [("cli", 10), ("cli", 1)]
    assert runs[1].migration_count > 0


def test_recompute_rejects_a_bad_instant(cli_environment):
    result = CliRunner().invoke(app, ["recompute", "--as-of", "yesterday"])
    assert result.exit_code == 2
    assert "not an ISO 8601 instant" in result.output
