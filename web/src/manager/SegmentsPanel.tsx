import { useMemo } from "react";

import { useSegmentMigrations, useSegmentsOverview } from "../api/queries";
import { Chart, PALETTE, type ChartOption } from "../components/Chart";
import { Panel, QueryView } from "../components/Panel";
import { useFormat, type Formatter } from "../format";

type Overview = NonNullable<ReturnType<typeof useSegmentsOverview>["data"]>;
type Segment = Overview["segments"][number];

function revenueOf(segment: Segment): number | null {
  const value = (segment as { totalRevenue?: number | null }).totalRevenue;
  return typeof value === "number" ? value : null;
}

function segmentChart(segments: Segment[], format: Formatter): ChartOption {
  const hasRevenue = segments.some((segment) => revenueOf(segment) !== null);
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
        ? [{ type: "value", name: "Revenue", axisLabel: { formatter: (v: number) => format.money(v) } }]
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
              data: segments.map((segment) => revenueOf(segment)),
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
      description="Households per RFM segment, with their average basket and revenue."
    >
      <QueryView
        query={overview}
        loadingLabel="Loading segments"
        isEmpty={(data) => data.segments.length === 0}
        empty="No segments computed yet."
      >
        {(data) => <SegmentsView segments={data.segments} format={format} />}
      </QueryView>
      <MigrationsView />
    </Panel>
  );
}

function SegmentsView({ segments, format }: { segments: Segment[]; format: Formatter }) {
  const total = segments.reduce((sum, segment) => sum + segment.customerCount, 0);
  const option = useMemo(() => segmentChart(segments, format), [segments, format]);
  const summary = segments
    .map((segment) => `${segment.segmentName}: ${format.number(segment.customerCount)}`)
    .join(", ");
  return (
    <>
      <Chart option={option} summary={`Customers per segment. ${summary}`} />
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
                Orders / month
              </th>
              <th scope="col" className="num">
                Revenue
              </th>
            </tr>
          </thead>
          <tbody>
            {segments.map((segment) => (
              <tr key={segment.segmentId} data-testid="segment-row">
                <th scope="row" title={segment.description}>
                  {segment.segmentName}
                </th>
                <td className="num" data-testid="segment-count">
                  {format.number(segment.customerCount)}
                </td>
                <td className="num">
                  {format.percent(total ? segment.customerCount / total : null, 1)}
                </td>
                <td className="num">{format.money(segment.averageOrderValue)}</td>
                <td className="num">{format.number(segment.averagePurchaseFrequency, 1)}</td>
                <td className="num">{format.money(revenueOf(segment))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

type Migrations = NonNullable<ReturnType<typeof useSegmentMigrations>["data"]>;

function migrationsChart(migrations: Migrations, format: Formatter): ChartOption {
  const days = [...new Set(migrations.map((m) => format.day(m.migratedAt)))].sort();
  const targets = [...new Set(migrations.map((m) => m.toSegment))].sort();
  const counts = new Map<string, number>();
  for (const migration of migrations) {
    const key = `${format.day(migration.migratedAt)}|${migration.toSegment}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return {
    color: PALETTE,
    tooltip: { trigger: "axis" },
    legend: { top: 0, type: "scroll" },
    grid: { left: 8, right: 8, bottom: 8, top: 36, containLabel: true },
    xAxis: { type: "category", data: days },
    yAxis: { type: "value", name: "Moves" },
    series: targets.map((target) => ({
      name: `into ${target}`,
      type: "bar",
      stack: "moves",
      data: days.map((day) => counts.get(`${day}|${target}`) ?? 0),
    })),
  };
}

function MigrationsView() {
  const migrations = useSegmentMigrations();
  const format = useFormat();
  return (
    <div className="sub-section">
      <h3>Migrations over time</h3>
      <QueryView
        query={migrations}
        loadingLabel="Loading migrations"
        isEmpty={(data) => data.length === 0}
        empty="No household has changed segment yet."
      >
        {(data) => (
          <>
            <Chart
              option={migrationsChart(data, format)}
              summary={`${data.length} segment changes by store day and new segment.`}
              height={220}
            />
            <ul className="compact-list">
              {data.slice(0, 5).map((move) => (
                <li key={`${move.customerId}-${move.migratedAt}`}>
                  {format.date(move.migratedAt)}: household {move.customerId} moved from{" "}
                  {move.fromSegment ?? "no segment"} to {move.toSegment} — {move.reason}
                </li>
              ))}
            </ul>
          </>
        )}
      </QueryView>
    </div>
  );
}
