import assert from "node:assert/strict";
import { test } from "node:test";
import { equity } from "../js/positions.js";

test("equity is cash plus positions at their last price, unknown until every held symbol has one", () => {
  const account = {
    balances: { cash: { total: "1000.00", available: "900.00" } },
    positions: [
      { symbol: "A", qty: "2.0", avg_price: "0", realized_pnl: "0" },
      { symbol: "B", qty: "0.0", avg_price: "0", realized_pnl: "0" },
    ],
  };
  assert.equal(equity(account, new Map()), null);
  const tickers = new Map([["A", { last: "10.50" }]]);
  assert.equal(equity(account, tickers), 1021);
  assert.equal(equity({ balances: {}, positions: [] }, tickers), 0);
});
