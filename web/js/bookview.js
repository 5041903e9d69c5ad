/**
 * Order-book ladder: asks above (best at the bottom), the spread, bids below (best at the
 * top), each row with a cumulative-depth bar. Rows are created once and rewritten in place.
 * Exports createBookView(root, { depth, onPrice }) -> { render(book) }.
 */
import { el, setText } from "./dom.js";

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

function cumulative(levels) {
  let sum = 0;
  return levels.map(([, qty]) => (sum += Number(qty)));
}

function fill(rows, levels, totals, max) {
  for (let i = 0; i < rows.length; i += 1) {
    const r = rows[i];
    const level = levels[i];
    setText(r.price, level ? level[0] : "");
    setText(r.qty, level ? level[1] : "");
    setText(r.total, level ? totals[i].toFixed(2) : "");
    const scale = level && max > 0 ? Math.round((totals[i] / max) * 1000) / 1000 : 0;
    if (r.scale !== scale) {
      r.scale = scale;
      r.bar.style.transform = `scaleX(${scale})`;
    }
  }
}

export function createBookView(root, { depth = 12, onPrice = () => {} } = {}) {
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
      const askTotals = cumulative(asks);
      const bidTotals = cumulative(bids);
      const max = Math.max(askTotals[askTotals.length - 1] ?? 0, bidTotals[bidTotals.length - 1] ?? 0);
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
