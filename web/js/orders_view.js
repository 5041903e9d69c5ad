/**
 * The account's orders: open orders (cancel, cancel all) and fills.
 * Exports createOrdersView({ openBody, fillsBody, cancelAllButton, counts }, { onCancel, onCancelAll })
 * -> { render(tracker) }.
 */
import { clear, el, formatTime } from "./dom.js";

function cells(row, values) {
  for (const [text, cls] of values) row.append(el("td", cls ?? "", text ?? ""));
  return row;
}

export function createOrdersView({ openBody, fillsBody, cancelAllButton, counts }, { onCancel, onCancelAll }) {
  cancelAllButton.addEventListener("click", () => onCancelAll());
  let fillsShown = -1;
  return {
    render(tracker) {
      const open = tracker.openOrders().concat([...tracker.orders.values()].filter((o) => o.status === "pending"));
      clear(openBody);
      for (const o of open.reverse()) {
        const row = cells(el("tr"), [
          [o.symbol],
          [o.side, o.side],
          [o.order_type],
          [o.price ?? "mkt", "num"],
          [o.qty, "num"],
          [o.filled_qty, "num"],
          [o.status.replace("_", " ")],
          [o.client_order_id, "key"],
        ]);
        row.dataset.clientOrderId = o.client_order_id;
        const td = el("td");
        const button = el("button", "cancel", "Cancel");
        button.type = "button";
        button.addEventListener("click", () => onCancel(o.client_order_id));
        td.append(button);
        row.append(td);
        openBody.append(row);
      }
      if (open.length === 0) openBody.append(cells(el("tr", "empty"), [["No open orders"]]));
      counts.open.textContent = String(open.length);
      cancelAllButton.disabled = open.length === 0;
      if (tracker.fills.length !== fillsShown) {
        fillsShown = tracker.fills.length;
        clear(fillsBody);
        for (const f of tracker.fills.slice(-100).reverse()) {
          fillsBody.append(cells(el("tr"), [
            [formatTime(f.ts)],
            [f.symbol],
            [f.side, f.side],
            [f.price, "num"],
            [f.qty, "num"],
            [f.liquidity],
            [f.fee, "num"],
            [f.client_order_id, "key"],
          ]));
        }
        if (fillsShown === 0) fillsBody.append(cells(el("tr", "empty"), [["No fills yet"]]));
        counts.fills.textContent = String(fillsShown);
      }
    },
  };
}
