/**
 * The account's orders: open orders (modify, cancel, cancel all) and fills.
 * Exports orderStatusText(order), canModify(order) (pure) and
 * createOrdersView({ openBody, fillsBody, cancelAllButton, counts }, { onCancel, onCancelAll, onModify })
 * -> { render(tracker, modifyingKey) }.
 *
 * A stop order shows its stop price and whether it still waits for it ("waiting") or has
 * traded as the order it became ("triggered"). Modify is offered for open limit orders only:
 * the server refuses `order.replace` of a stop order (INVALID_TYPE), waiting or triggered.
 */
import { clear, el, formatTime } from "./dom.js";
import { isStopType } from "./order_rules.js";

/** The Status cell: "open", "partially filled", a stop's "waiting" / "triggered · open". */
export function orderStatusText(o) {
  const status = o.status.replace("_", " ");
  if (o.status === "pending") return o.replaces ? "pending (modify)" : "pending";
  if (!isStopType(o.order_type)) return status;
  return o.triggered ? `triggered · ${status}` : "waiting";
}

/** True when the row gets a Modify button (an acknowledged open limit order). */
export function canModify(o) {
  return o.order_type === "limit" && (o.status === "open" || o.status === "partially_filled");
}

function cells(row, values) {
  for (const [text, cls] of values) row.append(el("td", cls ?? "", text ?? ""));
  return row;
}

export function createOrdersView({ openBody, fillsBody, cancelAllButton, counts }, { onCancel, onCancelAll, onModify = () => {} }) {
  cancelAllButton.addEventListener("click", () => onCancelAll());
  let fillsShown = -1;
  return {
    render(tracker, modifyingKey = null) {
      const open = tracker.openOrders().concat([...tracker.orders.values()].filter((o) => o.status === "pending"));
      clear(openBody);
      for (const o of open.reverse()) {
        const row = cells(el("tr"), [
          [o.symbol],
          [o.side, o.side],
          [o.order_type.replace("_", "-")],
          [o.price ?? "mkt", "num"],
          [o.stop_price ?? "", "num stop"],
          [o.qty, "num"],
          [o.filled_qty, "num"],
          [orderStatusText(o), `status ${isStopType(o.order_type) && o.status !== "pending" ? (o.triggered ? "triggered" : "waiting") : ""}`.trim()],
          [o.client_order_id, "key"],
        ]);
        row.dataset.clientOrderId = o.client_order_id;
        if (isStopType(o.order_type)) row.dataset.stop = o.triggered ? "triggered" : "waiting";
        if (o.client_order_id === modifyingKey) row.classList.add("modifying");
        const td = el("td", "actions");
        if (canModify(o)) {
          const modify = el("button", "modify", "Modify");
          modify.type = "button";
          modify.title = "Change the price and/or quantity (order.replace; the order keeps its id)";
          modify.addEventListener("click", () => onModify(o));
          td.append(modify);
        }
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
