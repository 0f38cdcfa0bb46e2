import { useMemo } from "react";

import { useInventoryForecast, useRevenue } from "../api/queries";
import { Chart, PALETTE, type ChartOption } from "../components/Chart";
import { Panel, QueryView } from "../components/Panel";
import { useFormat, type Formatter } from "../format";

type Revenue = NonNullable<ReturnType<typeof useRevenue>["data"]>;

function revenueChart(series: Revenue, format: Formatter): ChartOption {
  return {
    color: PALETTE,
    tooltip: { trigger: "axis", valueFormatter: (value: number) => format.money(value) },
    legend: { top: 0 },
    grid: { left: 8, right: 8, bottom: 40, top: 36, containLabel: true },
    xAxis: { type: "category", data: series.points.map((point) => format.date(point.periodStart)) },
    yAxis: { type: "value", axisLabel: { formatter: (value: number) => format.money(value) } },
    dataZoom: [{ type: "slider", height: 18, bottom: 8 }],
    series: [
      { name: "Revenue", type: "line", data: series.points.map((point) => point.revenue) },
      {
        name: "Target",
        type: "line",
        lineStyle: { type: "dashed" },
        data: series.points.map((point) => point.target),
      },
    ],
  };
}

export function RevenuePanel() {
  const revenue = useRevenue();
  const format = useFormat();
  return (
    <Panel title="Revenue against target" wide>
      <QueryView
        query={revenue}
        loadingLabel="Loading revenue"
        isEmpty={(data) => data.points.length === 0}
        empty="No sales recorded yet."
      >
        {(data) => <RevenueView series={data} format={format} />}
      </QueryView>
    </Panel>
  );
}

function RevenueView({ series, format }: { series: Revenue; format: Formatter }) {
  const option = useMemo(() => revenueChart(series, format), [series, format]);
  const last = series.points.at(-1);
  const reached = last && last.target ? last.revenue / last.target : null;
  return (
    <>
      {last ? (
        <p className="kpis">
          <span>
            Last {series.granularity} <strong>{format.money(last.revenue)}</strong>
          </span>
          <span>
            Target <strong>{format.money(last.target)}</strong>
          </span>
          <span>
            Reached <strong>{format.percent(reached)}</strong>
          </span>
        </p>
      ) : null}
      <Chart
        option={option}
        summary={`Revenue per ${series.granularity} against target over ${series.points.length} periods.`}
      />
    </>
  );
}

export function InventoryPanel() {
  const forecast = useInventoryForecast(7);
  const format = useFormat();
  return (
    <Panel
      title="Inventory insights: next 7 days"
      description="Units the replenishment predictions expect households to buy."
    >
      <QueryView
        query={forecast}
        loadingLabel="Loading the forecast"
        isEmpty={(data) => data.products.length === 0}
        empty="No replenishment is expected in the next 7 days."
      >
        {(data) => (
          <>
            <Chart
              height={220}
              summary={`Expected units by category: ${data.categories
                .slice(0, 8)
                .map((row) => `${row.category} ${format.number(row.expectedUnits)}`)
                .join(", ")}.`}
              option={{
                color: PALETTE,
                tooltip: { trigger: "axis" },
                grid: { left: 8, right: 16, bottom: 8, top: 8, containLabel: true },
                xAxis: { type: "value" },
                yAxis: {
                  type: "category",
                  inverse: true,
                  data: data.categories.slice(0, 8).map((row) => row.category),
                },
                series: [
                  {
                    name: "Expected units",
                    type: "bar",
                    data: data.categories.slice(0, 8).map((row) => row.expectedUnits),
                  },
                ],
              }}
            />
            <div
              className="table-scroll"
              tabIndex={0}
              role="region"
              aria-label="Expected units per product"
            >
              <table>
                <thead>
                  <tr>
                    <th scope="col">Product</th>
                    <th scope="col">Category</th>
                    <th scope="col" className="num">
                      Units
                    </th>
                    <th scope="col" className="num">
                      Households
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {data.products.map((row) => (
                    <tr key={row.productId}>
                      <th scope="row">{row.productName}</th>
                      <td>{row.category ?? "—"}</td>
                      <td className="num">{format.number(row.expectedUnits, 1)}</td>
                      <td className="num">{format.number(row.households)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </QueryView>
    </Panel>
  );
}
