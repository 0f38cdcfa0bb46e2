import { useState } from "react";

import { usePurchases } from "../api/queries";
import { Panel, QueryView } from "../components/Panel";
import { useFormat } from "../format";

/** Purchase lines newest first, paged with the API's X-Next-Cursor. */
export function ShoppingHistory({ customerId }: { customerId: string }) {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const history = usePurchases(customerId, cursors.at(-1) ?? null);
  const format = useFormat();
  return (
    <Panel title="Shopping history" wide>
      <QueryView
        query={history}
        loadingLabel="Loading purchases"
        isEmpty={(data) => data.lines.length === 0 && cursors.length === 1}
        empty="No purchases yet."
      >
        {(data) => (
          <>
            <div className="table-scroll" tabIndex={0} role="region" aria-label="Purchases">
              <table data-testid="purchases">
                <thead>
                  <tr>
                    <th scope="col">Date</th>
                    <th scope="col">Product</th>
                    <th scope="col" className="hide-narrow">
                      Category
                    </th>
                    <th scope="col" className="num">
                      Qty
                    </th>
                    <th scope="col" className="num">
                      Unit price
                    </th>
                    <th scope="col" className="num">
                      Total
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {data.lines.map((line) => (
                    <tr key={line.id}>
                      <td>
                        <time dateTime={line.purchaseDate}>{format.date(line.purchaseDate)}</time>
                      </td>
                      <th scope="row">
                        {line.productName}
                        {line.brand ? <span className="muted"> · {line.brand}</span> : null}
                      </th>
                      <td className="hide-narrow">{line.category ?? "—"}</td>
                      <td className="num">
                        {format.number(line.quantity, Number.isInteger(line.quantity) ? 0 : 2)}
                      </td>
                      <td className="num">{format.money(line.price)}</td>
                      <td className="num">{format.money(line.totalAmount)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <div className="pager">
              <button
                type="button"
                disabled={cursors.length <= 1 || history.isFetching}
                onClick={() => setCursors((previous) => previous.slice(0, -1))}
              >
                Newer
              </button>
              <span className="muted" aria-live="polite">
                Page {cursors.length}
              </span>
              <button
                type="button"
                disabled={!data.nextCursor || history.isFetching}
                onClick={() => setCursors((previous) => [...previous, data.nextCursor])}
              >
                Older
              </button>
            </div>
          </>
        )}
      </QueryView>
    </Panel>
  );
}
