import { Link, useParams } from "react-router";

import { useAbTestResults, useAbTests } from "../api/queries";
import { Chart, PALETTE } from "../components/Chart";
import { Panel, QueryView } from "../components/Panel";
import { useFormat } from "../format";

type TestList = NonNullable<ReturnType<typeof useAbTests>["data"]>;
type AbTest = TestList["data"][number];

const WINNER_TEXT: Record<string, string> = { A: "Arm A", B: "Arm B", tie: "No difference" };

function arms(test: AbTest): string {
  const a = test.modelA?.name;
  const b = test.modelB?.name;
  return a && b ? `${a} vs ${b}` : "—";
}

export function AbTestsPanel() {
  const tests = useAbTests();
  const format = useFormat();
  return (
    <Panel title="A/B tests of analysis models">
      <QueryView
        query={tests}
        loadingLabel="Loading A/B tests"
        isEmpty={(data) => data.data.length === 0}
        empty="No A/B test has been created yet."
      >
        {(data) => (
          <>
            <p className="kpis">
              <span>
                <strong>{format.number(data.totalTests)}</strong> tests
              </span>
              <span>
                <strong>{format.number(data.activeTests)}</strong> running
              </span>
            </p>
            <div className="table-scroll" tabIndex={0} role="region" aria-label="A/B tests">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Test</th>
                    <th scope="col">Status</th>
                    <th scope="col">Arms</th>
                    <th scope="col">Winner</th>
                    <th scope="col" className="num">
                      Significance
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {data.data.map((test) => (
                    <tr key={test.testId}>
                      <th scope="row">
                        <Link to={`/manager/ab-tests/${encodeURIComponent(test.testId)}`}>
                          {test.testName}
                        </Link>
                      </th>
                      <td>
                        <span className={`badge badge-${test.status}`}>{test.status}</span>
                      </td>
                      <td>{arms(test)}</td>
                      <td>{test.winner ? (WINNER_TEXT[test.winner] ?? test.winner) : "—"}</td>
                      <td className="num">{format.percent(test.significance, 1)}</td>
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

const METRICS = [
  ["totalRequests", "Requests", "number"],
  ["successRate", "Success rate", "percent"],
  ["averageProcessingTime", "Avg processing time (ms)", "number"],
  ["averageConfidence", "Avg confidence", "percent"],
  ["averageTokenCost", "Avg token cost", "money"],
  ["customerSatisfactionScore", "Satisfaction", "number"],
] as const;

export function AbTestResultPage() {
  const { testId = "" } = useParams();
  const results = useAbTestResults(testId);
  const format = useFormat();
  const show = (kind: string, value: number | null | undefined) =>
    kind === "percent"
      ? format.percent(value, 1)
      : kind === "money"
        ? format.money(value)
        : format.number(value, value != null && Math.abs(value) < 10 ? 2 : 0);

  return (
    <>
      <p>
        <Link to="/manager">← Dashboard</Link>
      </p>
      <Panel title="A/B test results" wide>
        <QueryView query={results} loadingLabel="Loading results">
          {({ data }) => (
            <>
              <h3>{data.testName}</h3>
              <p className="kpis">
                <span>
                  Status <span className={`badge badge-${data.status}`}>{data.status}</span>
                </span>
                <span>
                  Winner <strong>{WINNER_TEXT[data.winner] ?? data.winner ?? "—"}</strong>
                </span>
                <span>
                  Significance <strong>{format.percent(data.significance, 1)}</strong>
                </span>
                <span>
                  {format.date(data.startDate)} – {format.date(data.endDate)}
                </span>
              </p>
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
                    {METRICS.map(([key, label, kind]) => (
                      <tr key={key}>
                        <th scope="row">{label}</th>
                        <td className="num">{show(kind, data.modelA.metrics[key])}</td>
                        <td className="num">{show(kind, data.modelB.metrics[key])}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
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
            </>
          )}
        </QueryView>
      </Panel>
    </>
  );
}
