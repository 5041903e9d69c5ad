/**
 * Order-book ladder: asks above (best at the bottom), the spread, bids below (best at the
 * top), each row with a cumulative-depth bar. Rows are created once and rewritten in place.
 * Exports cumulativeTotals(levels, decimals) (pure) and
 * createBookView(root, { depth, onPrice, specs }) -> { render(book) }; the Total column is
 * in the symbol's qty_decimals (from `specs`, the `GET /api/symbols` entries by symbol).
 */
import { el, setText } from "./dom.js";
import { formatUnits, toUnits } from "./protocol.js";

function makeRows(container, count, side, onPrice) {
  const rows = [];
  for (let i = 0; i < count; i += 1) {
    const row = el("div", `ladder-row ${side}`);
    const bar = el("div", "depth-bar");
    const price = el("span", "price");
    const qty = el("span", "qty");
    const total = el("span", "total");
    row.append(bar, price, qty, total);
    row.addEventListener("click", () => {
      if (price.textContent) onPrice(price.textContent, side);
    });
    container.append(row);
    rows.push({ row, bar, price, qty, total });
  }
  return rows;
}

/**
 * Running totals of the levels' sizes, exact, as strings in `decimals` places (the symbol's
 * qty_decimals; null: the most places among the sizes), and as numbers for the depth bars.
 */
export function cumulativeTotals(levels, decimals = null) {
  const places = decimals ?? levels.reduce((most, [, qty]) => Math.max(most, qty.includes(".") ? qty.length - qty.indexOf(".") - 1 : 0), 0);
  let sum = 0n;
  let text;
  try {
    text = levels.map(([, qty]) => formatUnits((sum += toUnits(qty, places)), places));
  } catch (err) {
    if (decimals === null || !(err instanceof RangeError)) throw err;
    return cumulativeTotals(levels, null); // a size finer than the symbol's decimals: show it all
  }
  return { text, values: text.map(Number) };
}

function fill(rows, levels, totals, max) {
  for (let i = 0; i < rows.length; i += 1) {
    const r = rows[i];
    const level = levels[i];
    setText(r.price, level ? level[0] : "");
    setText(r.qty, level ? level[1] : "");
    setText(r.total, level ? totals.text[i] : "");
    const scale = level && max > 0 ? Math.round((totals.values[i] / max) * 1000) / 1000 : 0;
    if (r.scale !== scale) {
      r.scale = scale;
      r.bar.style.transform = `scaleX(${scale})`;
    }
  }
}

export function createBookView(root, { depth = 12, onPrice = () => {}, specs = new Map() } = {}) {
  const head = el("div", "ladder-head");
  head.append(el("span", "", "Price"), el("span", "", "Size"), el("span", "", "Total"));
  const asksBox = el("div", "ladder-side asks");
  const spread = el("div", "ladder-spread");
  const bidsBox = el("div", "ladder-side bids");
  const foot = el("div", "ladder-foot");
  root.append(head, asksBox, spread, bidsBox, foot);
  // Ask rows are laid out top to bottom as level depth-1 .. 0 so the best ask sits at the spread.
  const askRows = makeRows(asksBox, depth, "sell", onPrice).reverse();
  const bidRows = makeRows(bidsBox, depth, "buy", onPrice);

  return {
    render(book) {
      if (!book) return;
      const asks = book.levels("asks", depth);
      const bids = book.levels("bids", depth);
      const decimals = specs.get(book.symbol)?.qty_decimals ?? null;
      const askTotals = cumulativeTotals(asks, decimals);
      const bidTotals = cumulativeTotals(bids, decimals);
      const max = Math.max(askTotals.values.at(-1) ?? 0, bidTotals.values.at(-1) ?? 0);
      fill(askRows, asks, askTotals, max);
      fill(bidRows, bids, bidTotals, max);
      const bestAsk = asks[0]?.[0];
      const bestBid = bids[0]?.[0];
      setText(spread, bestAsk && bestBid ? `spread ${(Number(bestAsk) - Number(bestBid)).toFixed(Math.max(0, bestAsk.length - bestAsk.indexOf(".") - 1))}` : "spread —");
      const ok = book.synced;
      setText(foot, `seq ${book.seq} · crc ${book.lastChecksum ?? "—"} ${ok ? "✓" : "resyncing"}`);
      foot.classList.toggle("bad", !ok);
      root.dataset.checksum = String(book.checksum());
      root.dataset.seq = String(book.seq);
    },
  };
}
