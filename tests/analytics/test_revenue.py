"""Revenue against target: figures recomputed from the lines, targets set by
managers, authorization and bad input."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from omnix.analytics.models import RevenueTarget
from omnix.customers.models import PurchaseLine
from tests.factories import customer_headers, staff_headers

URL = "/v1/analytics/revenue"
TARGETS = "/v1/analytics/revenue-targets"


async def _orders(context, tz: str) -> dict[tuple[str, str], tuple[date, float]]:
    """Each order's store-local start day and value, read line by line."""
    async with context.db.session() as session:
        lines = (await session.scalars(select(PurchaseLine))).all()
    zone = ZoneInfo(tz)
    started: dict[tuple[str, str], datetime] = {}
    value: dict[tuple[str, str], float] = defaultdict(float)
    for line in lines:
        key = (line.customer_id, line.order_id)
        started[key] = min(started.get(key, line.purchased_at), line.purchased_at)
        value[key] += line.quantity * line.price
    return {k: (started[k].astimezone(zone).date(), value[k]) for k in started}


def _weekly(orders) -> dict[date, tuple[float, int]]:
    weeks: dict[date, tuple[float, int]] = defaultdict(lambda: (0.0, 0))
    for day, amount in orders.values():
        year, week, _ = day.isocalendar()
        monday = date.fromisocalendar(year, week, 1)
        revenue, count = weeks[monday]
        weeks[monday] = (revenue + amount, count + 1)
    return weeks


async def test_weekly_revenue_matches_the_lines(client, context, store):
    headers = await staff_headers(client, context)
    response = await client.get(URL, params={"granularity": "week"}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["granularity"] == "week"
    assert body["timezone"] == "UTC"
    weeks = _weekly(await _orders(context, "UTC"))
    points = body["points"]
    # The first sale (Thursday 1 June 2017) to the week ended by the clock.
    assert points[0]["periodStart"] == "2017-05-29"
    assert points[-1]["periodStart"] == "2017-12-25"
    assert points[-1]["periodEnd"] == "2018-01-01"
    assert all(point["complete"] for point in points)
    assert len(points) == 31
    for point in points:
        revenue, orders = weeks.get(date.fromisoformat(point["periodStart"]), (0, 0))
        assert point["revenue"] == pytest.approx(revenue, abs=0.006)
        assert point["orders"] == orders
    assert sum(p["orders"] for p in points) == sum(n for _, n in weeks.values())
    assert sum(p["revenue"] for p in points) > 0


async def test_derived_targets_follow_the_four_weeks_before(client, context, store):
    headers = await staff_headers(client, context)
    body = (await client.get(URL, headers=headers)).json()
    by_start = {p["periodStart"]: p for p in body["points"]}
    growth = body["growthGoal"]
    assert growth == pytest.approx(0.02)
    # The opening week is partial: the first four full weeks have no target.
    for start in ("2017-05-29", "2017-06-05", "2017-06-26"):
        assert by_start[start]["target"] is None
        assert by_start[start]["targetSource"] is None
    july = by_start["2017-07-03"]
    before = ("2017-06-05", "2017-06-12", "2017-06-19", "2017-06-26")
    expected = sum(by_start[s]["revenue"] for s in before) / 4 * (1 + growth)
    assert july["targetSource"] == "trailing_mean"
    assert july["target"] == pytest.approx(expected, abs=0.02)


async def test_daily_and_monthly_series(client, context, store):
    headers = await staff_headers(client, context)
    orders = await _orders(context, "UTC")
    days = (
        await client.get(
            URL, params={"granularity": "day", "periods": 40}, headers=headers
        )
    ).json()["points"]
    assert len(days) == 40
    assert days[-1]["periodStart"] == "2017-12-31"
    for point in days:
        day = date.fromisoformat(point["periodStart"])
        assert point["revenue"] == pytest.approx(
            sum(v for d, v in orders.values() if d == day), abs=0.006
        )
    # A day's derived target compares it with the same weekday before.
    last = days[-1]
    same_weekday = [days[-1 - 7 * k]["revenue"] for k in range(1, 5)]
    assert last["target"] == pytest.approx(sum(same_weekday) / 4 * 1.02, abs=0.02)

    months = (
        await client.get(URL, params={"granularity": "month"}, headers=headers)
    ).json()["points"]
    assert [p["periodStart"] for p in months] == [
        f"2017-{m:02d}-01" for m in range(6, 13)
    ]
    assert sum(p["revenue"] for p in months) == pytest.approx(
        sum(v for _, v in orders.values()), abs=0.05
    )
    # The store opened on the 1st: June counts towards September's target.
    assert months[2]["target"] is None
    assert months[3]["target"] == pytest.approx(
        sum(p["revenue"] for p in months[:3]) / 3 * 1.02, abs=0.02
    )


async def test_no_sales_is_an_empty_series(client, context):
    headers = await staff_headers(client, context)
    body = (await client.get(URL, headers=headers)).json()
    assert body["points"] == []


async def test_periods_follow_the_store_time_zone(client, context, store):
    """An order at 02:00 UTC on Monday 3 July is Sunday evening in New York."""
    async with context.db.transaction() as session:
        session.add(
            PurchaseLine(
                customer_id=store,
                order_id="late",
                product_id="TEA",
                quantity=1,
                price=1000.0,
                purchased_at=datetime(2017, 7, 3, 2, tzinfo=ZoneInfo("UTC")),
            )
        )
    headers = await staff_headers(client, context)
    utc = {
        p["periodStart"]: p
        for p in (await client.get(URL, headers=headers)).json()["points"]
    }
    context.settings.timezone = "America/New_York"
    local = (await client.get(URL, headers=headers)).json()
    assert local["timezone"] == "America/New_York"
    local_weeks = {p["periodStart"]: p for p in local["points"]}
    expected = _weekly(await _orders(context, "America/New_York"))
    for start, point in local_weeks.items():
        assert point["revenue"] == pytest.approx(
            expected[date.fromisoformat(start)][0], abs=0.006
        )
    assert local_weeks["2017-06-26"]["revenue"] >= 1000
    assert utc["2017-07-03"]["revenue"] >= 1000
    assert utc["2017-06-26"]["revenue"] < 1000


async def test_a_managers_target_replaces_the_derived_one(client, context, store):
    headers = await staff_headers(client, context)
    url = f"{TARGETS}/week/2017-12-25"
    first = await client.put(url, json={"amount": 1234.567}, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["amount"] == 1234.57
    assert first.json()["periodStart"] == "2017-12-25"
    again = await client.put(url, json={"amount": 1234.567}, headers=headers)
    assert again.status_code == 200
    assert again.json()["amount"] == first.json()["amount"]
    async with context.db.session() as session:
        assert await session.scalar(select(func.count(RevenueTarget.amount))) == 1

    points = (await client.get(URL, headers=headers)).json()["points"]
    assert points[-1]["target"] == 1234.57
    assert points[-1]["targetSource"] == "set"
    assert points[-2]["targetSource"] == "trailing_mean"
    # A monthly target leaves the weekly series alone.
    monthly = await client.put(
        f"{TARGETS}/month/2017-12-01", json={"amount": 50}, headers=headers
    )
    assert monthly.status_code == 200
    months = (
        await client.get(URL, params={"granularity": "month"}, headers=headers)
    ).json()["points"]
    assert months[-1]["target"] == 50

    assert (await client.delete(url, headers=headers)).status_code == 204
    points = (await client.get(URL, headers=headers)).json()["points"]
    assert points[-1]["targetSource"] == "trailing_mean"
    assert (await client.delete(url, headers=headers)).status_code == 404
    # No target can start on a Tuesday.
    tuesday = await client.delete(f"{TARGETS}/week/2017-12-26", headers=headers)
    assert tuesday.status_code == 404


async def test_admins_may_set_targets(client, context, store):
    headers = await staff_headers(client, context, role="admin")
    response = await client.put(
        f"{TARGETS}/day/2017-12-31", json={"amount": 10}, headers=headers
    )
    assert response.status_code == 200
    assert (await client.get(URL, headers=headers)).status_code == 200


async def test_customers_are_refused_and_anonymous_is_401(client, context, store):
    headers = await customer_headers(client, context, store)
    target = f"{TARGETS}/week/2017-12-25"
    assert (await client.get(URL, headers=headers)).status_code == 403
    refused = await client.put(target, json={"amount": 1}, headers=headers)
    assert refused.status_code == 403
    assert (await client.delete(target, headers=headers)).status_code == 403
    assert (await client.get(URL)).status_code == 401
    assert (await client.put(target, json={"amount": 1})).status_code == 401
    async with context.db.session() as session:
        assert await session.scalar(select(func.count(RevenueTarget.amount))) == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"granularity": "year"}, "query.granularity"),
        ({"periods": 0}, "query.periods"),
        ({"periods": 100000}, "query.periods"),
        ({"periods": "many"}, "query.periods"),
    ],
)
async def test_bad_series_queries(client, context, query, field):
    headers = await staff_headers(client, context)
    response = await client.get(URL, params=query, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["details"][0]["field"] == field


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("week/2017-12-26", {"amount": 10}, "path.periodStart"),
        ("month/2017-12-02", {"amount": 10}, "path.periodStart"),
        ("month/2017-13-01", {"amount": 10}, "path.periodStart"),
        ("year/2017-01-01", {"amount": 10}, "path.granularity"),
        ("week/2017-12-25", {"amount": 0}, "body.amount"),
        ("week/2017-12-25", {"amount": -5}, "body.amount"),
        ("week/2017-12-25", {"amount": 0.001}, "body.amount"),
        ("week/2017-12-25", {"amount": 1e13}, "body.amount"),
        ("week/2017-12-25", {"amount": "lots"}, "body.amount"),
        ("week/2017-12-25", {}, "body.amount"),
        ("week/2017-12-25", {"amount": 5, "setBy": "x"}, "body.setBy"),
    ],
)
async def test_bad_targets(client, context, path, body, field):
    headers = await staff_headers(client, context)
    response = await client.put(f"{TARGETS}/{path}", json=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["details"][0]["field"] == field
    async with context.db.session() as session:
        assert await session.scalar(select(func.count(RevenueTarget.amount))) == 0


async def test_non_finite_amounts_are_refused(client, context):
    headers = await staff_headers(client, context)
    for raw in ("NaN", "Infinity"):
        response = await client.put(
            f"{TARGETS}/week/2017-12-25",
            content='{"amount": ' + raw + "}",
            headers={**headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 400, (raw, response.text)


def test_week_boundaries_are_mondays():
    from omnix.analytics.revenue import period_start, shift

    sunday = date(2017, 12, 31)
    assert period_start(sunday, "week") == date(2017, 12, 25)
    assert shift(date(2017, 12, 1), "month", 1) == date(2018, 1, 1)
    assert shift(date(2017, 1, 1), "month", -1) == date(2016, 12, 1)
    assert shift(date(2017, 12, 25), "day", -7) == date(2017, 12, 18)
    assert shift(date(2017, 12, 25), "week", -1) == date(2017, 12, 18)
