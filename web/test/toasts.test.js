// Fill toasts (the text of one; the stack itself is driven in Playwright) and exact ladder totals.
import assert from "node:assert/strict";
import { test } from "node:test";
import { fillToastText } from "../js/toasts.js";
import { cumulativeTotals } from "../js/bookview.js";

test("a fill's toast names side, size, symbol, price and liquidity as sent", () => {
  const fill = { side: "buy", qty: "0.2500", symbol: "BTC-USD", price: "60000.00", liquidity: "maker" };
  assert.equal(fillToastText(fill), "Bought 0.2500 BTC-USD @ 60000.00 · maker");
  assert.equal(fillToastText({ ...fill, side: "sell", liquidity: undefined, price: "0.00002301", symbol: "ADA-XBT" }), "Sold 0.2500 ADA-XBT @ 0.00002301");
});

test("ladder totals are exact in the symbol's decimals", () => {
  const levels = [["1.00", "0.1"], ["1.01", "0.2"], ["1.02", "0.0000001"]];
  // floats would print 0.30000000000000004; 8 places (Kraken) must not be rounded to 2
  assert.deepEqual(cumulativeTotals(levels, 8).text, ["0.10000000", "0.30000000", "0.30000010"]);
  assert.deepEqual(cumulativeTotals(levels.slice(0, 2), 4).values, [0.1, 0.3]);
  // a size finer than the decimals given is shown in full, not cut
  assert.deepEqual(cumulativeTotals(levels, 2).text, ["0.1000000", "0.3000000", "0.3000001"]);
  assert.deepEqual(cumulativeTotals([], 4).text, []);
});
