// Who is signed in, sign-in and sign-out, and the route guards. The role
// decides the landing page: staff go to the manager dashboard, a customer to
// their own household's page.

import { useQueryClient } from "@tanstack/react-query";
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
  type ReactNode,
} from "react";
import { Navigate, useLocation } from "react-router";

import { api, ApiError, unwrap } from "../api/client";
import {
  currentUser,
  endSession,
  onSessionEnded,
  refreshToken,
  storeTokens,
  type Role,
  type SessionUser,
} from "../api/session";

interface AuthState {
  user: SessionUser | null;
  notice: string | null;
  signIn(email: string, password: string): Promise<SessionUser>;
  signOut(): Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);

export function isStaff(user: SessionUser | null): boolean {
  return !!user && user.roles.some((role) => role === "manager" || role === "admin");
}

export function landingPath(user: SessionUser): string {
  if (isStaff(user)) return "/manager";
  if (user.customerId) return `/customers/${encodeURIComponent(user.customerId)}`;
  return "/no-household";
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [user, setUser] = useState<SessionUser | null>(() => currentUser());
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(
    () =>
      onSessionEnded((reason) => {
        setUser(null);
        queryClient.clear();
        setNotice(reason === "expired" ? "Your session has ended. Please sign in again." : null);
      }),
    [queryClient],
  );

  const signIn = useCallback(async (email: string, password: string) => {
    try {
      const answer = await unwrap(api.POST("/auth/login", { body: { email, password } }));
      storeTokens(answer.data);
      setNotice(null);
      setUser(answer.data.user);
      return answer.data.user;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        throw new ApiError(401, "The e-mail or password is not right.");
      }
      if (error instanceof ApiError && error.status === 429) {
        throw new ApiError(429, "Too many attempts. Wait a few minutes and try again.");
      }
      throw error;
    }
  }, []);

  const signOut = useCallback(async () => {
    const token = refreshToken();
    try {
      await api.POST("/auth/logout", { body: token ? { refreshToken: token } : undefined });
    } finally {
      endSession("signed-out");
      setUser(null);
      queryClient.clear();
    }
  }, [queryClient]);

  const value = useMemo(() => ({ user, notice, signIn, signOut }), [user, notice, signIn, signOut]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (!state) throw new Error("useAuth outside AuthProvider");
  return state;
}

/** Renders children for a signed-in user with one of the roles, else redirects. */
export function RequireRole({ roles, children }: { roles: Role[]; children: ReactNode }) {
  const { user } = useAuth();
  const location = useLocation();
  if (!user) return <Navigate to="/sign-in" replace state={{ from: location.pathname }} />;
  if (!user.roles.some((role) => roles.includes(role))) {
    return (
      <main className="page" id="main">
        <h1>Not allowed</h1>
        <p role="alert" className="state state-forbidden" data-state="forbidden">
          You do not have permission to see this page.
        </p>
        <a href={landingPath(user)}>Go to your dashboard</a>
      </main>
    );
  }
  return <>{children}</>;
}
