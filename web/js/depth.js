/**
 * Depth chart on a canvas: cumulative bid size (left, green) and ask size (right, red) over
 * price for the best `levels` levels of each side. Exports createDepthChart(canvas) -> { render(book) }
 * and midText(bid, ask, decimals). Labels are the book's own price strings and the mid is
 * exact in the symbol's decimals (one more when it falls between two ticks), never a float
 * rounded to 2 places (an 8- or 9-decimal symbol read "mid 0.00").
 */
import { formatUnits, toUnits } from "./protocol.js";

/** The exact mid of two canonical price strings with `decimals` decimals. */
export function midText(bid, ask, decimals) {
  const twice = toUnits(bid, decimals) + toUnits(ask, decimals);
  if (twice % 2n === 0n) return formatUnits(twice / 2n, decimals);
  return formatUnits(twice * 5n, decimals + 1); // a half tick: one decimal more
}
const BID = "38,166,154";
const ASK = "239,83,80";

export function createDepthChart(canvas, { levels = 40 } = {}) {
  const ctx = canvas.getContext("2d");
  // The size comes from a ResizeObserver: reading layout in the frame would force a reflow.
  const size = { width: 0, height: 0 };
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
    const bidLevels = book.levels("bids", levels);
    const askLevels = book.levels("asks", levels);
    const bids = side(bidLevels);
    const asks = side(askLevels);
    if (bids.length === 0 && asks.length === 0) return;
    const prices = [...bids, ...asks].map(([p]) => p);
    const lo = Math.min(...prices);
    const hi = Math.max(...prices);
    const maxTotal = Math.max(bids.at(-1)?.[1] ?? 0, asks.at(-1)?.[1] ?? 0) || 1;
    const pad = 6 * ratio;
    const bottom = h - 16 * ratio;
    const x = (p) => pad + ((p - lo) / (hi - lo || 1)) * (w - 2 * pad);
    const y = (t) => bottom - (t / maxTotal) * (bottom - pad);
    area(bids, x, y, h, BID, bottom);
    area(asks, x, y, h, ASK, bottom);
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
  }

  return { render: draw };
}

function decimalsIn(price) {
  const dot = price.indexOf(".");
  return dot < 0 ? 0 : price.length - dot - 1;
}
