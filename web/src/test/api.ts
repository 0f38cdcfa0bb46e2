// A scripted API for component tests: answers by "METHOD /path" and records
// every request. Unknown paths answer the server's bare 404 for an unrouted
// path, which the app reads as "endpoint not available yet".

import { vi } from "vitest";

export type Handler = (request: Request, url: URL) => Response | Promise<Response>;

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

export function failure(status: number, message: string): Response {
  const error = { 401: "Unauthorized", 403: "Forbidden", 404: "Not Found" }[status] ?? "Error";
  return json({ statusCode: status, error, message }, status);
}

export interface ScriptedApi {
  calls: { method: string; path: string; url: URL; headers: Headers; body: string }[];
}

export function scriptApi(routes: Record<string, Handler>): ScriptedApi {
  const record: ScriptedApi = { calls: [] };
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init);
      const url = new URL(request.url);
      const body = request.method === "GET" ? "" : await request.clone().text();
      record.calls.push({
        method: request.method,
        path: url.pathname,
        url,
        headers: request.headers,
        body,
      });
      const handler = routes[`${request.method} ${url.pathname}`];
      return handler ? handler(request, url) : failure(404, "Not Found");
    }),
  );
  return record;
}

export const STORE_CONFIG = {
  timezone: "America/Chicago",
  currency: "USD",
  locale: "en-US",
  asOf: "2018-01-01T00:00:00+00:00",
  clockPinned: true,
};

export function signInAs(user: {
  id: string;
  email: string;
  roles: string[];
  customerId?: string | null;
}) {
  localStorage.setItem("omnix.accessToken", "access-1");
  localStorage.setItem("omnix.refreshToken", "refresh-1");
  localStorage.setItem("omnix.user", JSON.stringify(user));
}

export const MANAGER = {
  id: "u-m",
  email: "manager@omnix.demo",
  roles: ["manager"],
  customerId: null,
};
export const CUSTOMER = {
  id: "u-c",
  email: "customer@omnix.demo",
  roles: ["customer"],
  customerId: "1364",
};
