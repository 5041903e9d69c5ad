// MarketStore: checksum-verified books, resync over REST on a gap, trade de-duplication.
// Expected checksums come from zlib.crc32 in Python (see book.test.js for the recipe).
import assert from "node:assert/strict";
import { test } from "node:test";
import { bookChecksum } from "../js/book.js";
import { MarketStore } from "../js/market.js";

const snap = (seq, bids, asks) => ({ symbol: "TW", seq, bids, asks, last_trade_id: 10, checksum: bookChecksum(asks, bids) });
const delta = (first, seq, bids, asks, fullBids, fullAsks) => ({
  symbol: "TW", first_seq: first, seq, bids, asks, checksum: bookChecksum(fullAsks, fullBids), ts: 1,
});

test("a gap resyncs from the REST snapshot and replays the buffered deltas after it", async () => {
  let release;
  const restarts = [];
  const fetched = [];
  const store = new MarketStore({
    fetchJson: (path) => {
      fetched.push(path);
      return new Promise((resolve) => (release = resolve));
    },
    onRestart: (symbol, why) => restarts.push([symbol, why]),
  });
  store.handle("snapshot", snap(1, [["10.00", "1"]], [["11.00", "1"]]));
  assert.equal(store.books.get("TW").synced, true);
  // seq 2 never arrives: seq 3 is a gap
  store.handle("book", delta(3, 3, [["10.00", "2"]], [], [["10.00", "2"]], [["11.00", "1"]]));
  assert.equal(store.counters.resyncs, 1);
  assert.deepEqual(fetched, ["/api/book/TW"]);
  // deltas arriving meanwhile are buffered; the REST snapshot is at seq 4
  const b5 = [["10.00", "2"], ["9.00", "5"]];
  store.handle("book", delta(4, 4, [["10.00", "2"]], [], [["10.00", "2"]], [["11.00", "3"]]));
  store.handle("book", delta(5, 5, [["9.00", "5"]], [], b5, [["11.00", "3"]]));
  release(snap(4, [["10.00", "2"]], [["11.00", "3"]]));
  await new Promise((resolve) => setImmediate(resolve));
  const book = store.books.get("TW");
  assert.equal(book.synced, true);
  assert.equal(book.seq, 5, "delta 5 replayed on top of the snapshot at 4");
  assert.deepEqual(book.levels("bids"), b5);
  assert.deepEqual(restarts, []);
  // live deltas continue normally
  store.handle("book", delta(6, 6, [], [["11.00", "0"]], b5, []));
  assert.equal(book.bestAsk(), null);
  assert.equal(store.counters.checksumBad, 0);
});

test("a failed resync restarts the feed", async () => {
  const restarts = [];
  const store = new MarketStore({
    fetchJson: async () => {
      throw new Error("HTTP 503");
    },
    onRestart: (symbol, why) => restarts.push([symbol, why]),
  });
  store.handle("snapshot", snap(1, [["10.00", "1"]], [["11.00", "1"]]));
  store.handle("book", { symbol: "TW", first_seq: 2, seq: 2, bids: [["10.00", "3"]], asks: [], checksum: 12345 });
  assert.equal(store.counters.checksumBad, 1);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(restarts, [["TW", "HTTP 503"]]);
});

test("trades are shown once, in order, and a skipped trade id is counted", () => {
  const store = new MarketStore({ fetchJson: async () => ({}) });
  store.handle("snapshot", snap(1, [], []));
  const trade = (id) => ({ symbol: "TW", trade_id: id, price: "10.00", qty: "1", taker_side: "buy", ts: 1 });
  store.handle("trade", trade(10)); // already reflected by the snapshot (last_trade_id 10)
  store.handle("trade", trade(11));
  store.handle("trade", trade(11)); // duplicate delivery
  store.handle("trade", trade(13)); // 12 is missing
  assert.deepEqual(store.trades.get("TW").map((t) => t.trade_id), [13, 11]);
  assert.equal(store.counters.tradeGaps, 1);
  store.handle("reset", { reason: "epoch changed" });
  store.handle("trade", trade(1)); // ids restart after a reset
  assert.equal(store.trades.get("TW")[0].trade_id, 1);
  assert.equal(store.counters.resets, 1);
  assert.throws(() => store.handle("mystery", {}), /unknown market-data event/);
});

test("ticker direction drives the flash", () => {
  const store = new MarketStore({ fetchJson: async () => ({}) });
  store.handle("ticker", { symbol: "TW", last: "10.00", open: "9.00" });
  store.handle("ticker", { symbol: "TW", last: "9.50", open: "9.00" });
  assert.equal(store.tickDirection.get("TW"), "down");
  assert.ok(store.dirty.ticker.has("TW"));
});

test("trades printed before the page connected are merged into the tape once, newest first", () => {
  const store = new MarketStore({ fetchJson: async () => ({}) });
  const trade = (id, price) => ({ symbol: "TW", trade_id: id, price, qty: "1", taker_side: "buy", ts: id });
  assert.equal(store.lastPrice("TW"), null);
  store.handle("trade", trade(5, "101.00")); // a live trade before the REST answer
  store.seedTrades("TW", [trade(3, "99.00"), trade(4, "100.00"), trade(5, "101.00"), { ...trade(6, "7"), symbol: "OTHER" }]);
  assert.deepEqual(store.trades.get("TW").map((t) => t.trade_id), [5, 4, 3]);
  assert.ok(store.tradesLoaded.has("TW"));
  assert.equal(store.lastPrice("TW"), "101.00", "no ticker yet: the newest trade");
  store.handle("trade", trade(5, "101.00"));
  store.handle("trade", trade(6, "102.00"));
  assert.deepEqual(store.trades.get("TW").map((t) => t.trade_id), [6, 5, 4, 3]);
  store.handle("ticker", { symbol: "TW", last: "103.00", open: "99.00" });
  assert.equal(store.lastPrice("TW"), "103.00", "the ticker wins once there is one");
  store.handle("reset", { reason: "seek" });
  assert.ok(!store.tradesLoaded.has("TW"), "a seek loads the history again");
});
