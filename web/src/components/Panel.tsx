// A dashboard section and the four states every one of them has: loading,
// error (with "not available yet" for endpoints the API does not serve yet,
// and a clear refusal for 403), empty, and the content.

import type { UseQueryResult } from "@tanstack/react-query";
import { useId, type ReactNode } from "react";

import { ApiError } from "../api/client";

interface PanelProps {
  title: string;
  children: ReactNode;
  actions?: ReactNode;
  wide?: boolean;
  description?: string;
}

export function Panel({ title, children, actions, wide, description }: PanelProps) {
  const headingId = useId();
  return (
    <section className={wide ? "panel panel-wide" : "panel"} aria-labelledby={headingId}>
      <header className="panel-head">
        <h2 id={headingId}>{title}</h2>
        {actions}
      </header>
      {description ? <p className="panel-note">{description}</p> : null}
      {children}
    </section>
  );
}

export function Loading({ label = "Loading" }: { label?: string }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}…
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="state state-empty">{children}</p>;
}

export function ErrorState({ error, retry }: { error: unknown; retry?: () => void }) {
  if (error instanceof ApiError && error.unavailable) {
    return (
      <p className="state state-unavailable" data-state="unavailable">
        Not available yet: the server does not offer this analysis in this version.
      </p>
    );
  }
  if (error instanceof ApiError && error.status === 403) {
    return (
      <p className="state state-forbidden" role="alert" data-state="forbidden">
        You do not have permission to see this. {error.message}
      </p>
    );
  }
  const message = error instanceof Error ? error.message : "Something went wrong.";
  return (
    <div className="state state-error" role="alert" data-state="error">
      <p>Could not load this: {message}</p>
      {retry ? (
        <button type="button" onClick={retry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

interface QueryViewProps<T> {
  query: UseQueryResult<T>;
  isEmpty?: (data: T) => boolean;
  empty?: ReactNode;
  loadingLabel?: string;
  children: (data: T) => ReactNode;
}

/** Renders a query's loading, error and empty states, else its content. */
export function QueryView<T>({ query, isEmpty, empty, loadingLabel, children }: QueryViewProps<T>) {
  if (query.isPending) return <Loading label={loadingLabel} />;
  if (query.isError) return <ErrorState error={query.error} retry={() => void query.refetch()} />;
  if (isEmpty?.(query.data)) return <Empty>{empty ?? "Nothing to show yet."}</Empty>;
  return <>{children(query.data)}</>;
}
