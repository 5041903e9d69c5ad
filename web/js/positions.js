/**
 * Positions and P&L from `GET /api/account` (refreshed after fills), marked to the last price.
 * Exports createPositions({ body, balances, total }) -> { render(account, tickers) }, equity,
 * SessionPnl.
 *
 * Rows show the server's quantity, average price and realized P&L, and the position's value
 * at the last trade. The demo gives every account starting inventory at a zero cost basis, so
 * a textbook unrealized P&L against avg_price would mostly be that gift; the headline is the
 * session P&L instead: equity (cash + every position at its last price) now minus equity when
 * it could first be valued after this account's login (another account, or a logout, starts
 * afresh). Floats are fine here: this is display only.
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

/**
 * The session P&L: equity now minus the first equity that could be valued for this account.
 * A new account (another login) or a logout starts a new session.
 */
export class SessionPnl {
  constructor() {
    this.account = null;
    this.baseline = null;
  }

  /** The P&L for `account` (its name) at equity `now` (null: not valued yet), or null. */
  update(account, now) {
    if (account !== this.account) {
      this.account = account;
      this.baseline = null;
    }
    if (this.baseline === null && now !== null) this.baseline = now;
    return now === null || this.baseline === null ? null : now - this.baseline;
  }
}

export function createPositions({ body, balances, total }) {
  const session = new SessionPnl();
  return {
    render(account, tickers) {
      clear(body);
      clear(balances);
      if (!account) {
        session.update(null, null);
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
      const pnl = session.update(account.account ?? null, equity(account, tickers));
      if (pnl === null) {
        total.textContent = "P&L —";
        total.className = "pnl";
        return;
      }
      total.textContent = `P&L ${pnl >= 0 ? "+" : ""}${pnl.toFixed(2)}`;
      total.className = `pnl ${pnl >= 0 ? "up" : "down"}`;
      total.title = "Session P&L: equity now minus equity at login, at last prices";
    },
  };
}
