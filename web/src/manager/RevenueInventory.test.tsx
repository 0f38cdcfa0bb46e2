import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import type { GetResult } from "../api/client";
import { json, MANAGER, scriptApi, signInAs, STORE_CONFIG } from "../test/api";
import { renderWithProviders } from "../test/render";
import { InventoryPanel, RevenuePanel } from "./RevenueInventory";

const revenue: GetResult<"/v1/analytics/revenue"> = {
  granularity: "week",
  timezone: "America/Chicago",
  growthGoal: 0.02,
  points: [
    {
      periodStart: "2017-12-18",
      periodEnd: "2017-12-25",
      revenue: 1000,
      orders: 40,
      complete: true,
      target: null,
      targetSource: null,
    },
    {
      periodStart: "2017-12-25",
      periodEnd: "2018-01-01",
      revenue: 900,
      orders: 36,
      complete: true,
      target: 1200,
      targetSource: "set",
    },
  ],
};

const forecast: GetResult<"/v1/analytics/inventory-forecast"> = {
  horizonDays: 7,
  asOf: "2018-01-01T00:00:00+00:00",
  totalExpectedUnits: 20.5,
  products: [
    {
      productId: "P1",
      productName: "Whole Milk 1L",
      category: "Milk",
      expectedUnits: 12.5,
      households: 10.2,
      alertedHouseholds: 9,
    },
    {
      productId: "P2",
      productName: "Sourdough Loaf",
      category: null,
      expectedUnits: 8,
      households: 7.6,
      alertedHouseholds: 5,
    },
  ],
  categories: [{ category: "Milk", expectedUnits: 12.5, households: 10.2, alertedHouseholds: 9 }],
};

describe("revenue and inventory panels", () => {
  it("shows the last period against its target", async () => {
    signInAs(MANAGER);
    const api = scriptApi({
      "GET /v1/config": () => json(STORE_CONFIG),
      "GET /v1/analytics/revenue": () => json(revenue),
    });
    renderWithProviders(<RevenuePanel />);
    expect(
      await screen.findByRole("img", { name: /against target over 2 periods/ }),
    ).toBeInTheDocument();
    expect(screen.getByText("$900.00")).toBeInTheDocument();
    expect(screen.getByText("$1,200.00")).toBeInTheDocument();
    expect(screen.getByText("75%")).toBeInTheDocument();
    const call = api.calls.find((c) => c.path === "/v1/analytics/revenue");
    expect(call?.url.searchParams.get("granularity")).toBe("week");
  });

  it("lists the expected units per product and category", async () => {
    signInAs(MANAGER);
    const api = scriptApi({
      "GET /v1/config": () => json(STORE_CONFIG),
      "GET /v1/analytics/inventory-forecast": () => json(forecast),
    });
    renderWithProviders(<InventoryPanel />);
    const table = await screen.findByRole("region", { name: "Expected units per product" });
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toHaveTextContent("Whole Milk 1L");
    expect(rows[0]).toHaveTextContent("12.5");
    expect(rows[1]).toHaveTextContent("—");
    expect(screen.getByRole("img", { name: /Expected units by category: Milk 1/ })).toBeVisible();
    const call = api.calls.find((c) => c.path === "/v1/analytics/inventory-forecast");
    expect(call?.url.searchParams.get("days")).toBe("7");
  });
});
