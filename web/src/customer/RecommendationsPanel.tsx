import { useRef, useState, type KeyboardEvent } from "react";

import { useRecommendations } from "../api/queries";
import { Empty, Panel, QueryView } from "../components/Panel";

const TABS = [
  { kind: "repurchase", label: "Buy again" },
  { kind: "discovery", label: "Discover" },
] as const;

type Kind = (typeof TABS)[number]["kind"];

export function RecommendationsPanel({ customerId }: { customerId: string }) {
  const recommendations = useRecommendations(customerId);
  const [active, setActive] = useState<Kind>("repurchase");
  const tabs = useRef<(HTMLButtonElement | null)[]>([]);

  // Arrow keys move between tabs, as the WAI-ARIA tabs pattern expects.
  function onKeyDown(event: KeyboardEvent, index: number) {
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    const next = (index + (event.key === "ArrowRight" ? 1 : TABS.length - 1)) % TABS.length;
    const tab = TABS[next];
    if (!tab) return;
    setActive(tab.kind);
    tabs.current[next]?.focus();
  }

  return (
    <Panel title="Recommended for you">
      <div role="tablist" aria-label="Kinds of recommendation" className="tabs">
        {TABS.map((tab, index) => (
          <button
            key={tab.kind}
            ref={(element) => {
              tabs.current[index] = element;
            }}
            type="button"
            role="tab"
            id={`tab-${tab.kind}`}
            aria-selected={active === tab.kind}
            aria-controls={`tabpanel-${tab.kind}`}
            tabIndex={active === tab.kind ? 0 : -1}
            onClick={() => setActive(tab.kind)}
            onKeyDown={(event) => onKeyDown(event, index)}
          >
            {tab.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`tabpanel-${active}`} aria-labelledby={`tab-${active}`}>
        <QueryView query={recommendations} loadingLabel="Loading recommendations">
          {(data) => {
            const items = data.recommendations.filter((item) => item.kind === active);
            if (!items.length) {
              return (
                <Empty>
                  {active === "repurchase"
                    ? "Nothing to buy again right now."
                    : "No new products to suggest right now."}
                </Empty>
              );
            }
            return (
              <ul className="cards" data-testid="recommendations">
                {items.map((item) => (
                  <li key={item.productId} className="card" data-testid="recommendation">
                    <strong>{item.productName}</strong>
                    <span className="muted">
                      {[item.brand, item.category].filter(Boolean).join(" · ") || "\u00a0"}
                    </span>
                    <span>{item.reason}</span>
                  </li>
                ))}
              </ul>
            );
          }}
        </QueryView>
      </div>
    </Panel>
  );
}
