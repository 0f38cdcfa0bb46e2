import { describe, expect, it, vi } from "vitest";

import { failure, json, scriptApi, signInAs, CUSTOMER } from "../test/api";
import { accessToken, createAuthFetch, onSessionEnded, refreshToken } from "./session";

const PAIR = {
  data: {
    accessToken: "access-2",
    refreshToken: "refresh-2",
    user: CUSTOMER,
  },
  message: "Token refreshed",
};

const profileUrl = "http://localhost:3000/v1/customers/1364/profile";

describe("authFetch", () => {
  it("signs requests with the stored access token", async () => {
    signInAs(CUSTOMER);
    const api = scriptApi({ "GET /v1/customers/1364/profile": () => json({ ok: true }) });
    const response = await createAuthFetch()(new Request(profileUrl));
    expect(response.status).toBe(200);
    expect(api.calls[0]?.headers.get("Authorization")).toBe("Bearer access-1");
  });

  it("refreshes once on a 401 and retries with the new token", async () => {
    signInAs(CUSTOMER);
    const api = scriptApi({
      "GET /v1/customers/1364/profile": (request) =>
        request.headers.get("Authorization") === "Bearer access-2"
          ? json({ ok: true })
          : failure(401, "Token expired"),
      "POST /auth/refresh": () => json(PAIR),
    });
    const authFetch = createAuthFetch();
    // Two requests failing together share one refresh (refresh tokens work once).
    const [first, second] = await Promise.all([
      authFetch(new Request(profileUrl)),
      authFetch(new Request(profileUrl)),
    ]);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    const refreshes = api.calls.filter((call) => call.path === "/auth/refresh");
    expect(refreshes).toHaveLength(1);
    expect(JSON.parse(refreshes[0]!.body)).toEqual({ refreshToken: "refresh-1" });
    expect(accessToken()).toBe("access-2");
    expect(refreshToken()).toBe("refresh-2");
  });

  it("replays the body of a retried write", async () => {
    signInAs(CUSTOMER);
    let attempts = 0;
    const api = scriptApi({
      "PATCH /v1/customers/1364/preferences": () =>
        ++attempts === 1 ? failure(401, "expired") : json({}),
      "POST /auth/refresh": () => json(PAIR),
    });
    const request = new Request("http://localhost:3000/v1/customers/1364/preferences", {
      method: "PATCH",
      body: JSON.stringify({ marketingOptIn: true }),
      headers: { "Content-Type": "application/json" },
    });
    const response = await createAuthFetch()(request);
    expect(response.status).toBe(200);
    const writes = api.calls.filter((call) => call.method === "PATCH");
    expect(writes.map((call) => call.body)).toEqual([
      '{"marketingOptIn":true}',
      '{"marketingOptIn":true}',
    ]);
  });

  it("ends the session when the refresh fails, and hands back the 401", async () => {
    signInAs(CUSTOMER);
    scriptApi({
      "GET /v1/customers/1364/profile": () => failure(401, "Token expired"),
      "POST /auth/refresh": () => failure(401, "Refresh token revoked"),
    });
    const ended = vi.fn();
    const stop = onSessionEnded(ended);
    const response = await createAuthFetch()(new Request(profileUrl));
    stop();
    expect(response.status).toBe(401);
    expect(ended).toHaveBeenCalledWith("expired");
    expect(accessToken()).toBeNull();
    expect(refreshToken()).toBeNull();
  });

  it("does not refresh after a failed sign-in", async () => {
    const api = scriptApi({ "POST /auth/login": () => failure(401, "Invalid credentials") });
    const response = await createAuthFetch()(
      new Request("http://localhost:3000/auth/login", { method: "POST", body: "{}" }),
    );
    expect(response.status).toBe(401);
    expect(api.calls.map((call) => call.path)).toEqual(["/auth/login"]);
  });

  it("passes a 403 through untouched", async () => {
    signInAs(CUSTOMER);
    const api = scriptApi({
      "GET /v1/customers/9/profile": () => failure(403, "Not your household"),
    });
    const response = await createAuthFetch()(
      new Request("http://localhost:3000/v1/customers/9/profile"),
    );
    expect(response.status).toBe(403);
    expect(api.calls).toHaveLength(1);
    expect(accessToken()).toBe("access-1");
  });
});
