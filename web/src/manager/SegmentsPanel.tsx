import { useMemo } from "react";

import type { Schemas } from "../api/client";
import { useSegmentPerformance, useSegmentsOverview } from "../api/queries";
import { Chart, PALETTE, type ChartOption } from "../components/Chart";
import { ErrorState, Loading, Panel, QueryView } from "../components/Panel";
import { useFormat, type Formatter } from "../format";

type Segment = Schemas["CustomerSegment"];
type Performance = Schemas["SegmentPerformanceMetrics"];

/** Revenue, migrations and size trend come from each segment's performance. */
const PERIOD_DAYS = 90;

function segmentChart(
  segments: Segment[],
  revenue: Map<string, number>,
  format: Formatter,
): ChartOption {
  const hasRevenue = revenue.size > 0;
  return {
    color: PALETTE,
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 8, right: 8, bottom: 8, top: 36, containLabel: true },
    xAxis: {
      type: "category",
      data: segments.map((segment) => segment.segmentName),
      axisLabel: { interval: 0, rotate: 30 },
    },
    yAxis: [
      { type: "value", name: "Customers" },
      ...(hasRevenue
        ? [
            {
              type: "value",
              name: `Revenue, ${PERIOD_DAYS} days`,
              axisLabel: { formatter: (v: number) => format.money(v) },
            },
          ]
        : []),
    ],
    series: [
      { name: "Customers", type: "bar", data: segments.map((segment) => segment.customerCount) },
      ...(hasRevenue
        ? [
            {
              name: "Revenue",
              type: "line",
              yAxisIndex: 1,
              data: segments.map((segment) => revenue.get(segment.segmentId) ?? null),
              tooltip: { valueFormatter: (v: number) => format.money(v) },
            },
          ]
        : []),
    ],
  };
}

export function SegmentsPanel() {
  const overview = useSegmentsOverview();
  const format = useFormat();
  return (
    <Panel
      title="Customer segments"
      wide
      description={`Households per RFM segment; revenue and moves over the last ${PERIOD_DAYS} days.`}
    >
      <QueryView
        query={overview}
        loadingLabel="Loading segments"
        isEmpty={(data) => data.segments.length === 0 || data.statistics.segmentedCustomers === 0}
        empty="Segments have not been computed yet: they appear after the first recomputation (omnix segments recompute, or the schedule)."
      >
        {(data) => (
          <SegmentsView segments={data.segments} statistics={data.statistics} format={format} />
        )}
      </QueryView>
    </Panel>
  );
}

interface SegmentsViewProps {
  segments: Segment[];
  statistics: Schemas["SegmentationStatistics"];
  format: Formatter;
}

function SegmentsView({ segments, statistics, format }: SegmentsViewProps) {
  const ids = useMemo(() => segments.map((segment) => segment.segmentId), [segments]);
  const performance = useSegmentPerformance(ids, PERIOD_DAYS);
  const bySegment = new Map<string, Performance>();
  performance.forEach((query, index) => {
    const id = ids[index];
    if (id && query.data) bySegment.set(id, query.data);
  });
  const revenue = new Map([...bySegment].map(([id, metrics]) => [id, metrics.revenue]));
  // The map is rebuilt on each render; the chart changes only with its content.
  const revenueKey = JSON.stringify([...revenue]);
  const option = useMemo(
    () => segmentChart(segments, new Map<string, number>(JSON.parse(revenueKey)), format),
    [segments, format, revenueKey],
  );
  const summary = segments
    .map((segment) => `${segment.segmentName}: ${format.number(segment.customerCount)}`)
    .join(", ");
  const performanceError = performance.find((query) => query.isError)?.error;

  return (
    <>
      <p className="kpis">
        <span>
          <strong>{format.number(statistics.segmentedCustomers)}</strong> households segmented
        </span>
        <span>
          <strong>{format.number(statistics.migrationsLast30Days)}</strong> moves in 30 days
        </span>
        <span>as of {format.date(statistics.lastAsOf)}</span>
      </p>
      <Chart option={option} summary={`Customers per segment. ${summary}`} />
      {performanceError ? <ErrorState error={performanceError} /> : null}
      <div className="table-scroll" tabIndex={0} role="region" aria-label="Segments table">
        <table>
          <thead>
            <tr>
              <th scope="col">Segment</th>
              <th scope="col" className="num">
                Customers
              </th>
              <th scope="col" className="num">
                Share
              </th>
              <th scope="col" className="num">
                Avg order
              </th>
              <th scope="col" className="num">
                Revenue
              </th>
              <th scope="col" className="num">
                Moved in
              </th>
              <th scope="col" className="num">
                Moved out
              </th>
            </tr>
          </thead>
          <tbody>
            {segments.map((segment) => {
              const metrics = bySegment.get(segment.segmentId);
              return (
                <tr key={segment.segmentId} data-testid="segment-row">
                  <th scope="row" title={segment.description}>
                    {segment.segmentName}
                  </th>
                  <td className="num" data-testid="segment-count">
                    {format.number(segment.customerCount)}
                  </td>
                  <td className="num">{format.percent(segment.shareOfCustomers, 1)}</td>
                  <td className="num">{format.money(segment.averageOrderValue)}</td>
                  <td className="num">{metrics ? format.money(metrics.revenue) : "…"}</td>
                  <td className="num">{metrics ? format.number(metrics.migrationsIn) : "…"}</td>
                  <td className="num">{metrics ? format.number(metrics.migrationsOut) : "…"}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <SizeTrend
        segments={segments}
        bySegment={bySegment}
        loading={performance.some((q) => q.isPending)}
      />
    </>
  );
}

/** Segment sizes at each full recomputation: how customers migrate over time. */
function SizeTrend({
  segments,
  bySegment,
  loading,
}: {
  segments: Segment[];
  bySegment: Map<string, Performance>;
  loading: boolean;
}) {
  const format = useFormat();
  if (loading) return <Loading label="Loading segment history" />;
  const instants = [
    ...new Set([...bySegment.values()].flatMap((metrics) => metrics.trend.map((p) => p.asOf))),
  ].sort();
  return (
    <div className="sub-section">
      <h3>Segment sizes over time</h3>
      {instants.length < 2 ? (
        <p className="state state-empty">
          Sizes over time appear after the segments have been computed more than once.
        </p>
      ) : (
        <Chart
          height={240}
          summary={`Customers per segment at ${instants.length} computations from ${format.date(
            instants[0],
          )} to ${format.date(instants.at(-1))}.`}
          option={{
            color: PALETTE,
            tooltip: { trigger: "axis" },
            legend: { top: 0, type: "scroll" },
            grid: { left: 8, right: 8, bottom: 8, top: 40, containLabel: true },
            xAxis: { type: "category", data: instants.map((instant) => format.date(instant)) },
            yAxis: { type: "value", name: "Customers" },
            series: segments.map((segment) => {
              const points = new Map(
                (bySegment.get(segment.segmentId)?.trend ?? []).map((p) => [
                  p.asOf,
                  p.customerCount,
                ]),
              );
              return {
                name: segment.segmentName,
                type: "line",
                data: instants.map((instant) => points.get(instant) ?? null),
              };
            }),
          }}
        />
      )}
    </div>
  );
}
