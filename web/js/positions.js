/**
 * Positions and P&L from `GET /api/account` (refreshed after fills), marked to the last price.
 * Exports createPositions({ body, balances, total }) -> { render(account, tickers) }.
 *
 * Rows show the server's quantity, average price and realized P&L, and the position's value
 * at the last trade. The demo gives every account starting inventory at a zero cost basis, so
 * a textbook unrealized P&L against avg_price would mostly be that gift; the headline is the
 * session P&L instead: equity (cash + every position at its last price) now minus equity when
 * it could first be valued after login. Floats are fine here: this is display only.
 */
import { clear, el } from "./dom.js";

function emptyRow(text) {
  const row = el("tr", "empty");
  const cell = el("td", "", text);
  cell.colSpan = 6;
  row.append(cell);
  return row;
}

function cashOf(account) {
  const cash = account.balances?.cash;
  return Number(typeof cash === "object" && cash !== null ? cash.total : (cash ?? 0));
}

/** Cash plus every position at its last price; null while some position has no last yet. */
export function equity(account, tickers) {
  let sum = cashOf(account);
  for (const p of account.positions ?? []) {
    const last = tickers.get(p.symbol)?.last;
    if (Number(p.qty) !== 0 && !last) return null;
    if (last) sum += Number(p.qty) * Number(last);
  }
  return sum;
}

export function createPositions({ body, balances, total }) {
  let baseline = null;
  return {
    render(account, tickers) {
      clear(body);
      clear(balances);
      if (!account) {
        body.append(emptyRow("Log in to see positions"));
        total.textContent = "";
        return;
      }
      for (const p of account.positions ?? []) {
        const last = tickers.get(p.symbol)?.last;
        const qty = Number(p.qty);
        const realized = Number(p.realized_pnl ?? 0);
        const row = el("tr");
        row.dataset.symbol = p.symbol;
        for (const [text, cls] of [
          [p.symbol, ""],
          [p.qty, `num ${qty > 0 ? "buy" : qty < 0 ? "sell" : ""}`],
          [p.avg_price ?? "—", "num"],
          [last ?? "—", "num"],
          [last ? (Number(last) * qty).toFixed(2) : "—", "num"],
          [p.realized_pnl ?? "0", `num ${realized >= 0 ? "up" : "down"}`],
        ]) row.append(el("td", cls, text));
        body.append(row);
      }
      if ((account.positions ?? []).length === 0) body.append(emptyRow("No positions"));
      for (const [asset, amount] of Object.entries(account.balances ?? {})) {
        const chip = el("span", "balance");
        const value = typeof amount === "object" && amount !== null ? `${amount.total} · avail ${amount.available}` : amount;
        chip.append(el("b", "", asset), el("span", "", String(value)));
        balances.append(chip);
      }
      const now = equity(account, tickers);
      if (baseline === null && now !== null) baseline = now;
      if (now === null || baseline === null) {
        total.textContent = "P&L —";
        total.className = "pnl";
        return;
      }
      const pnl = now - baseline;
      total.textContent = `P&L ${pnl >= 0 ? "+" : ""}${pnl.toFixed(2)}`;
      total.className = `pnl ${pnl >= 0 ? "up" : "down"}`;
      total.title = "Session P&L: equity now minus equity at login, at last prices";
    },
  };
}
