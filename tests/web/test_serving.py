"""The dashboards at ``/``: files of the build, the app's fallback for its own
routes, API paths untouched, a build hint when nothing is built, the store
configuration."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import FileResponse

from omnix.app import create_app
from omnix.web import DashboardFallback

INDEX = "<!doctype html><title>OMNIX dashboards</title><div id=root></div>"
SCRIPT = "console.log('dashboards');"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    folder = tmp_path / "dist"
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text(INDEX)
    (folder / "assets" / "index-3f9a1c.js").write_text(SCRIPT)
    (folder / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("outside the build")
    return folder


async def _client_serving(context, dist_dirs: tuple[Path, ...]) -> httpx.AsyncClient:
    app = create_app(context)
    fallback = app.router.default
    assert isinstance(fallback, DashboardFallback)
    fallback.dist_dirs = dist_dirs
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://omnix.test"
    )


async def test_root_and_app_routes_answer_the_index(context, dist):
    async with await _client_serving(context, (dist,)) as client:
        for path in ("/", "/sign-in", "/customers/1364", "/manager/ab-tests/t-1"):
            response = await client.get(path, headers={"Accept": "text/html"})
            assert response.status_code == 200, path
            assert response.text == INDEX
            assert response.headers["cache-control"] == "no-cache"


async def test_hashed_assets_are_served_and_cached_for_good(context, dist):
    async with await _client_serving(context, (dist,)) as client:
        script = await client.get("/assets/index-3f9a1c.js")
        assert script.status_code == 200
        assert script.text == SCRIPT
        assert "javascript" in script.headers["content-type"]
        assert "immutable" in script.headers["cache-control"]

        icon = await client.get("/favicon.svg")
        assert icon.status_code == 200
        assert icon.headers["cache-control"] == "no-cache"

        missing = await client.get("/assets/index-000000.js")
        assert missing.status_code == 404
        assert missing.json()["statusCode"] == 404


async def test_api_paths_keep_priority(context, dist):
    async with await _client_serving(context, (dist,)) as client:
        health = await client.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "ok"

        schema = await client.get("/openapi.json")
        assert schema.json()["info"]["title"].startswith("OMNIX")

        docs = await client.get("/api-docs")
        assert docs.status_code == 200
        assert "swagger" in docs.text.lower()

        for path in ("/v1/no-such-thing", "/auth/nowhere", "/ws", "/metrics/x"):
            response = await client.get(path, headers={"Accept": "text/html"})
            assert response.status_code == 404, path
            assert response.json()["statusCode"] == 404, path

        anonymous = await client.get("/v1/customers/1/profile")
        assert anonymous.status_code == 401

        posted = await client.post("/customers/1364", json={})
        assert posted.status_code == 404
        assert posted.json()["statusCode"] == 404


async def test_paths_outside_the_build_are_never_served(context, dist):
    # Clients normalise "..", so the fallback is asked directly with raw paths.
    fallback = DashboardFallback((dist,), not_found=_unused)
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})

    escaped = fallback.response_for("/../secret.txt", request)
    assert isinstance(escaped, FileResponse)
    assert Path(escaped.path) == dist / "index.html"

    escaped_asset = fallback.response_for("/assets/../../secret.txt", request)
    assert escaped_asset.status_code == 404
    assert not isinstance(escaped_asset, FileResponse)


async def _unused(scope, receive, send) -> None:
    raise AssertionError("the API fallback should not run")


async def test_without_a_build_pages_say_how_to_build(context, tmp_path):
    async with await _client_serving(context, (tmp_path / "absent",)) as client:
        page = await client.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")
        assert "make web" in page.text

        as_json = await client.get("/customers/7", headers={"Accept": "*/*"})
        assert as_json.status_code == 404
        assert "make web" in as_json.json()["message"]

        assert (await client.get("/health")).status_code == 200


async def test_store_config_gives_time_zone_currency_and_business_now(client):
    response = await client.get("/v1/config")
    assert response.status_code == 200
    body = response.json()
    assert body["timezone"] == "UTC"
    assert body["currency"] == "USD"
    assert body["locale"] == "en-US"
    assert body["asOf"].startswith("2018-01-01T00:00:00")
    assert body["clockPinned"] is True


async def test_store_config_is_in_the_schema_with_its_operation_id(client):
    schema = (await client.get("/openapi.json")).json()
    operation = schema["paths"]["/v1/config"]["get"]
    assert operation["operationId"] == "getStoreConfig"
    assert "StoreConfig" in schema["components"]["schemas"]
