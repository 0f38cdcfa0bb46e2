"""Units the replenishment predictions expect households to buy soon.

For every (household, product) pair bought before the clock, the population's
replenishment scorer (:func:`omnix.engine.replenishment.replenishment_outlook`)
gives the probability that the household buys the product again within the
horizon. A pair's expected units are that probability times the pair's typical
quantity (the median units per purchase day, rounded to a whole unit and at
least one: the quantity its replenishment alert suggests). A product's
expected units are the sum over its pairs; its ``households`` the sum of the
probabilities, that is the expected number of households buying it; its
``alerted_households`` the pairs whose replenishment alert fires (what the
households themselves are shown). Categories add up their products.

Only repeat purchases are forecast: a household's first purchase of a product
has no pair to predict from. On the Complete Journey data that is about half
of the units sold in a week (docs/ANALYTICS.md gives the held-out figures).

Scoring every pair reads the whole history (several seconds on the demo
data), so each forecast is computed once per population fit and horizon, in a
worker thread, and kept (see :class:`InventoryForecasts`).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

import polars as pl
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.analytics import schemas
from omnix.analytics.data import load_population_lines
from omnix.analytics.population import FittedPopulation
from omnix.analytics.service import population_cache, prefit_population
from omnix.catalogue.models import Product
from omnix.context import AppContext
from omnix.db.session import Database
from omnix.engine.replenishment import replenishment_outlook

log = structlog.get_logger()

# Forecasts kept: the dashboard asks for one horizon, an API user a few.
_KEPT = 8
_Key = tuple[datetime, int]


@dataclass(frozen=True, eq=False)
class InventoryOutlook:
    """Expected purchases per product within ``horizon_days`` of ``as_of``.

    ``products`` has product_id, category, expected_units, households and
    alerted_households, most expected units first.
    """

    as_of: datetime
    horizon_days: int
    fitted_at: float  # of the population fit it was computed from
    products: pl.DataFrame

    def categories(self) -> pl.DataFrame:
        """The products' figures added up per category (unknown ones left out)."""
        return (
            self.products.filter(pl.col("category").is_not_null())
            .group_by("category")
            .agg(
                pl.col("expected_units").sum(),
                pl.col("households").sum(),
                pl.col("alerted_households").sum(),
            )
            .sort(["expected_units", "category"], descending=[True, False])
        )


def product_outlook(
    lines: pl.DataFrame,
    fitted: FittedPopulation,
    as_of: datetime,
    tz: str,
    horizon_days: int,
) -> pl.DataFrame:
    """Every pair's outlook summed per product (see the module's docstring)."""
    pairs = replenishment_outlook(
        lines,
        fitted.models.replenishment,
        as_of,
        tz,
        horizon_days=horizon_days,
    )
    return (
        pairs.group_by("product_id")
        .agg(
            pl.col("category").first(),
            (pl.col("probability") * pl.col("suggested_quantity"))
            .sum()
            .alias("expected_units"),
            pl.col("probability").sum().alias("households"),
            pl.col("alert").cast(pl.Int64).sum().alias("alerted_households"),
        )
        .sort(["expected_units", "product_id"], descending=[True, False])
    )


class InventoryForecasts:
    """Forecasts per (clock, horizon), each computed once per population fit.

    When the population is refitted, the forecast of the previous fit is
    still answered while the new one is computed in the background (as the
    population cache itself does), so only the very first request waits.
    """

    def __init__(self, db: Database, tz: str) -> None:
        self._db = db
        self._tz = tz
        self._kept: OrderedDict[_Key, InventoryOutlook] = OrderedDict()
        self._locks: dict[_Key, asyncio.Lock] = {}
        self._refreshing: set[_Key] = set()

    async def get(
        self, fitted: FittedPopulation, as_of: datetime, horizon_days: int
    ) -> InventoryOutlook:
        key = (as_of, horizon_days)
        kept = self._kept.get(key)
        if kept is None:
            lock = self._locks.setdefault(key, asyncio.Lock())
            async with lock:
                kept = self._kept.get(key)
                if kept is None:
                    kept = await self._compute(fitted, as_of, horizon_days)
                    self._keep(key, kept)
            self._locks.pop(key, None)
        elif kept.fitted_at != fitted.fitted_at and key not in self._refreshing:
            self._refreshing.add(key)
            asyncio.get_running_loop().create_task(self._refresh(key, fitted))
        self._kept.move_to_end(key)
        return kept

    def _keep(self, key: _Key, outlook: InventoryOutlook) -> None:
        self._kept[key] = outlook
        while len(self._kept) > _KEPT:
            self._kept.popitem(last=False)

    async def _refresh(self, key: _Key, fitted: FittedPopulation) -> None:
        try:
            self._keep(key, await self._compute(fitted, *key))
        except Exception:  # the previous forecast stays; the next request retries
            log.exception("analytics.inventory_forecast_failed")
        finally:
            self._refreshing.discard(key)

    async def _compute(
        self, fitted: FittedPopulation, as_of: datetime, horizon_days: int
    ) -> InventoryOutlook:
        lines = await load_population_lines(self._db, as_of)
        products = await asyncio.to_thread(
            product_outlook, lines, fitted, as_of, self._tz, horizon_days
        )
        log.info(
            "analytics.inventory_forecast_computed",
            as_of=as_of.isoformat(),
            horizon_days=horizon_days,
            products=products.height,
        )
        return InventoryOutlook(
            as_of=as_of,
            horizon_days=horizon_days,
            fitted_at=fitted.fitted_at,
            products=products,
        )


def inventory_forecasts(context: AppContext) -> InventoryForecasts:
    forecasts = context.extras.get("inventory_forecasts")
    if forecasts is None:
        forecasts = InventoryForecasts(context.db, context.settings.timezone)
        context.extras["inventory_forecasts"] = forecasts
    return forecasts


async def inventory_forecast(
    context: AppContext, session: AsyncSession, horizon_days: int, limit: int
) -> schemas.InventoryForecast:
    """The forecast at business "now": its top ``limit`` products and
    categories, named from the catalogue as it is now."""
    as_of = context.clock.now()
    # Like every population-backed answer: fitted now when not fitted yet.
    fitted = await population_cache(context).get(as_of)
    outlook = await inventory_forecasts(context).get(fitted, as_of, horizon_days)
    top = outlook.products.head(limit)
    ids = top.get_column("product_id").to_list()
    names = dict(
        (
            await session.execute(
                select(Product.id, Product.name).where(Product.id.in_(ids))
            )
        )
        .tuples()
        .all()
    )
    return schemas.InventoryForecast(
        horizon_days=horizon_days,
        as_of=as_of,
        total_expected_units=_units(
            float(outlook.products.get_column("expected_units").sum())
        ),
        products=[
            schemas.InventoryLine(
                product_id=row["product_id"],
                product_name=names.get(row["product_id"]) or row["product_id"],
                category=row["category"],
                expected_units=_units(row["expected_units"]),
                households=_units(row["households"]),
                alerted_households=row["alerted_households"],
            )
            for row in top.iter_rows(named=True)
        ],
        categories=[
            schemas.InventoryCategory(
                category=row["category"],
                expected_units=_units(row["expected_units"]),
                households=_units(row["households"]),
                alerted_households=row["alerted_households"],
            )
            for row in outlook.categories().head(limit).iter_rows(named=True)
        ],
    )


def _units(value: float | None) -> float:
    return round(value or 0.0, 1)


async def prefit_inventory(context: AppContext, horizon_days: int = 7) -> None:
    """The population models, then the manager dashboard's forecast, ahead of
    the first request."""
    await prefit_population(context)
    try:
        fitted = await population_cache(context).get(context.clock.now())
        await inventory_forecasts(context).get(
            fitted, context.clock.now(), horizon_days
        )
    except Exception:  # a failed warm-up is retried by the first request
        log.exception("analytics.inventory_prefit_failed")
