import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { json, MANAGER, scriptApi, signInAs, STORE_CONFIG } from "../test/api";
import { abResults, abTest } from "../test/fixtures";
import { renderApp, renderWithProviders } from "../test/render";
import { AbTestsPanel } from "./AbTests";

describe("A/B tests", () => {
  it("lists tests with their arms, winner and significance", async () => {
    signInAs(MANAGER);
    scriptApi({
      "GET /v1/config": () => json(STORE_CONFIG),
      "GET /v1/ab-tests": () =>
        json({ success: true, data: [abTest], totalTests: 1, activeTests: 1 }),
      "GET /v1/ab-tests/t-1/status": () =>
        json({
          testId: "t-1",
          testName: abTest.testName,
          status: "running",
          modelsCompared: [abTest.modelA, abTest.modelB],
          currentWinner: "A",
          significance: 0.971,
        }),
    });
    renderWithProviders(<AbTestsPanel />);
    const row = await screen.findByTestId("ab-test-row");
    expect(within(row).getByRole("link", { name: abTest.testName })).toHaveAttribute(
      "href",
      "/manager/ab-tests/t-1",
    );
    expect(row).toHaveTextContent("local:omnix-v1 vs bedrock:claude-3-haiku");
    expect(row).toHaveTextContent("50% to B");
    expect(await within(row).findByText("Arm A")).toBeInTheDocument();
    expect(row).toHaveTextContent("97.1%");
  });

  it("shows the results view: headline, arms and each comparison", async () => {
    signInAs(MANAGER);
    scriptApi({
      "GET /v1/config": () => json(STORE_CONFIG),
      "GET /v1/ab-tests/t-1/results": () => json(abResults),
    });
    renderApp("/manager/ab-tests/t-1");
    expect(await screen.findByTestId("ab-headline")).toHaveTextContent("A is ahead");
    const comparisons = screen.getByRole("region", { name: "Comparisons" });
    expect(comparisons).toHaveTextContent("-9.1% (-13.0% to -5.0%)");
    expect(comparisons).toHaveTextContent("Arm A is better");
    const arms = screen.getByRole("region", { name: "Arm metrics" });
    expect(arms).toHaveTextContent("99.0%");
    expect(arms).toHaveTextContent("35 ms");
    expect(screen.getByText("Keep the local engine.")).toBeInTheDocument();
  });
});
