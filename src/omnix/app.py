"""The FastAPI application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from swagger_ui_bundle import swagger_ui_path

from omnix import __version__
from omnix.analytics.endpoints import router as analytics_router
from omnix.analytics.inventory import prefit_inventory
from omnix.analytics.store_endpoints import router as store_analytics_router
from omnix.auth.endpoints import router as auth_router
from omnix.batch.endpoints import router as batch_router
from omnix.context import AppContext
from omnix.costs.endpoints import router as costs_router
from omnix.customers.endpoints import router as customers_router
from omnix.errors import OmnixError, error_envelope
from omnix.experiments.endpoints import router as experiments_router
from omnix.segments.endpoints import router as segments_router
from omnix.segments.tasks import run_segment_schedule
from omnix.streaming.endpoints import router as streaming_router
from omnix.streaming.runtime import run_streaming
from omnix.system.endpoints import router as system_router
from omnix.system.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from omnix.system.response_cache import ResponseCacheMiddleware
from omnix.system.strict_query import refuse_unknown_query
from omnix.web import mount_dashboards

log = structlog.get_logger()

API_DESCRIPTION = """Customer analytics for supermarket chains.

Errors always come as `{statusCode, error, message}` with `details` naming each
offending field on validation errors. Authenticate with `POST /auth/login` and
send `Authorization: Bearer <accessToken>`.
"""


def _operation_id(route: APIRoute) -> str:
    return route.name


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            # FastAPI puts the character offset where the field would be.
            offset = (error.get("loc") or ("body", 0))[-1]
            reason = error.get("ctx", {}).get("error", "not JSON")
            details.append(
                {
                    "field": "body",
                    "message": f"is not valid JSON: {reason} at character {offset}",
                }
            )
            continue
        location = ".".join(str(part) for part in error.get("loc", ()))
        details.append({"field": location or "body", "message": str(error.get("msg"))})
    return details


async def _omnix_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OmnixError)
    if exc.status_code >= 500:
        log.error("http.error", status=exc.status_code, message=exc.message)
    return JSONResponse(
        exc.envelope(), status_code=exc.status_code, headers=exc.headers
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = _validation_details(exc)
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return JSONResponse(
        error_envelope(400, f"Validation failed: {summary}", details), status_code=400
    )


# Methods a 405 may name; probing each keeps to Starlette's public matching.
_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path. Starlette's 405 names only
    the first route whose path matched, but a path such as a profile has its
    GET and its PUT on two routes, and ``Allow`` must list both."""
    allowed = []
    for method in _METHODS:
        probe = {**request.scope, "method": method}
        if any(
            route.matches(probe)[0] == Match.FULL for route in request.app.router.routes
        ):
            allowed.append(method)
    return ", ".join(allowed)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return JSONResponse(
        error_envelope(exc.status_code, str(exc.detail)),
        status_code=exc.status_code,
        headers=headers or None,
    )


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("http.unhandled", error=type(exc).__name__)
    return JSONResponse(error_envelope(500, "Internal server error"), status_code=500)


def create_app(context: AppContext) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        log.info("omnix.started", version=__version__, database=context.db.dialect)
        background = [
            asyncio.create_task(run_segment_schedule(context)),
            asyncio.create_task(run_streaming(context)),
        ]
        if context.settings.prefit_population:
            # The first analysis (and the manager's inventory forecast) would
            # otherwise wait for the population fit.
            background.append(asyncio.create_task(prefit_inventory(context)))
        try:
            yield
        finally:
            # Stopped here, not left to the loop's end: the streaming runtime
            # closes its bus, and an app whose lifespan is restarted in the
            # same loop (tests, embedding) must not pile up consumers.
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            context.read_cache.close()
            await context.db.dispose()

    app = FastAPI(
        title="OMNIX Customer Analytics API",
        version=__version__,
        description=API_DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        generate_unique_id_function=_operation_id,
        lifespan=lifespan,
        dependencies=[Depends(refuse_unknown_query)],
    )
    app.state.context = context

    app.add_exception_handler(OmnixError, _omnix_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)

    app.add_middleware(
        ResponseCacheMiddleware, cache=context.read_cache, clock=context.clock
    )
    app.add_middleware(
        BodySizeLimitMiddleware, max_bytes=context.settings.max_body_bytes
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=context.settings.cors_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    app.add_middleware(RequestContextMiddleware)

    app.include_router(system_router)
    app.include_router(auth_router)
    # The guide's clients call both; the schema documents the short form once.
    app.include_router(auth_router, prefix="/v1", include_in_schema=False)
    app.include_router(costs_router, prefix="/v1")
    app.include_router(segments_router, prefix="/v1")
    app.include_router(batch_router, prefix="/v1")
    app.include_router(customers_router, prefix="/v1")
    app.include_router(analytics_router, prefix="/v1")
    app.include_router(store_analytics_router, prefix="/v1")
    app.include_router(streaming_router)  # /v1/streaming/* and /ws
    app.include_router(experiments_router, prefix="/v1")
    _mount_docs(app)
    mount_dashboards(app)
    return app


def _mount_docs(app: FastAPI) -> None:
    app.mount(
        "/api-docs/assets",
        StaticFiles(directory=Path(swagger_ui_path)),
        name="swagger-assets",
    )

    @app.get("/api-docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="OMNIX API",
            swagger_js_url="/api-docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/api-docs/assets/swagger-ui.css",
            swagger_favicon_url="/api-docs/assets/favicon-32x32.png",
        )
