import { useMemo, useState } from "react";
import { Link } from "react-router";

import type { RealtimeInsight } from "../api/pending";
import { useInsightsOverview } from "../api/queries";
import { Panel, QueryView } from "../components/Panel";
import { useFormat } from "../format";
import { useInsightStream, type OpenSocket, type StreamStatus } from "./insightStream";

const PRIORITIES = ["critical", "high", "medium", "low"] as const;
type Priority = (typeof PRIORITIES)[number];

const STATUS_TEXT: Record<StreamStatus, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  unavailable: "Live feed not available yet",
};

export function InsightsPanel({ openSocket }: { openSocket?: OpenSocket }) {
  const overview = useInsightsOverview();
  const { status, insights, dropped } = useInsightStream(openSocket);
  const [shown, setShown] = useState<Set<Priority>>(() => new Set(PRIORITIES));
  const format = useFormat();

  const visible = useMemo(
    () => insights.filter((insight) => shown.has(insight.priority)),
    [insights, shown],
  );
  const toggle = (priority: Priority) =>
    setShown((previous) => {
      const next = new Set(previous);
      if (next.has(priority)) next.delete(priority);
      else next.add(priority);
      return next;
    });

  return (
    <Panel
      title="Real-time insights"
      actions={
        <span className={`live-status live-${status}`} role="status" data-testid="stream-status">
          {STATUS_TEXT[status]}
        </span>
      }
    >
      <QueryView query={overview} loadingLabel="Loading insight totals">
        {(data) => (
          <p className="kpis">
            <span>
              <strong>{format.number(data.totalInsights)}</strong> insights
            </span>
            {PRIORITIES.map((priority) => (
              <span key={priority}>
                <strong>{format.number(data.insightsByPriority?.[priority] ?? 0)}</strong>{" "}
                {priority}
              </span>
            ))}
          </p>
        )}
      </QueryView>
      <fieldset className="filters">
        <legend>Show priorities</legend>
        {PRIORITIES.map((priority) => (
          <label key={priority}>
            <input
              type="checkbox"
              checked={shown.has(priority)}
              onChange={() => toggle(priority)}
            />{" "}
            {priority}
          </label>
        ))}
      </fieldset>
      {dropped > 0 ? (
        <p className="notice" role="status">
          {format.number(dropped)} insights were skipped while the feed was behind.
        </p>
      ) : null}
      {visible.length === 0 ? (
        <p className="state state-empty">
          {insights.length === 0
            ? "No insight has arrived since you opened the dashboard."
            : "No insight of the chosen priorities."}
        </p>
      ) : (
        <ol className="feed" aria-label="Insights, newest first" aria-live="polite">
          {visible.map((insight, index) => (
            <InsightItem
              key={`${insight.timestamp}-${insight.customerId}-${index}`}
              insight={insight}
            />
          ))}
        </ol>
      )}
    </Panel>
  );
}

function InsightItem({ insight }: { insight: RealtimeInsight }) {
  const format = useFormat();
  return (
    <li className={`feed-item priority-${insight.priority}`} data-testid="insight">
      <span className={`badge badge-${insight.priority}`}>{insight.priority}</span>{" "}
      <span>{insight.insight}</span>
      <span className="muted">
        {" "}
        · {insight.insightType.replaceAll("_", " ")} ·{" "}
        <Link to={`/customers/${encodeURIComponent(insight.customerId)}`}>
          household {insight.customerId}
        </Link>{" "}
        · <time dateTime={insight.timestamp}>{format.dateTime(insight.timestamp)}</time>
        {insight.actionRequired ? <strong> · action required</strong> : null}
      </span>
    </li>
  );
}
