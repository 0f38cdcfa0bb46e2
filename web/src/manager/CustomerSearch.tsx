import { useState, type FormEvent } from "react";
import { Link } from "react-router";

import { useCustomerSearch } from "../api/queries";
import { Panel, QueryView } from "../components/Panel";
import { useFormat } from "../format";

/**
 * Find any household by id, name or e-mail and open its view. With `browse`,
 * every household is listed before any search (the Households page).
 */
export function CustomerSearch({ wide, browse }: { wide?: boolean; browse?: boolean }) {
  const [draft, setDraft] = useState("");
  const [search, setSearch] = useState("");
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors.at(-1) ?? null;
  const results = useCustomerSearch(search, cursor, browse || search !== "");
  const format = useFormat();

  function submit(event: FormEvent) {
    event.preventDefault();
    setSearch(draft.trim());
    setCursors([null]);
  }

  return (
    <Panel title="Find a household" wide={wide}>
      <form className="search" role="search" onSubmit={submit}>
        <label htmlFor="customer-search" className="visually-hidden">
          Household id, name or e-mail
        </label>
        <input
          id="customer-search"
          type="search"
          placeholder="Household id, name or e-mail"
          value={draft}
          onChange={(event) => setDraft(event.target.value)}
        />
        <button type="submit">Search</button>
      </form>
      {!browse && !search ? (
        <p className="muted">
          Search to open a household's view, or{" "}
          <Link to="/manager/customers">browse all households</Link>.
        </p>
      ) : (
        <QueryView
          query={results}
          loadingLabel="Searching"
          isEmpty={(data) => data.items.length === 0}
          empty={search ? `No household matches “${search}”.` : "No households yet."}
        >
          {(data) => (
            <>
              <ul className="result-list" aria-label="Households">
                {data.items.map((item) => (
                  <li key={item.customerId}>
                    <Link
                      to={`/customers/${encodeURIComponent(item.customerId)}`}
                      data-testid="customer-link"
                    >
                      Household {item.customerId}
                    </Link>
                    <span className="muted">
                      {item.name ? ` · ${item.name}` : ""}
                      {item.ageGroup ? ` · age ${item.ageGroup}` : ""}
                      {item.incomeLevel ? ` · income ${item.incomeLevel}` : ""}
                      {` · since ${format.date(item.createdAt)}`}
                    </span>
                  </li>
                ))}
              </ul>
              <div className="pager">
                <button
                  type="button"
                  disabled={cursors.length <= 1}
                  onClick={() => setCursors((previous) => previous.slice(0, -1))}
                >
                  Previous
                </button>
                <span className="muted">Page {cursors.length}</span>
                <button
                  type="button"
                  disabled={!data.nextCursor}
                  onClick={() => setCursors((previous) => [...previous, data.nextCursor ?? null])}
                >
                  Next
                </button>
              </div>
            </>
          )}
        </QueryView>
      )}
    </Panel>
  );
}
