// Endpoints the dashboards show that the API schema does not have yet.
//
// Each entry is the integration guide's contract for one endpoint (its
// interfaces, copied field for field). `ApiPaths` in client.ts merges these
// with the generated `paths` so that an endpoint's generated definition
// replaces its entry here as soon as the backend serves it: from then on the
// dashboards are type-checked against the real schema, and the entry below
// is dead text that can be deleted.

type Json<T> = { headers: { [name: string]: unknown }; content: { "application/json": T } };

type PathPart<PathParams> = [PathParams] extends [never] ? { path?: never } : { path: PathParams };

type Operation<PathParams, Query, Result> = {
  parameters: { query?: Query; header?: never; cookie?: never } & PathPart<PathParams>;
  requestBody?: never;
  responses: { 200: Json<Result> };
};

type GetOnly<PathParams, Query, Result> = {
  parameters: { query?: never; header?: never; path?: never; cookie?: never };
  get: Operation<PathParams, Query, Result>;
  put?: never;
  post?: never;
  delete?: never;
  options?: never;
  head?: never;
  patch?: never;
  trace?: never;
};

type CustomerPath = { id: string };
type NoPath = never;

/**
 * Guide, "A/B Testing Models", as the experiments domain completes it: arms
 * are analysis models named by id in a test's configuration, and results add
 * one comparison per metric.
 */
export interface ModelPerformanceMetrics {
  totalRequests: number;
  successRate: number | null;
  averageProcessingTime: number | null;
  averageConfidence: number | null;
  averageTokenCost: number | null;
  customerSatisfactionScore?: number | null;
}

type TestStatus = "pending" | "running" | "completed" | "paused";

export interface ABTestConfig {
  testId: string;
  testName: string;
  status: TestStatus;
  modelA: string;
  modelB: string;
  analysisType: string;
  trafficSplit: number;
  primaryMetric: string;
  startDate: string;
  endDate: string;
}

export interface ABTestStatusInfo {
  testId: string;
  testName: string;
  status: string;
  modelsCompared: string[];
  currentWinner: string;
  significance: number;
}

export interface MetricComparison {
  metric: string;
  label: string;
  unit: string;
  higherIsBetter: boolean;
  modelA: { n: number; mean: number | null };
  modelB: { n: number; mean: number | null };
  relativeUplift: number | null;
  relativeCiLow: number | null;
  relativeCiHigh: number | null;
  pValue: number | null;
  significant: boolean;
  winner: string;
  reason: string | null;
}

export interface ABTestResult {
  testId: string;
  testName: string;
  status: TestStatus;
  modelA: { id: string; name: string; metrics: ModelPerformanceMetrics };
  modelB: { id: string; name: string; metrics: ModelPerformanceMetrics };
  winner: "A" | "B" | "tie";
  significance: number;
  recommendations: string[];
  comparisons: MetricComparison[];
  startDate: string;
  endDate: string;
}

export interface TestResultsSummary {
  headline: string;
  readyToDecide: boolean;
  significant: boolean;
  customersA: number;
  customersB: number;
  sampleRatioMismatch: boolean | null;
}

/** Guide, "Streaming Analytics Models". */
export interface RealtimeInsight {
  customerId: string;
  insightType:
    "segment_migration" | "consumption_prediction" | "behavior_anomaly" | "recommendation_update";
  insight: string;
  actionRequired: boolean;
  priority: "low" | "medium" | "high" | "critical";
  timestamp: string;
  data: Record<string, unknown>;
}

/** Guide, "Core Customer Models". */
export interface CustomerProfile {
  customerId: string;
  spendingPatterns: {
    averageOrderValue: number;
    preferredCategories: string[];
    shoppingFrequency: "daily" | "weekly" | "monthly" | "irregular";
    pricePreference: "budget" | "mid-range" | "premium";
  };
  behavioralInsights: {
    plannedShopper: boolean;
    brandLoyal: boolean;
    seasonalShopper: boolean;
    bulkBuyer: boolean;
  };
  demographics: {
    estimatedAgeGroup: string;
    estimatedIncomeLevel: string;
    familySize: number;
    lifestyle: string[];
  };
}

export interface ConsumptionPattern {
  productId: string;
  productName: string;
  category: string;
  averageDaysBetweenPurchases: number;
  predictedNextPurchaseDate: string;
  confidence: number;
  seasonalVariation?: boolean;
}

/** DESIGN.md: recommendations come as `repurchase` or `discovery`, each with a reason. */
export interface Recommendation {
  productId: string;
  productName: string;
  category: string | null;
  brand?: string | null;
  kind: "repurchase" | "discovery";
  score: number;
  reason: string;
}

/** Dates without a time are the store's calendar days (YYYY-MM-DD). */
export interface ReplenishmentAlert {
  productId: string;
  productName: string;
  category: string;
  urgency: "overdue" | "due" | "soon";
  probability: number;
  suggestedQuantity: number;
  expectedRunOutDate: string;
  confidence: number;
  reason: string;
}

export interface PendingPaths {
  "/v1/ab-tests": GetOnly<
    NoPath,
    never,
    { success: boolean; data: ABTestConfig[]; totalTests: number; activeTests: number }
  >;
  "/v1/ab-tests/{testId}/status": GetOnly<{ testId: string }, never, ABTestStatusInfo>;
  "/v1/ab-tests/{testId}/results": GetOnly<
    { testId: string },
    { includeRawData?: boolean },
    { success: boolean; data: ABTestResult; summary: TestResultsSummary }
  >;
  "/v1/streaming/insights/system/overview": GetOnly<
    NoPath,
    never,
    {
      totalInsights: number;
      insightsByType: Record<string, number>;
      insightsByPriority: Record<string, number>;
      processingMetrics: Record<string, unknown>;
      recentInsights?: RealtimeInsight[];
    }
  >;
  "/v1/customers/{id}/customer-profile-analysis": GetOnly<CustomerPath, never, CustomerProfile>;
  "/v1/customers/{id}/ai-recommendations": GetOnly<
    CustomerPath,
    { limit?: number },
    { recommendations: Recommendation[]; confidence: number }
  >;
  "/v1/customers/{id}/consumption-predictions": GetOnly<CustomerPath, never, ConsumptionPattern[]>;
  "/v1/customers/{id}/replenishment-alerts": GetOnly<CustomerPath, never, ReplenishmentAlert[]>;
}
