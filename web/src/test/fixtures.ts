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
    criteria: {},
    customerCount: 100 + index * 10,
    averageOrderValue: 40 - index,
    averagePurchaseFrequency: 3.5,
    characteristics: {},
    recommendations: {},
    createdAt: "2018-01-01T00:00:00Z",
    updatedAt: "2018-01-01T00:00:00Z",
    totalRevenue: 10_000 - index * 500,
  })),
  statistics: { totalCustomers: 1080 },
};

export const insight = (priority: string, text: string) => ({
  customerId: "1364",
  insightType: "behavior_anomaly",
  insight: text,
  actionRequired: priority === "critical",
  priority,
  timestamp: "2017-12-31T23:30:00Z",
  data: {},
});
