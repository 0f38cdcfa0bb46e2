"""Population models, fitted once per clock and data version, shared by requests.

Fitting reads every household's history (about a second to load and a few to
fit on the demo data), so it happens in a worker thread, at most once at a
time per clock, and the fitted models are reused until purchases change and
the refit interval has passed. Requests keep using the previous fit while a
newer one is computed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import func, select

from omnix.analytics.data import load_catalogue, load_customers, load_population_lines
from omnix.customers.models import PurchaseLine
from omnix.db.session import Database
from omnix.engine.activity import ActivityModel, fit_activity_model
from omnix.engine.population import PopulationModels, fit_population_models

log = structlog.get_logger()


@dataclass(frozen=True)
class FittedPopulation:
    models: PopulationModels
    activity: ActivityModel | None
    data_version: tuple[int, int]
    fitted_at: float
    seconds: float


class PopulationCache:
    def __init__(self, db: Database, tz: str, refit_seconds: float = 600.0) -> None:
        self._db = db
        self._tz = tz
        self._refit_seconds = refit_seconds
        self._fitted: dict[datetime, FittedPopulation] = {}
        self._locks: dict[datetime, asyncio.Lock] = {}
        self._refreshing: set[datetime] = set()

    async def data_version(self) -> tuple[int, int]:
        async with self._db.session() as session:
            row = (
                await session.execute(
                    select(func.count(), func.coalesce(func.max(PurchaseLine.id), 0))
                )
            ).one()
        return int(row[0]), int(row[1])

    async def get(self, as_of: datetime) -> FittedPopulation:
        """The fit for ``as_of``; fitted now if there is none yet."""
        fitted = self._fitted.get(as_of)
        if fitted is not None:
            stale = time.monotonic() - fitted.fitted_at > self._refit_seconds
            if stale and as_of not in self._refreshing:
                version = await self.data_version()
                if version != fitted.data_version:
                    self._refreshing.add(as_of)
                    asyncio.get_running_loop().create_task(self._refresh(as_of))
            return fitted
        lock = self._locks.setdefault(as_of, asyncio.Lock())
        async with lock:
            fitted = self._fitted.get(as_of)
            if fitted is None:
                fitted = await self._fit(as_of)
            return fitted

    async def _refresh(self, as_of: datetime) -> None:
        try:
            await self._fit(as_of)
        finally:
            self._refreshing.discard(as_of)

    async def _fit(self, as_of: datetime) -> FittedPopulation:
        started = time.perf_counter()
        version = await self.data_version()
        lines = await load_population_lines(self._db, as_of)
        async with self._db.session() as session:
            catalogue = await load_catalogue(session)
            customers = await load_customers(session)
        models = await asyncio.to_thread(
            fit_population_models, lines, catalogue, customers, as_of, self._tz
        )
        activity = None
        if lines.height:
            activity = await asyncio.to_thread(
                fit_activity_model, lines, as_of, self._tz
            )
        fitted = FittedPopulation(
            models=models,
            activity=activity,
            data_version=version,
            fitted_at=time.monotonic(),
            seconds=time.perf_counter() - started,
        )
        self._fitted[as_of] = fitted
        log.info(
            "analytics.population_fitted",
            as_of=as_of.isoformat(),
            lines=lines.height,
            seconds=round(fitted.seconds, 2),
        )
        return fitted

    def invalidate(self) -> None:
        self._fitted.clear()
