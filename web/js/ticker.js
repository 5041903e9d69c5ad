/**
 * Ticker strip: one cell per symbol with last price, change since open and a colour flash on
 * each tick. Exports createTicker(root, { symbols, onSelect }) -> { render(store), select(symbol) }.
 */
import { el, formatChange } from "./dom.js";

export function createTicker(root, { symbols, onSelect }) {
  const cells = new Map();
  for (const symbol of symbols) {
    const cell = el("button", "tick", "");
    cell.type = "button";
    cell.dataset.symbol = symbol;
    const name = el("span", "tick-symbol", symbol);
    const last = el("span", "tick-last", "—");
    const change = el("span", "tick-change", "");
    cell.append(name, last, change);
    cell.addEventListener("click", () => onSelect(symbol));
    root.append(cell);
    cells.set(symbol, { cell, last, change });
  }

  return {
    select(symbol) {
      for (const [sym, { cell }] of cells) cell.classList.toggle("active", sym === symbol);
    },
    render(store) {
      for (const symbol of store.dirty.ticker) {
        const view = cells.get(symbol);
        const ticker = store.tickers.get(symbol);
        if (!view) continue;
        const halted = store.status.get(symbol)?.state === "halted";
        view.cell.classList.toggle("halted", halted);
        if (!ticker) continue;
        view.last.textContent = ticker.last ?? "—";
        const change = formatChange(ticker.last, ticker.open);
        view.change.textContent = change;
        view.change.className = `tick-change ${change.startsWith("-") ? "down" : change ? "up" : ""}`;
        const dir = store.tickDirection.get(symbol);
        if (dir) {
          // Restart the flash animation: drop the class, force a style flush, add it back.
          view.last.classList.remove("flash-up", "flash-down");
          void view.last.offsetWidth;
          view.last.classList.add(dir === "up" ? "flash-up" : "flash-down");
          store.tickDirection.delete(symbol);
        }
      }
    },
  };
}
