// One TanStack Query hook per endpoint the dashboards read. Cache times follow
// the guide's caching advice: analyses for 5 minutes, recommendations for 10.

import { keepPreviousData, useQueries, useQuery } from "@tanstack/react-query";

import { api, unwrap } from "./client";

const MINUTE = 60_000;

export function useSegmentsOverview() {
  const path = "/v1/customers/segments/overview";
  return useQuery({
    queryKey: ["segments", "overview"],
    queryFn: () => unwrap(api.GET(path), path),
    staleTime: 5 * MINUTE,
  });
}

/** Each segment's revenue, migrations and size over time, for one period. */
export function useSegmentPerformance(segmentIds: string[], periodDays = 90) {
  const path = "/v1/customers/segments/{segmentId}/performance";
  return useQueries({
    queries: segmentIds.map((segmentId) => ({
      queryKey: ["segments", segmentId, "performance", periodDays],
      queryFn: () =>
        unwrap(api.GET(path, { params: { path: { segmentId }, query: { periodDays } } }), path),
      staleTime: 5 * MINUTE,
    })),
  });
}

export function useCustomerSegment(customerId: string) {
  const path = "/v1/customers/{id}/segment";
  return useQuery({
    queryKey: ["customer", customerId, "segment"],
    queryFn: () => unwrap(api.GET(path, { params: { path: { id: customerId } } }), path),
    staleTime: 5 * MINUTE,
  });
}

export function useAbTests() {
  const path = "/v1/ab-tests";
  return useQuery({
    queryKey: ["ab-tests"],
    queryFn: () => unwrap(api.GET(path), path),
    staleTime: MINUTE,
  });
}

/** Winner and significance of each listed test (the list carries neither). */
export function useAbTestStatuses(testIds: string[]) {
  const path = "/v1/ab-tests/{testId}/status";
  return useQueries({
    queries: testIds.map((testId) => ({
      queryKey: ["ab-tests", testId, "status"],
      queryFn: () => unwrap(api.GET(path, { params: { path: { testId } } }), path),
      staleTime: MINUTE,
    })),
  });
}

export function useAbTestResults(testId: string) {
  const path = "/v1/ab-tests/{testId}/results";
  return useQuery({
    queryKey: ["ab-tests", testId, "results"],
    queryFn: () => unwrap(api.GET(path, { params: { path: { testId } } }), path),
    staleTime: MINUTE,
  });
}

export function useInsightsOverview() {
  const path = "/v1/streaming/insights/system/overview";
  return useQuery({
    queryKey: ["insights", "overview"],
    queryFn: () => unwrap(api.GET(path), path),
    refetchInterval: MINUTE,
  });
}

export function useRevenue() {
  const path = "/v1/analytics/revenue";
  return useQuery({
    queryKey: ["analytics", "revenue"],
    queryFn: () => unwrap(api.GET(path, { params: { query: { granularity: "week" } } }), path),
    staleTime: 5 * MINUTE,
  });
}

export function useInventoryForecast(days = 7) {
  const path = "/v1/analytics/inventory-forecast";
  return useQuery({
    queryKey: ["analytics", "inventory", days],
    queryFn: () => unwrap(api.GET(path, { params: { query: { days, limit: 20 } } }), path),
    staleTime: 5 * MINUTE,
  });
}

export function useCustomerSearch(search: string, cursor: string | null, enabled = true) {
  const path = "/v1/customers";
  return useQuery({
    enabled,
    queryKey: ["customers", "search", search, cursor],
    queryFn: () =>
      unwrap(
        api.GET(path, {
          params: {
            query: { search: search || undefined, cursor: cursor ?? undefined, limit: 20 },
          },
        }),
        path,
      ),
    placeholderData: keepPreviousData,
  });
}

export function useProfile(customerId: string) {
  const path = "/v1/customers/{id}/profile";
  return useQuery({
    queryKey: ["customer", customerId, "profile"],
    queryFn: () => unwrap(api.GET(path, { params: { path: { id: customerId } } }), path),
  });
}

export function useProfileAnalysis(customerId: string) {
  const path = "/v1/customers/{id}/customer-profile-analysis";
  return useQuery({
    queryKey: ["customer", customerId, "profile-analysis"],
    queryFn: () => unwrap(api.GET(path, { params: { path: { id: customerId } } }), path),
    staleTime: 5 * MINUTE,
  });
}

export function useRecommendations(customerId: string, limit = 12) {
  const path = "/v1/customers/{id}/ai-recommendations";
  return useQuery({
    queryKey: ["customer", customerId, "recommendations", limit],
    queryFn: () =>
      unwrap(api.GET(path, { params: { path: { id: customerId }, query: { limit } } }), path),
    staleTime: 10 * MINUTE,
  });
}

export function useConsumptionPredictions(customerId: string) {
  const path = "/v1/customers/{id}/consumption-predictions";
  return useQuery({
    queryKey: ["customer", customerId, "consumption"],
    queryFn: () => unwrap(api.GET(path, { params: { path: { id: customerId } } }), path),
    staleTime: 5 * MINUTE,
  });
}

export function useReplenishmentAlerts(customerId: string) {
  const path = "/v1/customers/{id}/replenishment-alerts";
  return useQuery({
    queryKey: ["customer", customerId, "alerts"],
    queryFn: () => unwrap(api.GET(path, { params: { path: { id: customerId } } }), path),
    staleTime: 5 * MINUTE,
  });
}

export function usePurchases(customerId: string, cursor: string | null, limit = 20) {
  const path = "/v1/customers/{id}/purchases";
  return useQuery({
    queryKey: ["customer", customerId, "purchases", cursor, limit],
    queryFn: async () => {
      const answer = api.GET(path, {
        params: { path: { id: customerId }, query: { limit, cursor: cursor ?? undefined } },
      });
      const lines = await unwrap(answer, path);
      const { response } = await answer;
      return { lines, nextCursor: response.headers.get("X-Next-Cursor") };
    },
    placeholderData: keepPreviousData,
  });
}
