"""Inventory forecast: the sums recomputed household by household, the
households' own alerts, authorization and bad input."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import timedelta
from statistics import median

import polars as pl
import pytest
from sqlalchemy import select

from omnix.analytics.data import load_lines
from omnix.analytics.inventory import inventory_forecasts
from omnix.analytics.service import population_cache
from omnix.customers.models import PurchaseLine
from omnix.engine.replenishment import replenishment_outlook
from tests.analytics.conftest import PRODUCTS
from tests.factories import customer_headers, staff_headers

URL = "/v1/analytics/inventory-forecast"


async def _typical_quantities(context) -> dict[tuple[str, str], int]:
    """Median units per purchase day of each pair, whole and at least one."""
    async with context.db.session() as session:
        lines = (await session.scalars(select(PurchaseLine))).all()
    per_day: dict[tuple[str, str], dict[object, float]] = defaultdict(
        lambda: defaultdict(float)
    )
    for line in lines:
        per_day[(line.customer_id, line.product_id)][line.purchased_at.date()] += (
            line.quantity
        )
    return {
        pair: max(round(median(days.values())), 1) for pair, days in per_day.items()
    }


async def _expected(context, horizon: int) -> dict[str, tuple[float, float]]:
    """Units and households per product, scoring each household on its own
    lines (the path of its replenishment alerts) with the fitted scorer."""
    as_of = context.clock.now()
    fitted = await population_cache(context).get(as_of)
    quantities = await _typical_quantities(context)
    units: dict[str, float] = defaultdict(float)
    households: dict[str, float] = defaultdict(float)
    async with context.db.session() as session:
        for customer_id in sorted({c for c, _ in quantities}):
            lines = await load_lines(session, as_of, [customer_id])
            outlook = replenishment_outlook(
                lines, fitted.models.replenishment, as_of, horizon_days=horizon
            )
            for row in outlook.iter_rows(named=True):
                pair = (customer_id, row["product_id"])
                units[row["product_id"]] += row["probability"] * quantities[pair]
                households[row["product_id"]] += row["probability"]
    return {p: (units[p], households[p]) for p in units}


async def test_forecast_matches_household_by_household_sums(client, context, store):
    headers = await staff_headers(client, context)
    response = await client.get(URL, params={"days": 7}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["horizonDays"] == 7
    assert body["asOf"].startswith("2018-01-01")
    expected = await _expected(context, 7)
    products = body["products"]
    assert {p["productId"] for p in products} == set(expected)
    for line in products:
        units, households = expected[line["productId"]]
        assert line["expectedUnits"] == pytest.approx(units, abs=0.051)
        assert line["households"] == pytest.approx(households, abs=0.051)
        name, category = PRODUCTS[line["productId"]]
        assert (line["productName"], line["category"]) == (name, category)
    assert [p["expectedUnits"] for p in products] == sorted(
        (p["expectedUnits"] for p in products), reverse=True
    )
    assert body["totalExpectedUnits"] == pytest.approx(
        sum(u for u, _ in expected.values()), abs=0.051
    )
    assert body["totalExpectedUnits"] > 1
    categories = {c["category"]: c for c in body["categories"]}
    assert categories["Coffee"]["expectedUnits"] == pytest.approx(
        expected["COFFEE"][0], abs=0.051
    )


async def test_alerted_households_are_the_households_alerts(client, context, store):
    staff = await staff_headers(client, context)
    body = (await client.get(URL, params={"days": 14}, headers=staff)).json()
    alerted: dict[str, int] = defaultdict(int)
    for number in range(10):
        alerts = await client.get(
            f"/v1/customers/H{number}/replenishment-alerts",
            params={"horizonDays": 14},
            headers=staff,
        )
        for alert in alerts.json():
            alerted[alert["productId"]] += 1
    assert sum(alerted.values()) > 0
    for line in body["products"]:
        assert line["alertedHouseholds"] == alerted.get(line["productId"], 0)


async def test_longer_horizons_expect_more_and_limit_cuts(client, context, store):
    headers = await staff_headers(client, context)
    week = (await client.get(URL, params={"days": 7}, headers=headers)).json()
    month = (await client.get(URL, params={"days": 30}, headers=headers)).json()
    assert month["totalExpectedUnits"] > week["totalExpectedUnits"]
    top = (
        await client.get(URL, params={"days": 7, "limit": 2}, headers=headers)
    ).json()
    assert top["products"] == week["products"][:2]
    assert len(top["categories"]) == 2
    assert top["totalExpectedUnits"] == week["totalExpectedUnits"]


async def test_population_fitted_on_first_request(client, context, store):
    """Like the household analyses: no fit yet means one is made, then reused."""
    headers = await staff_headers(client, context)
    first = await client.get(URL, headers=headers)
    cached = await population_cache(context).get(context.clock.now())
    second = await client.get(URL, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert await population_cache(context).get(context.clock.now()) is cached


async def test_a_refit_is_forecast_in_the_background(client, context, store):
    """The previous fit's forecast answers until the new fit's is ready."""
    headers = await staff_headers(client, context)
    before = (await client.get(URL, headers=headers)).json()
    forecasts = inventory_forecasts(context)
    as_of = context.clock.now()
    old = await forecasts.get(await population_cache(context).get(as_of), as_of, 7)
    async with context.db.transaction() as session:
        session.add_all(
            PurchaseLine(
                customer_id=f"H{n}",
                order_id=f"extra-{d}",
                product_id="EGGS",
                quantity=3,
                price=3.0,
                purchased_at=as_of - timedelta(days=d),
            )
            for n in range(10)
            for d in (2, 9, 16)
        )
    population_cache(context).invalidate()
    refitted = await population_cache(context).get(as_of)
    assert (await forecasts.get(refitted, as_of, 7)) is old
    assert (await client.get(URL, headers=headers)).json() == before
    for _ in range(200):
        new = await forecasts.get(refitted, as_of, 7)
        if new is not old:
            break
        await asyncio.sleep(0.05)
    assert new.fitted_at == refitted.fitted_at
    after = (await client.get(URL, headers=headers)).json()
    eggs = next(p for p in after["products"] if p["productId"] == "EGGS")
    assert eggs["alertedHouseholds"] > 0
    assert after["totalExpectedUnits"] > before["totalExpectedUnits"]


async def test_no_history_is_an_empty_forecast(client, context):
    headers = await staff_headers(client, context)
    response = await client.get(URL, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["products"] == []
    assert body["categories"] == []
    assert body["totalExpectedUnits"] == 0


async def test_customers_are_refused_and_anonymous_is_401(client, context, store):
    headers = await customer_headers(client, context, store)
    assert (await client.get(URL, headers=headers)).status_code == 403
    assert (await client.get(URL)).status_code == 401


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"days": 0}, "query.days"),
        ({"days": 91}, "query.days"),
        ({"days": -3}, "query.days"),
        ({"days": "week"}, "query.days"),
        ({"days": 1.5}, "query.days"),
        ({"limit": 0}, "query.limit"),
        ({"limit": 100000}, "query.limit"),
    ],
)
async def test_bad_input(client, context, query, field):
    headers = await staff_headers(client, context)
    response = await client.get(URL, params=query, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["details"][0]["field"] == field


def test_categories_add_up_their_products():
    from datetime import UTC, datetime

    from omnix.analytics.inventory import InventoryOutlook

    outlook = InventoryOutlook(
        as_of=datetime(2018, 1, 1, tzinfo=UTC),
        horizon_days=7,
        fitted_at=0.0,
        products=pl.DataFrame(
            {
                "product_id": ["A", "B", "C", "D"],
                "category": ["Milk", "Tea", "Milk", None],
                "expected_units": [3.0, 2.5, 1.0, 9.0],
                "households": [2.0, 1.5, 0.5, 4.0],
                "alerted_households": [2, 1, 0, 3],
            }
        ),
    )
    assert outlook.categories().rows() == [
        ("Milk", 4.0, 2.5, 2),
        ("Tea", 2.5, 1.5, 1),
    ]
