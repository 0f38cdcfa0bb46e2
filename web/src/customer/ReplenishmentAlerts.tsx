import { useState } from "react";

import { useReplenishmentAlerts } from "../api/queries";
import { Panel, QueryView } from "../components/Panel";
import { useFormat } from "../format";

const URGENCY_ORDER: Record<string, number> = { overdue: 0, due: 1, soon: 2 };
const URGENCY_TEXT: Record<string, string> = { overdue: "overdue", due: "due now", soon: "soon" };

function runOutText(days: number): string {
  if (days < 0) return `${-days} day${days === -1 ? "" : "s"} ago`;
  if (days === 0) return "today";
  return `in ${days} day${days === 1 ? "" : "s"}`;
}

const FIRST_SHOWN = 8;

export function ReplenishmentAlerts({ customerId }: { customerId: string }) {
  const alerts = useReplenishmentAlerts(customerId);
  const [showAll, setShowAll] = useState(false);
  const format = useFormat();
  return (
    <Panel title="Running low">
      <QueryView
        query={alerts}
        loadingLabel="Loading alerts"
        isEmpty={(data) => data.length === 0}
        empty="Nothing is running low. We will tell you when something is."
      >
        {(data) => (
          <>
            <ul className="alerts" data-testid="alerts" id="alert-list">
              {[...data]
                .sort(
                  (a, b) =>
                    (URGENCY_ORDER[a.urgency] ?? 3) - (URGENCY_ORDER[b.urgency] ?? 3) ||
                    a.expectedRunOutDate.localeCompare(b.expectedRunOutDate),
                )
                .slice(0, showAll ? data.length : FIRST_SHOWN)
                .map((alert) => {
                  const days = format.daysFromNow(alert.expectedRunOutDate);
                  return (
                    <li
                      key={alert.productId}
                      className={`alert urgency-${alert.urgency}`}
                      data-testid="alert"
                    >
                      <span className={`badge badge-${alert.urgency}`}>
                        {URGENCY_TEXT[alert.urgency] ?? alert.urgency}
                      </span>{" "}
                      <strong>{alert.productName}</strong>
                      <span className="muted">
                        {" "}
                        · runs out {format.date(alert.expectedRunOutDate)}
                        {days != null ? ` (${runOutText(days)})` : ""}
                        {alert.suggestedQuantity > 0 ? ` · buy ${alert.suggestedQuantity}` : ""}
                      </span>
                      <p>{alert.reason}</p>
                    </li>
                  );
                })}
            </ul>
            {data.length > FIRST_SHOWN ? (
              <button
                type="button"
                className="link-button"
                aria-expanded={showAll}
                aria-controls="alert-list"
                onClick={() => setShowAll((shown) => !shown)}
              >
                {showAll ? "Show fewer" : `Show all ${data.length} alerts`}
              </button>
            ) : null}
          </>
        )}
      </QueryView>
    </Panel>
  );
}
