import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { failure, json, MANAGER, scriptApi, signInAs, STORE_CONFIG } from "../test/api";
import { insight, segmentPerformance, segmentsOverview } from "../test/fixtures";
import { renderApp, renderWithProviders } from "../test/render";
import { InsightsPanel } from "./InsightsPanel";
import { RevenuePanel } from "./RevenueInventory";
import { SegmentsPanel } from "./SegmentsPanel";

describe("segments overview", () => {
  it("lists the eight segments with counts, shares and money", async () => {
    signInAs(MANAGER);
    scriptApi({
      "GET /v1/config": () => json(STORE_CONFIG),
      "GET /v1/customers/segments/overview": () => json(segmentsOverview),
      ...Object.fromEntries(
        segmentsOverview.segments.map((segment, index) => [
          `GET /v1/customers/segments/${segment.segmentId}/performance`,
          () => json(segmentPerformance(segment.segmentId, index)),
        ]),
      ),
    });
    renderWithProviders(<SegmentsPanel />);
    const rows = await screen.findAllByTestId("segment-row");
    expect(rows).toHaveLength(8);
    const champions = rows[0]!;
    expect(within(champions).getByRole("rowheader")).toHaveTextContent("Champions");
    expect(within(champions).getByTestId("segment-count")).toHaveTextContent("100");
    expect(champions).toHaveTextContent("$40.00");
    // 100 of 1,080 households.
    expect(champions).toHaveTextContent("9.3%");
    // Revenue and moves arrive from each segment's performance.
    await waitFor(() => expect(champions).toHaveTextContent("$10,000.00"));
    expect(rows[7]).toHaveTextContent("$6,500.00");
    expect(
      screen.getByRole("img", { name: /^Customers per segment\. Champions: 100/ }),
    ).toBeInTheDocument();
    expect(
      await screen.findByRole("img", { name: /Customers per segment at 2 computations/ }),
    ).toBeInTheDocument();
  });

  it("says a panel is not available while the API lacks its endpoint", async () => {
    signInAs(MANAGER);
    scriptApi({ "GET /v1/config": () => json(STORE_CONFIG) });
    renderWithProviders(<RevenuePanel />);
    expect(await screen.findByText(/Not available yet/)).toBeInTheDocument();
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });

  it("shows a server error as an error, with a retry", async () => {
    signInAs(MANAGER);
    scriptApi({
      "GET /v1/config": () => json(STORE_CONFIG),
      "GET /v1/customers/segments/overview": () => failure(500, "Internal server error"),
    });
    renderWithProviders(<SegmentsPanel />);
    expect(await screen.findByRole("alert")).toHaveTextContent("Internal server error");
    expect(screen.getByRole("button", { name: "Try again" })).toBeInTheDocument();
  });
});

class FakeSocket {
  static last: FakeSocket | null = null;
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  readonly url: string;
  constructor(url: string) {
    this.url = url;
    FakeSocket.last = this;
  }
  close() {}
  deliver(message: unknown) {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
}

describe("real-time insights", () => {
  it("shows insights as they arrive and filters them by priority", async () => {
    signInAs(MANAGER);
    scriptApi({
      "GET /v1/config": () => json(STORE_CONFIG),
      "GET /v1/streaming/insights/system/overview": () =>
        json({
          totalInsights: 12,
          insightsByType: {},
          insightsByPriority: { critical: 1, high: 2, medium: 4, low: 5 },
          processingMetrics: {},
        }),
    });
    renderWithProviders(
      <InsightsPanel openSocket={(url) => new FakeSocket(url) as unknown as WebSocket} />,
    );
    const socket = FakeSocket.last!;
    expect(socket.url).toBe("ws://localhost:3000/ws?token=access-1");
    expect(screen.getByTestId("stream-status")).toHaveTextContent("Connecting");

    act(() => socket.onopen?.());
    expect(screen.getByTestId("stream-status")).toHaveTextContent("Live");
    expect(await screen.findByText("12")).toBeInTheDocument();

    act(() => {
      socket.deliver(insight("low", "Bought more bananas than usual"));
      socket.deliver({ type: "insight", data: insight("critical", "Champion has gone quiet") });
    });
    const items = screen.getAllByTestId("insight");
    expect(items.map((item) => item.textContent)).toEqual([
      expect.stringContaining("Champion has gone quiet"),
      expect.stringContaining("Bought more bananas"),
    ]);

    act(() => socket.deliver({ type: "dropped", count: 3 }));
    expect(
      screen.getByText("3 insights were skipped while the feed was behind."),
    ).toBeInTheDocument();

    await userEvent.setup().click(screen.getByRole("checkbox", { name: "low" }));
    expect(screen.getAllByTestId("insight")).toHaveLength(1);
    expect(screen.queryByText(/bananas/)).not.toBeInTheDocument();
  });

  it("says when the server has no live feed", async () => {
    signInAs(MANAGER);
    scriptApi({ "GET /v1/config": () => json(STORE_CONFIG) });
    renderWithProviders(
      <InsightsPanel
        openSocket={() => {
          throw new Error("no WebSocket support");
        }}
      />,
    );
    expect(screen.getByTestId("stream-status")).toHaveTextContent("Live feed not available yet");
  });
});

describe("customer search", () => {
  it("finds households and links to their view", async () => {
    signInAs(MANAGER);
    const api = scriptApi({
      "GET /v1/config": () => json(STORE_CONFIG),
      "GET /v1/customers": (_request, url) =>
        json(
          url.searchParams.get("search") === "13"
            ? {
                items: [
                  {
                    customerId: "13",
                    name: null,
                    email: null,
                    ageGroup: "35-44",
                    incomeLevel: "50-74K",
                    createdAt: "2017-01-01T00:00:00Z",
                  },
                ],
                nextCursor: null,
              }
            : { items: [], nextCursor: null },
        ),
    });
    renderApp("/manager/customers");
    const user = userEvent.setup();
    await user.type(await screen.findByRole("searchbox"), "13");
    await user.keyboard("{Enter}");
    const link = await screen.findByRole("link", { name: "Household 13" });
    expect(link).toHaveAttribute("href", "/customers/13");
    expect(api.calls.some((call) => call.url.searchParams.get("search") === "13")).toBe(true);
  });
});
