// The page's copy of the server's order rules (order_rules.js): stop orders, replace, placeholders.
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkNew, checkReplace, placeholders } from "../js/order_rules.js";

const BTC = { symbol: "BTC-USD", tick_size: "0.01", lot_size: "0.0001", min_qty: "0.0001", price_decimals: 2, qty_decimals: 4 };
const ADA = { symbol: "ADA-XBT", tick_size: "0.00000001", lot_size: "0.00000001", min_qty: "0.00000001", price_decimals: 8, qty_decimals: 8 };
const order = (extra) => ({ symbol: "BTC-USD", side: "buy", qty: "0.0100", tif: "gtc", post_only: false, ...extra });

test("a limit order passes, a bad one names the server's code", () => {
  assert.equal(checkNew(order({ order_type: "limit", price: "60000.00" }), BTC), null);
  assert.equal(checkNew(order({ order_type: "limit", price: "60000.005" }), BTC).code, "INVALID_PRICE");
  assert.equal(checkNew(order({ order_type: "limit", price: "" }), BTC).code, "INVALID_PRICE");
  assert.equal(checkNew(order({ order_type: "limit", price: "1", qty: "0.00001" }), BTC).code, "INVALID_QTY");
  assert.equal(checkNew(order({ order_type: "limit", price: "1" }), null).code, "INVALID_SYMBOL");
  assert.equal(checkNew(order({ order_type: "iceberg" }), BTC).code, "INVALID_TYPE");
  assert.equal(checkNew(order({ order_type: "market", tif: "gtc" }), BTC).code, "INVALID_TIF");
  assert.equal(checkNew(order({ order_type: "market", tif: "ioc" }), BTC), null);
});

test("a stop needs a stop price on the far side of the last trade", () => {
  const stop = order({ order_type: "stop", tif: "ioc", stop_price: "61000.00" });
  assert.equal(checkNew(stop, BTC, "60000.00"), null);
  assert.equal(checkNew(stop, BTC, null), null, "no trade yet: the server decides");
  const below = checkNew({ ...stop, stop_price: "59000.00" }, BTC, "60000.00");
  assert.equal(below.code, "INVALID_PRICE");
  assert.match(below.message, /above the last trade \(60000\.00\)/);
  assert.equal(checkNew({ ...stop, stop_price: "60000.00" }, BTC, "60000.00").code, "INVALID_PRICE", "at the last trade it would trigger at once");
  const sell = { ...stop, side: "sell", stop_price: "59000.00" };
  assert.equal(checkNew(sell, BTC, "60000.00"), null);
  assert.match(checkNew({ ...sell, stop_price: "60500.00" }, BTC, "60000.00").message, /below the last trade/);
  assert.equal(checkNew({ ...stop, stop_price: "" }, BTC, "60000.00").code, "INVALID_PRICE");
  assert.equal(checkNew({ ...stop, stop_price: "61000.001" }, BTC).code, "INVALID_PRICE");
  assert.equal(checkNew({ ...stop, tif: "gtc" }, BTC).code, "INVALID_TIF", "a stop becomes a market order: IOC or FOK");
  assert.equal(checkNew({ ...stop, price: "61000.00" }, BTC).code, "INVALID_PRICE", "a stop takes no price");
});

test("a stop-limit needs both prices and follows the limit rules", () => {
  const sl = order({ order_type: "stop_limit", price: "61100.00", stop_price: "61000.00" });
  assert.equal(checkNew(sl, BTC, "60000.00"), null);
  assert.equal(checkNew({ ...sl, price: undefined }, BTC).code, "INVALID_PRICE");
  assert.equal(checkNew({ ...sl, post_only: true }, BTC).code, "INVALID_TYPE");
  assert.equal(checkNew(order({ order_type: "limit", price: "1", stop_price: "2" }), BTC).code, "INVALID_PRICE", "a stop price only on stop types");
});

test("replace: only an open limit order, with a real change, above what is filled", () => {
  const open = { order_type: "limit", price: "60000.00", qty: "0.0100", filled_qty: "0.0040", status: "partially_filled" };
  assert.equal(checkReplace(open, { price: "60001.00" }, BTC), null);
  assert.equal(checkReplace(open, {}, BTC).code, "BAD_REQUEST");
  assert.equal(checkReplace(open, { qty: "0.0040" }, BTC).code, "INVALID_QTY");
  assert.equal(checkReplace(open, { qty: "0.0041" }, BTC), null);
  assert.equal(checkReplace(open, { price: "1.001" }, BTC).code, "INVALID_PRICE");
  assert.match(checkReplace({ ...open, order_type: "stop_limit" }, { price: "1.00" }, BTC).message, /cannot be modified/);
  assert.equal(checkReplace({ ...open, order_type: "stop_limit" }, { price: "1.00" }, BTC).code, "INVALID_TYPE");
  assert.equal(checkReplace({ ...open, order_type: "market" }, { qty: "1" }, BTC).code, "INVALID_TYPE");
});

test("placeholders follow the symbol's decimals", () => {
  assert.deepEqual(placeholders(BTC), { price: "0.00", stop: "0.00", qty: "min 0.0001" });
  assert.deepEqual(placeholders(ADA), { price: "0.00000000", stop: "0.00000000", qty: "min 0.00000001" });
  assert.equal(placeholders(null).price, "0.00");
});
