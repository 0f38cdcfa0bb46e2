"""The dashboards: the built web app (``web/dist``) served at ``/``.

The single-page app is served as the router's *fallback*, which runs only
when no API route matched. So no route is ever shadowed, whatever order
routers are included in, and an unknown path under an API prefix still gets
the JSON error envelope. Any other unknown path answers ``index.html``, where
the browser-side router takes over (a bookmark of ``/customers/42`` works).

The build is looked up on each request, so ``make web`` run while the server
is up takes effect without a restart. Without a build, pages answer a short
note on how to make one.

The dashboards also need a few facts about the store that no other endpoint
gives (its time zone, for showing dates as the store sees them, and the
currency of prices); ``GET /v1/config`` answers them.
"""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import APIRouter, FastAPI
from pydantic import Field
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from omnix.deps import ContextDep
from omnix.errors import error_envelope
from omnix.schemas import ApiModel

# Paths the API owns: never answered with the app, even when nothing matched.
API_PREFIXES = ("/v1", "/auth", "/health", "/api-docs", "/openapi.json", "/metrics")
API_PREFIXES_WS = ("/ws",)

# Prices carry no currency in the data; the Complete Journey data is American.
STORE_CURRENCY = "USD"
STORE_LOCALE = "en-US"

BUILD_HINT = (
    "The dashboards are not built. Run `make web` (needs Node 20 and npm), "
    "or `cd web && npm ci && npm run generate && npm run build`, then reload."
)

_REPO_ROOT = Path(__file__).resolve().parents[2]
# A packaged copy first (a wheel has no web/ folder), then the source tree's build.
DEFAULT_DIST_DIRS = (
    Path(__file__).resolve().parent / "web_dist",
    _REPO_ROOT / "web" / "dist",
)

router = APIRouter(tags=["dashboards"])


class StoreConfig(ApiModel):
    timezone: str = Field(description="IANA time zone of the store's calendar days.")
    currency: str = Field(description="ISO 4217 code of every price and amount.")
    locale: str = Field(description="BCP 47 tag the dashboards format numbers with.")
    as_of: str = Field(description="Business 'now' that analytics use, ISO 8601.")
    clock_pinned: bool


@router.get("/v1/config", operation_id="getStoreConfig")
async def store_config(context: ContextDep) -> StoreConfig:
    """Store time zone, currency and business 'now', for showing dates and money."""
    return StoreConfig(
        timezone=str(context.clock.timezone),
        currency=STORE_CURRENCY,
        locale=STORE_LOCALE,
        as_of=context.clock.now().isoformat(),
        clock_pinned=context.clock.pinned is not None,
    )


def find_dist(candidates: tuple[Path, ...]) -> Path | None:
    """The first folder holding a built ``index.html``, or None."""
    for folder in candidates:
        if (folder / "index.html").is_file():
            return folder
    return None


def is_api_path(path: str) -> bool:
    return any(
        path == prefix or path.startswith(prefix + "/")
        for prefix in API_PREFIXES + API_PREFIXES_WS
    )


class DashboardFallback:
    """Router fallback: files of the build, else ``index.html``, else a build hint."""

    def __init__(self, dist_dirs: tuple[Path, ...], not_found: ASGIApp) -> None:
        self.dist_dirs = dist_dirs
        self.not_found = not_found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "/")
        serves_page = (
            scope["type"] == "http"
            and scope.get("method") in ("GET", "HEAD")
            and not is_api_path(path)
        )
        if not serves_page:
            await self.not_found(scope, receive, send)
            return
        response = self.response_for(path, Request(scope))
        await response(scope, receive, send)

    def response_for(self, path: str, request: Request) -> Response:
        dist = find_dist(self.dist_dirs)
        if dist is None:
            return _build_hint(request)
        asset = _file_under(dist, path)
        if asset is not None:
            # Vite puts a content hash in every name under assets/.
            cache = (
                "public, max-age=31536000, immutable"
                if path.startswith("/assets/")
                else "no-cache"
            )
            return FileResponse(asset, headers={"Cache-Control": cache})
        if path.startswith("/assets/"):
            # A missing script must fail loudly, not load the page as JavaScript.
            return JSONResponse(
                error_envelope(404, f"No such file: {path}"), status_code=404
            )
        return FileResponse(dist / "index.html", headers={"Cache-Control": "no-cache"})


def _file_under(dist: Path, path: str) -> Path | None:
    """The file ``path`` names inside ``dist``; None for folders and escapes."""
    relative = path.lstrip("/")
    if not relative:
        return None
    candidate = (dist / relative).resolve()
    root = dist.resolve()
    if candidate != root and root not in candidate.parents:
        return None
    return candidate if candidate.is_file() else None


def _build_hint(request: Request) -> Response:
    if "text/html" in request.headers.get("accept", ""):
        body = (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<title>OMNIX</title></head><body><h1>OMNIX</h1>"
            f"<p>{html.escape(BUILD_HINT)}</p>"
            "<p>The API is up: see <a href='/api-docs'>/api-docs</a>.</p>"
            "</body></html>"
        )
        return HTMLResponse(body, status_code=404)
    return JSONResponse(error_envelope(404, BUILD_HINT), status_code=404)


def mount_dashboards(
    app: FastAPI, dist_dirs: tuple[Path, ...] = DEFAULT_DIST_DIRS
) -> None:
    """Serve the dashboards at ``/`` and the store configuration they read."""
    app.include_router(router)
    app.router.default = DashboardFallback(dist_dirs, app.router.default)
