// Answers shaped as the API gives them, for component tests.

export const profile = {
  customerId: "1364",
  name: null,
  email: null,
  phone: null,
  demographics: {},
  preferences: {
    favoriteCategories: [],
    preferredBrands: [],
    dietaryRestrictions: [],
    communicationChannels: [],
    replenishmentReminders: true,
    marketingOptIn: false,
  },
  purchaseSummary: {
    orderCount: 3,
    lineCount: 9,
    totalSpent: 120.5,
    firstPurchaseAt: "2017-01-02T10:00:00Z",
    lastPurchaseAt: "2017-12-30T10:00:00Z",
  },
  createdAt: "2017-01-02T10:00:00Z",
  updatedAt: "2017-01-02T10:00:00Z",
};

const SEGMENT_NAMES = [
  "Champions",
  "Loyal Customers",
  "Potential Loyalists",
  "New Customers",
  "At Risk",
  "Can't Lose Them",
  "Hibernating",
  "Lost",
];

export const segmentsOverview = {
  segments: SEGMENT_NAMES.map((name, index) => ({
    segmentId: name.toLowerCase().replace(/[^a-z]+/g, "_"),
    segmentName: name,
    description: `${name} households`,
    criteria: {
      summary: "",
      priority: index + 1,
      rfmBoxes: [],
      byTenure: false,
      newCustomerDays: 90,
    },
    customerCount: 100 + index * 10,
    shareOfCustomers: (100 + index * 10) / 1080,
    averageOrderValue: 40 - index,
    averagePurchaseFrequency: 3.5,
    averageConfidence: 0.6,
    characteristics: { valueLevel: "high", engagement: "high", churnRisk: "low", behaviour: [] },
    recommendations: {
      goal: "",
      channels: [],
      offers: [],
      messaging: "",
      contactFrequency: "",
      actions: [],
      successMetrics: [],
    },
    valueRank: index + 1,
    createdAt: "2018-01-01T00:00:00Z",
    updatedAt: "2018-01-01T00:00:00Z",
  })),
  statistics: {
    totalCustomers: 1080,
    segmentedCustomers: 1080,
    customersWithoutPurchases: 0,
    averageConfidence: 0.6,
    lowConfidenceShare: 0.1,
    lastComputedAt: "2018-01-01T00:00:00Z",
    lastAsOf: "2018-01-01T00:00:00Z",
    recomputeCount: 2,
    migrationsLast30Days: 42,
    manualMigrationsLast30Days: 0,
    newCustomerDays: 90,
  },
};

export function segmentPerformance(segmentId: string, index: number) {
  return {
    segmentId,
    segmentName: SEGMENT_NAMES[index],
    period: { start: "2017-10-03T00:00:00Z", end: "2018-01-01T00:00:00Z", days: 90 },
    customerCount: 100 + index * 10,
    shareOfCustomers: 0.1,
    averageConfidence: 0.6,
    revenue: 10_000 - index * 500,
    revenueShare: 0.1,
    orderCount: 300,
    averageOrderValue: 40 - index,
    purchaseFrequency: 3,
    activeCustomerShare: 0.8,
    retentionRate: 0.9,
    retentionBase: 95,
    migrationsIn: 5 + index,
    migrationsOut: 3,
    netMigration: 2 + index,
    topSources: [],
    topDestinations: [],
    trend: [
      {
        asOf: "2017-10-01T00:00:00Z",
        computedAt: "2018-01-01T00:00:00Z",
        customerCount: 90 + index * 10,
        shareOfCustomers: 0.1,
        averageOrderValue: 40,
        averageConfidence: 0.6,
      },
      {
        asOf: "2018-01-01T00:00:00Z",
        computedAt: "2018-01-01T00:00:00Z",
        customerCount: 100 + index * 10,
        shareOfCustomers: 0.1,
        averageOrderValue: 40,
        averageConfidence: 0.6,
      },
    ],
  };
}

export const insight = (priority: string, text: string) => ({
  customerId: "1364",
  insightType: "behavior_anomaly",
  insight: text,
  actionRequired: priority === "critical",
  priority,
  timestamp: "2017-12-31T23:30:00Z",
  data: {},
});
