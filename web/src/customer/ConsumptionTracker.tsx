import { useMemo } from "react";

import { useConsumptionPredictions } from "../api/queries";
import { Chart, PALETTE, type ChartOption } from "../components/Chart";
import { Panel, QueryView } from "../components/Panel";
import { useFormat, type Formatter } from "../format";

type Patterns = NonNullable<ReturnType<typeof useConsumptionPredictions>["data"]>;

const SHOWN = 12;

/** The soonest predicted purchases, each on its store day along a time axis. */
function timeline(patterns: Patterns, format: Formatter): ChartOption {
  const names = patterns.map((pattern) => pattern.productName);
  return {
    color: PALETTE,
    tooltip: {
      formatter: (point: { data: [string, string, number] }) =>
        `${point.data[1]}<br/>${format.date(point.data[0])} · confidence ${format.percent(point.data[2])}`,
    },
    grid: { left: 8, right: 16, bottom: 8, top: 16, containLabel: true },
    xAxis: { type: "time" },
    yAxis: {
      type: "category",
      data: names,
      inverse: true,
      axisLabel: { width: 140, overflow: "truncate" },
    },
    series: [
      {
        type: "scatter",
        symbolSize: (value: [string, string, number]) => 8 + 12 * value[2],
        data: patterns.map((pattern) => [
          pattern.predictedNextPurchaseDate,
          pattern.productName,
          pattern.confidence,
        ]),
        markLine: format.store.asOf
          ? {
              symbol: "none",
              label: { formatter: "today" },
              data: [{ xAxis: format.store.asOf }],
            }
          : undefined,
      },
    ],
  };
}

export function ConsumptionTracker({ customerId }: { customerId: string }) {
  const predictions = useConsumptionPredictions(customerId);
  const format = useFormat();
  // Overdue products are the alerts' business; the tracker looks ahead.
  const upcoming = useMemo(
    () =>
      [...(predictions.data ?? [])]
        .filter((pattern) => (format.daysFromNow(pattern.predictedNextPurchaseDate) ?? 0) >= 0)
        .sort((a, b) => a.predictedNextPurchaseDate.localeCompare(b.predictedNextPurchaseDate)),
    [predictions.data, format],
  );
  const soonest = upcoming.slice(0, SHOWN);
  return (
    <Panel
      title="Consumption tracker"
      wide
      description="When you are likely to buy each product next."
    >
      <QueryView
        query={predictions}
        loadingLabel="Loading predictions"
        isEmpty={() => upcoming.length === 0}
        empty="No upcoming purchase predicted yet: it takes a few repeat purchases."
      >
        {() => (
          <>
            <Chart
              option={timeline(soonest, format)}
              summary={`Next purchases: ${soonest
                .map((p) => `${p.productName} on ${format.date(p.predictedNextPurchaseDate)}`)
                .join("; ")}.`}
              height={Math.max(200, 28 * soonest.length + 40)}
            />
            <ol className="timeline" aria-label="Predicted next purchases">
              {soonest.map((pattern) => (
                <li key={pattern.productId}>
                  <time dateTime={pattern.predictedNextPurchaseDate}>
                    {format.date(pattern.predictedNextPurchaseDate)}
                  </time>{" "}
                  <strong>{pattern.productName}</strong>
                  <span className="muted">
                    {" "}
                    · every {format.number(pattern.averageDaysBetweenPurchases, 0)} days ·
                    confidence {format.percent(pattern.confidence)}
                  </span>
                </li>
              ))}
            </ol>
            {upcoming.length > SHOWN ? (
              <p className="muted">and {upcoming.length - SHOWN} more products later.</p>
            ) : null}
          </>
        )}
      </QueryView>
    </Panel>
  );
}
