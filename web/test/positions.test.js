import assert from "node:assert/strict";
import { test } from "node:test";
import { SessionPnl, equity } from "../js/positions.js";

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

test("the session P&L starts afresh for another account and after a logout", () => {
  const pnl = new SessionPnl();
  assert.equal(pnl.update("alice", null), null); // not valued yet: no baseline
  assert.equal(pnl.update("alice", 1000), 0);
  assert.equal(pnl.update("alice", 1012.5), 12.5);
  // bob logs in on the same page: his first equity is his baseline, not alice's
  assert.equal(pnl.update("bob", 5000), 0);
  assert.equal(pnl.update("bob", 4990), -10);
  pnl.update(null, null); // logout
  assert.equal(pnl.update("bob", 4990), 0);
});
