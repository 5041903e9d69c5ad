/**
 * Ticker strip: one cell per symbol with last price, change since open and a colour flash on
 * each tick. Exports createTicker(root, { symbols, onSelect }) -> { render(store), select(symbol) }.
 */
import { el, formatChange, setText } from "./dom.js";

const FLASH_UP = [{ backgroundColor: "rgba(38, 166, 154, 0.55)" }, { backgroundColor: "rgba(38, 166, 154, 0)" }];
const FLASH_DOWN = [{ backgroundColor: "rgba(239, 83, 80, 0.55)" }, { backgroundColor: "rgba(239, 83, 80, 0)" }];

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
    cells.set(symbol, { cell, last, change, flash: null });
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
        if (!ticker) {
          // no ticker since the page connected: the last trade of the history, if any
          setText(view.last, store.lastPrice(symbol) ?? "—");
          continue;
        }
        setText(view.last, ticker.last ?? "—");
        const change = formatChange(ticker.last, ticker.open);
        setText(view.change, change);
        const cls = `tick-change ${change.startsWith("-") ? "down" : change ? "up" : ""}`;
        if (view.change.className !== cls) view.change.className = cls;
        const dir = store.tickDirection.get(symbol);
        if (dir) {
          // The Web Animations API restarts the flash without forcing a synchronous layout.
          view.flash?.cancel();
          view.flash = view.last.animate(dir === "up" ? FLASH_UP : FLASH_DOWN, { duration: 600, easing: "ease-out" });
          view.cell.dataset.dir = dir;
          store.tickDirection.delete(symbol);
        }
      }
    },
  };
}
