/**
 * Depth chart on a canvas: cumulative bid size (left, green) and ask size (right, red) over
 * price for the best `levels` levels of each side. Exports createDepthChart(canvas) -> { render(book), state }
 * and midText(bid, ask, decimals). Labels are the book's own price strings and the mid is
 * exact in the symbol's decimals (one more when it falls between two ticks), never a float
 * rounded to 2 places (an 8- or 9-decimal symbol read "mid 0.00").
 *
 * The price axis is centred on the mid and clipped to the book near it (depthWindow): one
 * far order (a bid at 1.00 under a 60,000 market) would otherwise squash every other level
 * into a few pixels. The levels beyond the window are left out and counted in the corner.
 */
import { formatUnits, toUnits } from "./protocol.js";

/** The exact mid of two canonical price strings with `decimals` decimals. */
export function midText(bid, ask, decimals) {
  const twice = toUnits(bid, decimals) + toUnits(ask, decimals);
  if (twice % 2n === 0n) return formatUnits(twice / 2n, decimals);
  return formatUnits(twice * 5n, decimals + 1); // a half tick: one decimal more
}
/**
 * The price window around the mid: half-width the farthest level's distance, but at most
 * 2.5x the 75th percentile of the levels' distances (and never less than the spread), so a
 * few outliers are clipped while an evenly spread book is shown whole. `bids` descending and
 * `asks` ascending, as numbers. Returns { lo, hi, bidCount, askCount } (levels inside).
 */
export function depthWindow(bids, asks) {
  const all = [...bids, ...asks];
  if (bids.length === 0 || asks.length === 0) {
    return { lo: Math.min(...all), hi: Math.max(...all), bidCount: bids.length, askCount: asks.length };
  }
  const mid = (bids[0] + asks[0]) / 2;
  const distances = [...bids.map((p) => mid - p), ...asks.map((p) => p - mid)].sort((a, b) => a - b);
  const p75 = distances[Math.floor((distances.length - 1) * 0.75)];
  const half = Math.min(distances.at(-1), Math.max(2.5 * p75, asks[0] - bids[0]));
  const inside = (d) => d <= half * (1 + 1e-12);
  return {
    lo: mid - half,
    hi: mid + half,
    bidCount: bids.filter((p) => inside(mid - p)).length,
    askCount: asks.filter((p) => inside(p - mid)).length,
  };
}

const BID = "38,166,154";
const ASK = "239,83,80";

export function createDepthChart(canvas, { levels = 40 } = {}) {
  const ctx = canvas.getContext("2d");
  // The size comes from a ResizeObserver: reading layout in the frame would force a reflow.
  const size = { width: 0, height: 0 };
  const state = { lo: null, hi: null, clipped: 0 }; // the last drawn window, for tests
  let last = null;
  new ResizeObserver(([entry]) => {
    size.width = entry.contentRect.width;
    size.height = entry.contentRect.height;
    if (last) draw(last);
  }).observe(canvas);

  function resize() {
    const ratio = window.devicePixelRatio || 1;
    const { width, height } = size;
    const w = Math.max(1, Math.round(width * ratio));
    const h = Math.max(1, Math.round(height * ratio));
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    return { w, h, ratio };
  }

  function side(levelsList) {
    let sum = 0;
    return levelsList.map(([p, q]) => [Number(p), (sum += Number(q))]);
  }

  function area(points, x, y, h, color, baseline) {
    if (points.length === 0) return;
    ctx.beginPath();
    ctx.moveTo(x(points[0][0]), baseline);
    let prevY = baseline;
    for (const [price, total] of points) {
      ctx.lineTo(x(price), prevY);
      prevY = y(total);
      ctx.lineTo(x(price), prevY);
    }
    ctx.lineTo(x(points[points.length - 1][0]), baseline);
    ctx.closePath();
    ctx.fillStyle = `rgba(${color},0.25)`;
    ctx.fill();
    ctx.strokeStyle = `rgba(${color},0.9)`;
    ctx.lineWidth = 1.5;
    ctx.stroke();
  }

  function draw(book) {
    last = book;
    const { w, h, ratio } = resize();
    ctx.clearRect(0, 0, w, h);
    if (!book) return;
    const allBids = book.levels("bids", levels);
    const allAsks = book.levels("asks", levels);
    if (allBids.length === 0 && allAsks.length === 0) return;
    const win = depthWindow(allBids.map(([p]) => Number(p)), allAsks.map(([p]) => Number(p)));
    const bidLevels = allBids.slice(0, win.bidCount);
    const askLevels = allAsks.slice(0, win.askCount);
    const clipped = allBids.length - bidLevels.length + allAsks.length - askLevels.length;
    const bids = side(bidLevels);
    const asks = side(askLevels);
    const lo = win.lo;
    const hi = win.hi;
    Object.assign(state, { lo, hi, clipped });
    const maxTotal = Math.max(bids.at(-1)?.[1] ?? 0, asks.at(-1)?.[1] ?? 0) || 1;
    const pad = 6 * ratio;
    const bottom = h - 16 * ratio;
    const x = (p) => pad + ((p - lo) / (hi - lo || 1)) * (w - 2 * pad);
    const y = (t) => bottom - (t / maxTotal) * (bottom - pad);
    // each side runs flat from its deepest level shown to the window's edge
    area(bids.length ? [...bids, [lo, bids.at(-1)[1]]] : bids, x, y, h, BID, bottom);
    area(asks.length ? [...asks, [hi, asks.at(-1)[1]]] : asks, x, y, h, ASK, bottom);
    ctx.fillStyle = "#8b98a5";
    ctx.font = `${10 * ratio}px ui-monospace, monospace`;
    ctx.textBaseline = "bottom";
    ctx.textAlign = "left";
    // the extremes as the book wrote them: the deepest bid (or best ask) and the deepest ask
    const loText = (bidLevels.at(-1) ?? askLevels[0])[0];
    const hiText = (askLevels.at(-1) ?? bidLevels[0])[0];
    ctx.fillText(loText, pad, h - 2 * ratio);
    ctx.textAlign = "right";
    ctx.fillText(hiText, w - pad, h - 2 * ratio);
    const bid = book.bestBid();
    const ask = book.bestAsk();
    const mid = bid && ask ? midText(bid[0], ask[0], book.priceDecimals ?? decimalsIn(bid[0])) : null;
    if (mid !== null) {
      ctx.textAlign = "center";
      ctx.fillText(`mid ${mid}`, w / 2, h - 2 * ratio);
    }
    if (clipped > 0) {
      ctx.textAlign = "right";
      ctx.textBaseline = "top";
      ctx.fillText(`${clipped} far level${clipped === 1 ? "" : "s"} not shown`, w - pad, pad);
    }
  }

  return { render: draw, state };
}

function decimalsIn(price) {
  const dot = price.indexOf(".");
  return dot < 0 ? 0 : price.length - dot - 1;
}
