/**
 * Positions and P&L from `GET /api/account` (refreshed after fills) marked to the last price.
 * Exports createPositions({ body, balances, total }) -> { render(account, tickers) }.
 * Realized P&L is the server's; unrealized = (last - avg_price) * qty, in floats for display.
 */
import { clear, el } from "./dom.js";

function emptyRow(text) {
  const row = el("tr", "empty");
  const cell = el("td", "", text);
  cell.colSpan = 7;
  row.append(cell);
  return row;
}

export function createPositions({ body, balances, total }) {
  return {
    render(account, tickers) {
      clear(body);
      clear(balances);
      if (!account) {
        body.append(emptyRow("Log in to see positions"));
        total.textContent = "";
        return;
      }
      let sum = 0;
      for (const p of account.positions ?? []) {
        const last = tickers.get(p.symbol)?.last;
        const qty = Number(p.qty);
        // A zero average price is the demo's starting inventory: it has no cost basis to mark against.
        const basis = Number(p.avg_price ?? 0);
        const unreal = last && basis > 0 ? (Number(last) - basis) * qty : 0;
        const realized = Number(p.realized_pnl ?? 0);
        sum += unreal + realized;
        const row = el("tr");
        row.dataset.symbol = p.symbol;
        for (const [text, cls] of [
          [p.symbol, ""],
          [p.qty, `num ${qty > 0 ? "buy" : qty < 0 ? "sell" : ""}`],
          [p.avg_price ?? "—", "num"],
          [last ?? "—", "num"],
          [last ? (Number(last) * qty).toFixed(2) : "—", "num"],
          [basis > 0 ? unreal.toFixed(2) : "—", `num ${unreal >= 0 ? "up" : "down"}`],
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
      total.textContent = `P&L ${sum >= 0 ? "+" : ""}${sum.toFixed(2)}`;
      total.className = `pnl ${sum >= 0 ? "up" : "down"}`;
    },
  };
}
