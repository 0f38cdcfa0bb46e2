import type { Schemas } from "../api/client";
import { useProfileAnalysis } from "../api/queries";
import { Panel, QueryView } from "../components/Panel";
import { useFormat } from "../format";

// The profile's frequency words read as adverbs in a sentence.
const RHYTHM: Record<string, string> = {
  daily: "daily",
  weekly: "weekly",
  monthly: "monthly",
  irregular: "irregularly",
};

type Profile = Schemas["CustomerProfileDto"];

const TRAITS = [
  ["plannedShopper", "Plans the shopping"],
  ["brandLoyal", "Loyal to brands"],
  ["seasonalShopper", "Shops with the seasons"],
  ["bulkBuyer", "Buys in bulk"],
] as const;

export function PersonalInsights({
  customerId,
  profile,
}: {
  customerId: string;
  profile: Profile;
}) {
  const analysis = useProfileAnalysis(customerId);
  const format = useFormat();
  const summary = profile.purchaseSummary;
  return (
    <Panel title="Your shopping" wide>
      <dl className="stats">
        <div>
          <dt>Orders</dt>
          <dd>{format.number(summary.orderCount)}</dd>
        </div>
        <div>
          <dt>Spent in total</dt>
          <dd>{format.money(summary.totalSpent)}</dd>
        </div>
        <div>
          <dt>Average order</dt>
          <dd>
            {format.money(summary.orderCount ? summary.totalSpent / summary.orderCount : null)}
          </dd>
        </div>
        <div>
          <dt>Last visit</dt>
          <dd>{format.date(summary.lastPurchaseAt)}</dd>
        </div>
      </dl>
      <h3>Insights</h3>
      <QueryView query={analysis} loadingLabel="Analysing your shopping">
        {(data) => (
          <div className="insight-grid" data-testid="profile-analysis">
            <p>
              You shop <strong>{RHYTHM[data.spendingPatterns.shoppingFrequency]}</strong>, mostly{" "}
              <strong>{data.spendingPatterns.pricePreference}</strong> products, with an average
              basket of <strong>{format.money(data.spendingPatterns.averageOrderValue)}</strong>.
            </p>
            {data.spendingPatterns.preferredCategories.length ? (
              <p>
                Favourite aisles: {data.spendingPatterns.preferredCategories.slice(0, 5).join(", ")}
              </p>
            ) : null}
            <ul className="chips" aria-label="Shopping habits">
              {TRAITS.filter(([key]) => data.behavioralInsights[key]).map(([key, label]) => (
                <li key={key}>{label}</li>
              ))}
            </ul>
            <p className="muted">
              Estimated household: age {data.demographics.estimatedAgeGroup || "unknown"}, income{" "}
              {data.demographics.estimatedIncomeLevel || "unknown"}, {data.demographics.familySize}{" "}
              {data.demographics.familySize === 1 ? "person" : "people"}
              {data.demographics.lifestyle.length
                ? ` · ${data.demographics.lifestyle.join(", ")}`
                : ""}
            </p>
          </div>
        )}
      </QueryView>
    </Panel>
  );
}
