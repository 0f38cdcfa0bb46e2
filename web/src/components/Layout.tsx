import type { ReactNode } from "react";
import { NavLink } from "react-router";

import { isStaff, landingPath, useAuth } from "../auth/AuthProvider";
import { useFormat } from "../format";

export function Layout({ children }: { children: ReactNode }) {
  const { user, signOut } = useAuth();
  const format = useFormat();
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top-bar">
        <NavLink to={user ? landingPath(user) : "/"} className="brand">
          OMNIX
        </NavLink>
        {user ? (
          <nav aria-label="Main">
            {isStaff(user) ? <NavLink to="/manager">Dashboard</NavLink> : null}
            {isStaff(user) ? <NavLink to="/manager/customers">Customers</NavLink> : null}
            {!isStaff(user) && user.customerId ? (
              <NavLink to={landingPath(user)}>My dashboard</NavLink>
            ) : null}
          </nav>
        ) : null}
        <div className="top-bar-end">
          <span className="muted" title="Dates are shown in the store's time zone">
            {format.store.timezone}
            {format.store.asOf ? ` · as of ${format.date(format.store.asOf)}` : ""}
          </span>
          {user ? (
            <>
              <span className="who">{user.email}</span>
              <button type="button" onClick={() => void signOut()}>
                Sign out
              </button>
            </>
          ) : null}
        </div>
      </header>
      <main className="page" id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
