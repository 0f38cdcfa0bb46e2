// The signed-in session: tokens kept across reloads (as the guide's
// AuthService does), a fetch that signs every request, and the guide's
// refresh flow — a 401 triggers one refresh and one retry; when the refresh
// itself fails the session ends and listeners send the user to sign-in.

export type Role = "customer" | "manager" | "admin";

export interface SessionUser {
  id: string;
  email: string;
  roles: Role[];
  customerId?: string | null;
}

interface TokenPair {
  accessToken: string;
  refreshToken: string;
  user: SessionUser;
}

const ACCESS = "omnix.accessToken";
const REFRESH = "omnix.refreshToken";
const USER = "omnix.user";

type EndReason = "expired" | "signed-out";
type Listener = (reason: EndReason) => void;

const listeners = new Set<Listener>();
let refreshing: Promise<boolean> | null = null;

export function currentUser(): SessionUser | null {
  const text = localStorage.getItem(USER);
  if (!text || !localStorage.getItem(REFRESH)) return null;
  try {
    return JSON.parse(text) as SessionUser;
  } catch {
    return null;
  }
}

export function accessToken(): string | null {
  return localStorage.getItem(ACCESS);
}

export function storeTokens(pair: TokenPair): void {
  localStorage.setItem(ACCESS, pair.accessToken);
  localStorage.setItem(REFRESH, pair.refreshToken);
  localStorage.setItem(USER, JSON.stringify(pair.user));
}

export function endSession(reason: EndReason): void {
  const hadSession = localStorage.getItem(REFRESH) !== null;
  localStorage.removeItem(ACCESS);
  localStorage.removeItem(REFRESH);
  localStorage.removeItem(USER);
  if (hadSession) listeners.forEach((listener) => listener(reason));
}

export function onSessionEnded(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function refreshToken(): string | null {
  return localStorage.getItem(REFRESH);
}

/** One refresh at a time: requests that fail together wait for the same one. */
export function refreshSession(fetcher: typeof fetch = fetch): Promise<boolean> {
  if (!refreshing) {
    refreshing = doRefresh(fetcher).finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

async function doRefresh(fetcher: typeof fetch): Promise<boolean> {
  const token = refreshToken();
  if (!token) return false;
  try {
    const response = await fetcher(new URL("/auth/refresh", window.location.origin), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refreshToken: token }),
    });
    if (!response.ok) return false;
    const body = (await response.json()) as { data: TokenPair };
    storeTokens(body.data);
    return true;
  } catch {
    return false;
  }
}

function isAuthCall(url: string): boolean {
  const path = new URL(url, window.location.origin).pathname;
  return path === "/auth/login" || path === "/auth/refresh";
}

function signed(request: Request): Request {
  const signedRequest = new Request(request);
  const token = accessToken();
  if (token) signedRequest.headers.set("Authorization", `Bearer ${token}`);
  return signedRequest;
}

/**
 * The fetch the API client uses: adds the bearer token; on a 401 refreshes
 * once and retries once; if the refresh fails, ends the session (listeners
 * route to sign-in) and hands the 401 back to the caller.
 */
export function createAuthFetch(base: typeof fetch = (input, init) => fetch(input, init)) {
  return async function authFetch(request: Request): Promise<Response> {
    const retry = request.clone();
    const response = await base(signed(request));
    if (response.status !== 401 || isAuthCall(request.url)) return response;

    const renewed = await refreshSession(base);
    if (!renewed) {
      endSession("expired");
      return response;
    }
    const second = await base(signed(retry));
    if (second.status === 401) endSession("expired");
    return second;
  };
}
