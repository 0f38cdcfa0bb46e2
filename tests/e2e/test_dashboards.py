"""The dashboards in headless Chromium against OMNIX with the Complete Journey
data: sign-in by role, the manager's segments and customer search, the
customer's own page, recommendations and alerts, and the refusal of another
household. Each screen is saved under ``artifacts/screenshots/``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    CUSTOMER_EMAIL,
    MANAGER_EMAIL,
    Server,
    expect_served,
)

SEGMENTS = {
    "Champions",
    "Loyal Customers",
    "Potential Loyalists",
    "New Customers",
    "At Risk",
    "Can't Lose Them",
    "Hibernating",
    "Lost",
}


def sign_in(page: Any, server: Server, email: str) -> None:
    page.goto(server.url + "/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(server.password)
    page.get_by_role("button", name="Sign in").click()


def settle(page: Any) -> None:
    """Waits until no panel is still loading (a live socket keeps the network
    busy, so "network idle" is no signal here)."""
    page.wait_for_load_state("load")
    page.wait_for_function(
        "() => document.querySelectorAll('.state-loading').length === 0",
        timeout=120_000,
    )


def shoot(page: Any, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, f"{name}.png looks blank"
    return path


def own_household(server: Server) -> str:
    household: str = server.sign_in(CUSTOMER_EMAIL)["user"]["customerId"]
    return household


def other_household(server: Server) -> str:
    token = server.sign_in(MANAGER_EMAIL)["accessToken"]
    page = server.api("GET", "/v1/customers?limit=5", token=token)
    own = own_household(server)
    return next(
        item["customerId"] for item in page["items"] if item["customerId"] != own
    )


def test_sign_in_page(page, server, screenshots):
    page.goto(server.url + "/manager")
    page.get_by_role("heading", name="Sign in").wait_for()
    shoot(page, screenshots, "01-sign-in")


def test_wrong_password_is_refused(page, server):
    page.goto(server.url + "/sign-in")
    page.get_by_label("E-mail").fill(MANAGER_EMAIL)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "not right" in alert.inner_text()
    assert page.url.endswith("/sign-in")


def test_manager_lands_on_the_manager_dashboard(page, server, screenshots):
    sign_in(page, server, MANAGER_EMAIL)
    page.wait_for_url(re.compile(r"/manager$"))
    page.get_by_role("heading", name="Supermarket manager dashboard").wait_for()
    settle(page)
    check_revenue_and_inventory(page)
    shoot(page, screenshots, "02-manager-dashboard")


def check_revenue_and_inventory(page: Any) -> None:
    """Both panels show served figures: a weekly revenue chart of 2017 with a
    target, and a table of products with expected units."""
    revenue = page.get_by_role("region", name="Revenue against target")
    assert revenue.locator(".state").count() == 0, revenue.inner_text()
    chart = revenue.get_by_role("img", name=re.compile("^Revenue per week"))
    periods = re.search(r"over (\d+) periods", chart.get_attribute("aria-label"))
    assert periods, chart.get_attribute("aria-label")
    assert int(periods.group(1)) >= 52
    # The last week's target is money, not the dash of a missing value.
    kpis = revenue.locator(".kpis").inner_text()
    assert re.search(r"Target\s+\D{0,3}[\d,]+\.\d\d", kpis), kpis
    inventory = page.get_by_role("region", name=re.compile("^Inventory insights"))
    assert inventory.locator(".state").count() == 0, inventory.inner_text()
    rows = inventory.get_by_role("region", name="Expected units per product")
    units = [
        float(row.locator("td.num").first.inner_text().replace(",", ""))
        for row in rows.locator("tbody tr").all()
    ]
    assert len(units) == 20
    assert units == sorted(units, reverse=True)
    assert units[-1] > 0


def test_manager_sees_eight_segments_with_counts(request, page, server, screenshots):
    overview = "/v1/customers/segments/overview"
    expect_served(
        request, server, "get", overview, "the segment overview is being built"
    )
    if server.serves("get", overview):
        token = server.sign_in(MANAGER_EMAIL)["accessToken"]
        statistics = server.api("GET", overview, token=token)["statistics"]
        if statistics["segmentedCustomers"] == 0:
            request.applymarker(
                pytest.mark.xfail(
                    reason="`omnix demo` loaded the data but computed no segments: "
                    "it does not call segments.tasks.compute_demo_snapshots yet",
                    strict=True,
                )
            )
    sign_in(page, server, MANAGER_EMAIL)
    page.wait_for_url(re.compile(r"/manager$"))
    rows = page.get_by_test_id("segment-row")
    rows.first.wait_for(timeout=60_000)
    names = {row.get_by_role("rowheader").inner_text() for row in rows.all()}
    counts = [
        int(cell.inner_text().replace(",", ""))
        for cell in page.get_by_test_id("segment-count").all()
    ]
    assert names == SEGMENTS
    assert len(counts) == 8
    assert all(count > 0 for count in counts)
    settle(page)
    shoot(page, screenshots, "03-manager-segments")


def test_manager_opens_a_household(page, server, screenshots):
    household = own_household(server)
    sign_in(page, server, MANAGER_EMAIL)
    page.wait_for_url(re.compile(r"/manager$"))
    page.get_by_role("searchbox").first.fill(household)
    page.get_by_role("searchbox").first.press("Enter")
    page.get_by_role("link", name=f"Household {household}", exact=True).click()
    page.wait_for_url(re.compile(rf"/customers/{household}$"))
    page.get_by_role("heading", name=re.compile(rf"^Household {household}")).wait_for()
    history = page.get_by_test_id("purchases")
    history.wait_for()
    assert history.locator("tbody tr").count() > 0
    settle(page)
    shoot(page, screenshots, "04-manager-household-view")


def test_manager_dashboard_on_a_phone(phone_page, server, screenshots):
    sign_in(phone_page, server, MANAGER_EMAIL)
    phone_page.wait_for_url(re.compile(r"/manager$"))
    settle(phone_page)
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
    shoot(phone_page, screenshots, "05-manager-phone")


def test_customer_lands_on_their_own_household(page, server, screenshots):
    household = own_household(server)
    sign_in(page, server, CUSTOMER_EMAIL)
    page.wait_for_url(re.compile(rf"/customers/{household}$"))
    page.get_by_role("heading", name=re.compile("^Welcome back")).wait_for()
    history = page.get_by_test_id("purchases")
    history.wait_for()
    assert history.locator("tbody tr").count() > 0
    older = page.get_by_role("button", name="Older")
    first_page = history.inner_text()
    older.click()
    page.wait_for_function(
        "text => document.querySelector('[data-testid=purchases]').innerText !== text",
        arg=first_page,
    )
    settle(page)
    shoot(page, screenshots, "06-customer-dashboard")


def test_customer_sees_recommendations_and_alerts(request, page, server, screenshots):
    for path, why in (
        ("/v1/customers/{id}/ai-recommendations", "recommendations (section 2)"),
        ("/v1/customers/{id}/replenishment-alerts", "replenishment alerts (section 2)"),
    ):
        if not server.serves("get", path):
            expect_served(request, server, "get", path, f"{why} are being built")
            break
    sign_in(page, server, CUSTOMER_EMAIL)
    page.get_by_role("heading", name=re.compile("^Welcome back")).wait_for()
    recommendations = page.get_by_test_id("recommendation")
    recommendations.first.wait_for(timeout=120_000)
    assert recommendations.count() > 0
    alerts = page.get_by_test_id("alert")
    alerts.first.wait_for(timeout=120_000)
    assert alerts.count() > 0
    settle(page)
    shoot(page, screenshots, "07-customer-recommendations-alerts")


def test_customer_is_refused_another_household(page, server, screenshots):
    other = other_household(server)
    sign_in(page, server, CUSTOMER_EMAIL)
    page.get_by_role("heading", name=re.compile("^Welcome back")).wait_for()
    page.goto(f"{server.url}/customers/{other}")
    page.get_by_role("heading", name="Not your household").wait_for()
    assert "only see your own household" in page.get_by_role("alert").inner_text()
    assert page.get_by_test_id("purchases").count() == 0
    shoot(page, screenshots, "08-customer-refused")


def test_customer_dashboard_on_a_phone(phone_page, server, screenshots):
    sign_in(phone_page, server, CUSTOMER_EMAIL)
    phone_page.get_by_role("heading", name=re.compile("^Welcome back")).wait_for()
    settle(phone_page)
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
    shoot(phone_page, screenshots, "09-customer-phone")


def test_signing_out_returns_to_sign_in(page, server):
    sign_in(page, server, CUSTOMER_EMAIL)
    page.get_by_role("heading", name=re.compile("^Welcome back")).wait_for()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    page.goto(server.url + "/manager")
    page.get_by_role("heading", name="Sign in").wait_for()


@pytest.mark.parametrize("path", ["/v1/no-such-endpoint", "/auth/nowhere"])
def test_api_paths_are_not_answered_with_the_app(server, path):
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as failure:
        urllib.request.urlopen(server.url + path, timeout=10)
    assert failure.value.code == 404
    assert failure.value.headers["content-type"].startswith("application/json")
