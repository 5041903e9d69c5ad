/**
 * Trades tape of the active symbol, newest first, rows created once and rewritten.
 * Exports createTape(root, { rows }) -> { render(trades, emptyNote) }: with no trades the
 * first row says why (`emptyNote`: "no trades yet", "this recording has no trades (book only)").
 */
import { el, formatTime, setText } from "./dom.js";

export function createTape(root, { rows = 40 } = {}) {
  const head = el("div", "tape-row head");
  head.append(el("span", "", "Price"), el("span", "", "Size"), el("span", "", "Time"));
  root.append(head);
  const lines = [];
  for (let i = 0; i < rows; i += 1) {
    const row = el("div", "tape-row");
    const price = el("span", "price");
    const qty = el("span", "qty");
    const time = el("span", "time");
    row.append(price, qty, time);
    root.append(row);
    lines.push({ row, price, qty, time });
  }
  let newest = null;
  return {
    render(trades = [], emptyNote = "") {
      root.dataset.empty = trades.length === 0 ? emptyNote : "";
      for (let i = 0; i < lines.length; i += 1) {
        const t = trades[i];
        const line = lines[i];
        const note = !t && i === 0 ? emptyNote : "";
        if (line.trade === t && line.note === note) continue; // this row already shows it
        line.trade = t;
        line.note = note;
        setText(line.price, t ? t.price : note);
        setText(line.qty, t ? t.qty : "");
        setText(line.time, t ? formatTime(t.ts) : "");
        const cls = t ? `tape-row ${t.taker_side === "buy" ? "buy" : "sell"}` : note ? "tape-row note" : "tape-row";
        if (line.row.className !== cls) line.row.className = cls;
      }
      if (trades[0] && trades[0] !== newest) {
        newest = trades[0];
        root.dataset.lastTradeId = String(newest.trade_id);
      }
    },
  };
}
