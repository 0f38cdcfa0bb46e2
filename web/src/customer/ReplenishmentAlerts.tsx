import { useReplenishmentAlerts } from "../api/queries";
import { Panel, QueryView } from "../components/Panel";
import { useFormat } from "../format";

const URGENCY_ORDER: Record<string, number> = { high: 0, medium: 1, low: 2 };

export function ReplenishmentAlerts({ customerId }: { customerId: string }) {
  const alerts = useReplenishmentAlerts(customerId);
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
          <ul className="alerts" data-testid="alerts">
            {[...data]
              .sort(
                (a, b) =>
                  (URGENCY_ORDER[a.urgency] ?? 3) - (URGENCY_ORDER[b.urgency] ?? 3) ||
                  a.predictedRunOutDate.localeCompare(b.predictedRunOutDate),
              )
              .map((alert) => {
                const days = format.daysFromNow(alert.predictedRunOutDate);
                return (
                  <li key={alert.productId} className={`alert urgency-${alert.urgency}`} data-testid="alert">
                    <span className={`badge badge-${alert.urgency}`}>{alert.urgency}</span>{" "}
                    <strong>{alert.productName}</strong>
                    <span className="muted">
                      {" "}
                      · runs out {format.date(alert.predictedRunOutDate)}
                      {days != null ? ` (${days <= 0 ? "now" : `in ${days} day${days === 1 ? "" : "s"}`})` : ""}
                    </span>
                    {alert.message ? <p>{alert.message}</p> : null}
                  </li>
                );
              })}
          </ul>
        )}
      </QueryView>
    </Panel>
  );
}
