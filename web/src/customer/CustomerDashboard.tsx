import { Link, useParams } from "react-router";

import { ApiError } from "../api/client";
import { useCustomerSegment, useProfile } from "../api/queries";
import { isStaff, landingPath, useAuth } from "../auth/AuthProvider";
import { ErrorState, Loading } from "../components/Panel";
import { ConsumptionTracker } from "./ConsumptionTracker";
import { PersonalInsights } from "./PersonalInsights";
import { PreferencesForm } from "./PreferencesForm";
import { RecommendationsPanel } from "./RecommendationsPanel";
import { ReplenishmentAlerts } from "./ReplenishmentAlerts";
import { ShoppingHistory } from "./ShoppingHistory";

export function CustomerPage() {
  const { customerId = "" } = useParams();
  const { user } = useAuth();
  const profile = useProfile(customerId);

  if (profile.isPending) return <Loading label="Loading the household" />;
  if (profile.isError) {
    const error = profile.error;
    if (error instanceof ApiError && error.status === 403) {
      return (
        <section className="refused">
          <h1>Not your household</h1>
          <p className="state state-forbidden" role="alert" data-state="forbidden">
            You can only see your own household's page.
          </p>
          {user ? <Link to={landingPath(user)}>Go to your dashboard</Link> : null}
        </section>
      );
    }
    if (error instanceof ApiError && error.status === 404) {
      return (
        <section>
          <h1>Household {customerId}</h1>
          <p className="state state-empty" role="alert">
            There is no household {customerId}.
          </p>
        </section>
      );
    }
    return <ErrorState error={error} retry={() => void profile.refetch()} />;
  }

  const staffView = isStaff(user);
  const name = profile.data.name;
  return (
    <>
      {staffView ? (
        <p>
          <Link to="/manager">← Dashboard</Link>
        </p>
      ) : null}
      <h1>
        {staffView
          ? `Household ${customerId}${name ? ` · ${name}` : ""}`
          : `Welcome back${name ? `, ${name}` : ""}`}
      </h1>
      <SegmentBadge customerId={customerId} />
      <div className="grid">
        <PersonalInsights customerId={customerId} profile={profile.data} />
        <ReplenishmentAlerts customerId={customerId} />
        <RecommendationsPanel customerId={customerId} />
        <ConsumptionTracker customerId={customerId} />
        <ShoppingHistory customerId={customerId} />
        <PreferencesForm customerId={customerId} preferences={profile.data.preferences} />
      </div>
    </>
  );
}

function SegmentBadge({ customerId }: { customerId: string }) {
  const segment = useCustomerSegment(customerId);
  if (!segment.data) return null;
  const current = segment.data.assignments?.[0] ?? segment.data;
  return (
    <p className="segment-line">
      Segment <span className="badge badge-segment">{current.segmentName}</span>
    </p>
  );
}
