import { Link, useParams } from "react-router";

import { useAbTestResults, useAbTests, useAbTestStatuses } from "../api/queries";
import { Chart, PALETTE } from "../components/Chart";
import { Panel, QueryView } from "../components/Panel";
import { useFormat, type Formatter } from "../format";

type TestList = NonNullable<ReturnType<typeof useAbTests>["data"]>;
type AbTest = TestList["data"][number];
type Results = NonNullable<ReturnType<typeof useAbTestResults>["data"]>;
type Comparison = Results["data"]["comparisons"][number];
type Metrics = Results["data"]["modelA"]["metrics"];

const WINNER_TEXT: Record<string, string> = { A: "Arm A", B: "Arm B", tie: "No difference yet" };

export function AbTestsPanel() {
  const tests = useAbTests();
  return (
    <Panel title="A/B tests of analysis models">
      <QueryView
        query={tests}
        loadingLabel="Loading A/B tests"
        isEmpty={(data) => data.data.length === 0}
        empty="No A/B test has been created yet."
      >
        {(data) => <AbTestTable list={data} />}
      </QueryView>
    </Panel>
  );
}

function AbTestTable({ list }: { list: TestList }) {
  const format = useFormat();
  const statuses = useAbTestStatuses(list.data.map((test) => test.testId));
  return (
    <>
      <p className="kpis">
        <span>
          <strong>{format.number(list.totalTests)}</strong> tests
        </span>
        <span>
          <strong>{format.number(list.activeTests)}</strong> running
        </span>
      </p>
      <div className="table-scroll" tabIndex={0} role="region" aria-label="A/B tests">
        <table>
          <thead>
            <tr>
              <th scope="col">Test</th>
              <th scope="col">Status</th>
              <th scope="col">Arms (A vs B)</th>
              <th scope="col">Winner</th>
              <th scope="col" className="num">
                Significance
              </th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((test: AbTest, index) => {
              const status = statuses[index]?.data;
              return (
                <tr key={test.testId} data-testid="ab-test-row">
                  <th scope="row">
                    <Link to={`/manager/ab-tests/${encodeURIComponent(test.testId)}`}>
                      {test.testName}
                    </Link>
                  </th>
                  <td>
                    <span className={`badge badge-${test.status}`}>{test.status}</span>
                  </td>
                  <td>
                    {test.modelA} vs {test.modelB}
                    <span className="muted"> · {format.percent(test.trafficSplit)} to B</span>
                  </td>
                  <td>
                    {status ? (WINNER_TEXT[status.currentWinner] ?? status.currentWinner) : "…"}
                  </td>
                  <td className="num">{status ? format.percent(status.significance, 1) : "…"}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </>
  );
}

const ARM_METRICS: [keyof Metrics, string, "number" | "percent" | "money" | "ms"][] = [
  ["totalRequests", "Analyses run", "number"],
  ["successRate", "Success rate", "percent"],
  ["averageProcessingTime", "Avg processing time", "ms"],
  ["averageConfidence", "Avg confidence", "percent"],
  ["averageTokenCost", "Avg token cost", "money"],
  ["customerSatisfactionScore", "Satisfaction", "number"],
];

function show(format: Formatter, kind: string, value: number | null | undefined): string {
  if (kind === "percent") return format.percent(value, 1);
  if (kind === "money") return format.money(value);
  if (kind === "ms") return value == null ? "—" : `${format.number(value, 0)} ms`;
  return format.number(value, value != null && Math.abs(value) < 10 ? 2 : 0);
}

function uplift(format: Formatter, comparison: Comparison): string {
  if (comparison.relativeUplift == null) return "—";
  const sign = comparison.relativeUplift > 0 ? "+" : "";
  const interval =
    comparison.relativeCiLow != null && comparison.relativeCiHigh != null
      ? ` (${format.percent(comparison.relativeCiLow, 1)} to ${format.percent(comparison.relativeCiHigh, 1)})`
      : "";
  return `${sign}${format.percent(comparison.relativeUplift, 1)}${interval}`;
}

export function AbTestResultPage() {
  const { testId = "" } = useParams();
  const results = useAbTestResults(testId);
  const format = useFormat();

  return (
    <>
      <p>
        <Link to="/manager">← Dashboard</Link>
      </p>
      <QueryView query={results} loadingLabel="Loading results">
        {({ data, summary }) => (
          <Panel title={`A/B test: ${data.testName}`} wide>
            <p className="kpis">
              <span>
                Status <span className={`badge badge-${data.status}`}>{data.status}</span>
              </span>
              <span>
                Winner <strong>{WINNER_TEXT[data.winner] ?? data.winner}</strong>
              </span>
              <span>
                Significance <strong>{format.percent(data.significance, 1)}</strong>
              </span>
              <span>
                {format.date(data.startDate)} – {format.date(data.endDate)}
              </span>
            </p>
            <p data-testid="ab-headline">{summary.headline}</p>
            {summary.sampleRatioMismatch ? (
              <p className="state state-error" role="alert">
                The arms did not get the traffic the split asked for (sample ratio mismatch): the
                comparison cannot be trusted.
              </p>
            ) : null}
            <Chart
              summary={`Success rate and confidence of ${data.modelA.name} and ${data.modelB.name}.`}
              height={220}
              option={{
                color: PALETTE,
                tooltip: { trigger: "axis" },
                legend: { top: 0 },
                grid: { left: 8, right: 8, bottom: 8, top: 36, containLabel: true },
                xAxis: { type: "category", data: ["Success rate", "Avg confidence"] },
                yAxis: { type: "value", max: 1 },
                series: [data.modelA, data.modelB].map((arm) => ({
                  name: arm.name,
                  type: "bar",
                  data: [arm.metrics.successRate, arm.metrics.averageConfidence],
                })),
              }}
            />
            <h3>Arms</h3>
            <div className="table-scroll" tabIndex={0} role="region" aria-label="Arm metrics">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Metric</th>
                    <th scope="col" className="num">
                      A: {data.modelA.name}
                    </th>
                    <th scope="col" className="num">
                      B: {data.modelB.name}
                    </th>
                  </tr>
                </thead>
                <tbody>
                  <tr>
                    <th scope="row">Customers</th>
                    <td className="num">{format.number(summary.customersA)}</td>
                    <td className="num">{format.number(summary.customersB)}</td>
                  </tr>
                  {ARM_METRICS.map(([key, label, kind]) => (
                    <tr key={key}>
                      <th scope="row">{label}</th>
                      <td className="num">{show(format, kind, data.modelA.metrics[key])}</td>
                      <td className="num">{show(format, kind, data.modelB.metrics[key])}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <h3>Comparisons</h3>
            {data.comparisons.length === 0 ? (
              <p className="state state-empty">No metric has enough data to compare yet.</p>
            ) : (
              <div className="table-scroll" tabIndex={0} role="region" aria-label="Comparisons">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Metric</th>
                      <th scope="col" className="num">
                        A
                      </th>
                      <th scope="col" className="num">
                        B
                      </th>
                      <th scope="col" className="num">
                        B vs A (95% interval)
                      </th>
                      <th scope="col" className="num">
                        p-value
                      </th>
                      <th scope="col">Reading</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.comparisons.map((comparison) => (
                      <tr key={comparison.metric}>
                        <th scope="row">{comparison.label}</th>
                        <td className="num">
                          {format.number(comparison.modelA.mean, 3)}{" "}
                          <span className="muted">n={comparison.modelA.n}</span>
                        </td>
                        <td className="num">
                          {format.number(comparison.modelB.mean, 3)}{" "}
                          <span className="muted">n={comparison.modelB.n}</span>
                        </td>
                        <td className="num">{uplift(format, comparison)}</td>
                        <td className="num">{format.number(comparison.pValue, 3)}</td>
                        <td>
                          {comparison.significant
                            ? `${WINNER_TEXT[comparison.winner] ?? comparison.winner} is better`
                            : (comparison.reason ?? "No significant difference")}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            {data.recommendations.length ? (
              <>
                <h3>What to do</h3>
                <ul>
                  {data.recommendations.map((line) => (
                    <li key={line}>{line}</li>
                  ))}
                </ul>
              </>
            ) : null}
          </Panel>
        )}
      </QueryView>
    </>
  );
}
