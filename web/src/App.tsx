import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { BrowserRouter, Navigate, Route, Routes } from "react-router";

import { ApiError } from "./api/client";
import { AuthProvider, landingPath, RequireRole, useAuth } from "./auth/AuthProvider";
import { SignIn } from "./auth/SignIn";
import { Layout } from "./components/Layout";
import { CustomerPage } from "./customer/CustomerDashboard";
import { FormatProvider } from "./format";
import { AbTestResultPage } from "./manager/AbTests";
import { CustomersPage, ManagerDashboard } from "./manager/ManagerDashboard";

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        refetchOnWindowFocus: false,
        // A 4xx will not change on retry; a network error or 5xx may.
        retry: (failures, error) =>
          failures < 2 && !(error instanceof ApiError && error.status >= 400 && error.status < 500),
      },
    },
  });
}

function Landing() {
  const { user } = useAuth();
  return <Navigate to={user ? landingPath(user) : "/sign-in"} replace />;
}

export function AppRoutes() {
  return (
    <Routes>
      <Route path="/sign-in" element={<SignIn />} />
      <Route path="/" element={<Landing />} />
      <Route
        path="/manager"
        element={
          <RequireRole roles={["manager", "admin"]}>
            <Layout>
              <ManagerDashboard />
            </Layout>
          </RequireRole>
        }
      />
      <Route
        path="/manager/customers"
        element={
          <RequireRole roles={["manager", "admin"]}>
            <Layout>
              <CustomersPage />
            </Layout>
          </RequireRole>
        }
      />
      <Route
        path="/manager/ab-tests/:testId"
        element={
          <RequireRole roles={["manager", "admin"]}>
            <Layout>
              <AbTestResultPage />
            </Layout>
          </RequireRole>
        }
      />
      <Route
        path="/customers/:customerId"
        element={
          <RequireRole roles={["customer", "manager", "admin"]}>
            <Layout>
              <CustomerPage />
            </Layout>
          </RequireRole>
        }
      />
      <Route
        path="/no-household"
        element={
          <Layout>
            <h1>No household</h1>
            <p className="state state-empty">This account is not linked to a household.</p>
          </Layout>
        }
      />
      <Route
        path="*"
        element={
          <Layout>
            <h1>Page not found</h1>
            <p className="state state-empty">
              There is nothing at this address. <a href="/">Go to your dashboard</a>.
            </p>
          </Layout>
        }
      />
    </Routes>
  );
}

export function App({ queryClient = makeQueryClient() }: { queryClient?: QueryClient }) {
  return (
    <QueryClientProvider client={queryClient}>
      <FormatProvider>
        <BrowserRouter>
          <AuthProvider>
            <AppRoutes />
          </AuthProvider>
        </BrowserRouter>
      </FormatProvider>
    </QueryClientProvider>
  );
}
