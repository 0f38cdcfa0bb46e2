import { QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter } from "react-router";

import { AppRoutes, makeQueryClient } from "../App";
import { AuthProvider } from "../auth/AuthProvider";
import { FormatProvider } from "../format";

/** The whole app at a path, with a fresh cache and no retries. */
export function renderApp(path: string) {
  const client = makeQueryClient();
  client.setDefaultOptions({ queries: { retry: false, refetchOnWindowFocus: false } });
  return render(
    <QueryClientProvider client={client}>
      <FormatProvider>
        <MemoryRouter initialEntries={[path]}>
          <AuthProvider>
            <AppRoutes />
          </AuthProvider>
        </MemoryRouter>
      </FormatProvider>
    </QueryClientProvider>,
  );
}

export function renderWithProviders(node: ReactNode, path = "/") {
  const client = makeQueryClient();
  client.setDefaultOptions({ queries: { retry: false } });
  return render(
    <QueryClientProvider client={client}>
      <FormatProvider>
        <MemoryRouter initialEntries={[path]}>
          <AuthProvider>{node}</AuthProvider>
        </MemoryRouter>
      </FormatProvider>
    </QueryClientProvider>,
  );
}
