"""Check the inventory forecast against what households bought afterwards.

For each clock, the population models are fitted on the history before it and
the forecast of the manager dashboard (``omnix.analytics.inventory``) is
computed for the horizon; it is then compared with the lines of the following
days: the (household, product) pairs bought again and their units, and all
units sold (first purchases included, which the forecast does not cover)::

    .venv/bin/python scripts/inventory_backtest.py data/bench/omnix.db

The database is only read. Each clock takes a population fit (about half a
minute on the Complete Journey data).
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta

import polars as pl

from omnix.analytics.data import load_population_lines
from omnix.analytics.inventory import product_outlook
from omnix.analytics.population import PopulationCache
from omnix.db.session import Database
from omnix.engine.replenishment import replenishment_outlook

CLOCKS = ("2017-11-01", "2017-12-04", "2017-12-18")


async def backtest(url: str, clocks: list[str], horizon: int, tz: str) -> None:
    db = Database(url)
    print(
        "clock       days  pairs expected  pairs bought  units expected"
        "  units bought  all units sold"
    )
    for clock in clocks:
        as_of = datetime.fromisoformat(clock).replace(tzinfo=UTC)
        fitted = await PopulationCache(db, tz).get(as_of)
        lines = await load_population_lines(db, as_of + timedelta(days=horizon))
        before = lines.filter(pl.col("purchased_at") < as_of)
        forecast = product_outlook(before, fitted, as_of, tz, horizon)
        pairs = replenishment_outlook(
            before, fitted.models.replenishment, as_of, tz, horizon_days=horizon
        ).select("customer_id", "product_id")
        after = lines.filter(pl.col("purchased_at") >= as_of)
        bought = after.group_by("customer_id", "product_id").agg(
            pl.col("quantity").sum()
        )
        again = bought.join(pairs, on=["customer_id", "product_id"], how="semi")
        print(
            f"{clock}  {horizon:4d}"
            f"  {forecast['households'].sum():14,.0f}  {again.height:12,d}"
            f"  {forecast['expected_units'].sum():14,.0f}"
            f"  {again['quantity'].sum():12,.0f}  {after['quantity'].sum():14,.0f}"
        )
    await db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", help="SQLite file of a loaded demo")
    parser.add_argument("--clock", action="append", help="ISO date (repeatable)")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--timezone", default="UTC")
    args = parser.parse_args()
    url = f"sqlite+aiosqlite:///{args.database}"
    asyncio.run(backtest(url, args.clock or list(CLOCKS), args.days, args.timezone))


if __name__ == "__main__":
    main()
