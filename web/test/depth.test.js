// Depth chart: the mid is exact in the symbol's decimals (issue 17 #4: "mid 0.00"); the price
// window is centred on the mid and clips far orders (issue 17 #10).
import assert from "node:assert/strict";
import { test } from "node:test";
import { depthWindow, midText } from "../js/depth.js";

test("mid of an 8-decimal book keeps its decimals", () => {
  assert.equal(midText("0.00002301", "0.00002305", 8), "0.00002303");
});

test("a mid between two ticks takes one decimal more, exactly", () => {
  assert.equal(midText("0.000000123", "0.000000124", 9), "0.0000001235");
  assert.equal(midText("100.00", "100.01", 2), "100.005");
});

test("two-decimal books read as before", () => {
  assert.equal(midText("60000.00", "60001.00", 2), "60000.50");
});

const evenBook = () => ({
  bids: Array.from({ length: 40 }, (_, i) => 59999.5 - i),
  asks: Array.from({ length: 40 }, (_, i) => 60000.5 + i),
});

test("an evenly spread book is shown whole, centred on the mid", () => {
  const { bids, asks } = evenBook();
  const win = depthWindow(bids, asks);
  assert.equal(win.bidCount, 40);
  assert.equal(win.askCount, 40);
  assert.equal((win.lo + win.hi) / 2, 60000);
  assert.ok(win.lo <= bids.at(-1) && win.hi >= asks.at(-1));
});

test("one far order is clipped instead of squashing the rest", () => {
  const { bids, asks } = evenBook();
  bids[39] = 1.0; // a stray bid far under the market
  const win = depthWindow(bids, asks);
  assert.equal(win.bidCount, 39, "the far bid is left out");
  assert.equal(win.askCount, 40);
  assert.ok(win.lo > 59000, `window starts near the book, not at ${win.lo}`);
  assert.ok(win.hi - win.lo < 200, "a few times the span of the other levels, not 60,000");
});

test("a window is never narrower than the spread; one-sided books span their own prices", () => {
  const win = depthWindow([100], [110]);
  assert.deepEqual([win.lo, win.hi, win.bidCount, win.askCount], [100, 110, 1, 1]);
  const onlyAsks = depthWindow([], [5, 6, 9]);
  assert.deepEqual([onlyAsks.lo, onlyAsks.hi, onlyAsks.askCount], [5, 9, 3]);
});
