"""Health and metrics."""

from __future__ import annotations

import time
from typing import Literal

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import Field
from sqlalchemy import text

from omnix import __version__
from omnix.deps import ContextDep
from omnix.schemas import ApiModel

router = APIRouter(tags=["system"])


class DatabaseHealth(ApiModel):
    status: Literal["up", "down"]
    dialect: str
    latency_ms: float | None = None
    error: str | None = None


class Health(ApiModel):
    status: Literal["ok", "degraded"]
    version: str
    time: str = Field(description="Wall-clock time of the answer, ISO 8601.")
    as_of: str = Field(description="Business 'now' that analytics use.")
    clock_pinned: bool
    database: DatabaseHealth


async def _health(context: ContextDep, response: Response) -> Health:
    started = time.perf_counter()
    try:
        async with context.db.session() as session:
            await session.execute(text("SELECT 1"))
        database = DatabaseHealth(
            status="up",
            dialect=context.db.dialect,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
        )
    except Exception as exc:  # any driver error means "down", reported not raised
        database = DatabaseHealth(
            status="down", dialect=context.db.dialect, error=type(exc).__name__
        )
        response.status_code = 503
    return Health(
        status="ok" if database.status == "up" else "degraded",
        version=__version__,
        time=context.clock.wall().isoformat(),
        as_of=context.clock.now().isoformat(),
        clock_pinned=context.clock.pinned is not None,
        database=database,
    )


@router.get("/health", operation_id="health", responses={503: {"model": Health}})
async def health(context: ContextDep, response: Response) -> Health:
    """Service health: version, clock and database reachability."""
    return await _health(context, response)


@router.get("/v1/health", operation_id="healthV1", responses={503: {"model": Health}})
async def health_v1(context: ContextDep, response: Response) -> Health:
    """Service health (same as ``/health``)."""
    return await _health(context, response)


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
