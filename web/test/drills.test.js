// The fault drills' client-side hooks: ack timeout and retry with the same key, the dead-man's
// switch kept alive and re-armed, a cut that stays down, duplicate discard by id, the delay
// fault keeping order, a corrupted delta failing the checksum; and the drills' own helpers.
import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeSocket } from "./fake_socket.js";
import { L2Book } from "../js/book.js";
import { Timeline, marketablePrice, passivePrice } from "../js/drills.js";
import { deadmanText } from "../js/drills_view.js";
import { OrderClient } from "../js/orders.js";
import { MarketFeed, corruptDelta } from "../js/transports.js";

const FIELDS = { client_order_id: "k1", symbol: "TW", side: "buy", order_type: "limit", qty: "2.000", price: "100.00", tif: "gtc", post_only: false };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));


function connected(options = {}) {
  FakeSocket.all = [];
  const env = { WebSocket: FakeSocket, location: { protocol: "http:", host: "h" } };
  const client = new OrderClient({ token: "t", env, ...options });
  client.connect();
  FakeSocket.all[0].live();
  return { client, socket: FakeSocket.all[0] };
}

test("an unanswered order is sent again with its key after the ack timeout; an answered one is not", async () => {
  const { client, socket } = connected({ ackTimeoutMs: 60 });
  const taps = [];
  client.wireTaps.add((dir, msg) => taps.push([dir, msg.op ?? msg.type]));
  const sent = client.submit(FIELDS);
  const answered = client.submit({ ...FIELDS, client_order_id: "k2" });
  socket.serve({ type: "order.ack", req_id: answered.req_id, client_order_id: "k2", order_id: "o2", symbol: "TW", side: "buy", order_type: "limit", price: "100.00", qty: "2.000", tif: "gtc", post_only: false, status: "open", filled_qty: "0", leaves_qty: "2.000", duplicate: false, ts: 1, exec_seq: 1 });
  await sleep(140);
  const again = socket.sent.filter((m) => m.client_order_id === "k1");
  assert.ok(again.length >= 2, "re-sent after the timeout");
  assert.deepEqual(again[1], sent, "the same key and req_id");
  assert.equal(socket.sent.filter((m) => m.client_order_id === "k2").length, 1);
  assert.ok(client.retried >= 1);
  assert.deepEqual(taps[0], ["up", "order.new"]);
  assert.ok(taps.some(([dir, type]) => dir === "down" && type === "order.ack"));
  client.close();
});

test("the dead-man's switch is armed, kept alive by pings, and armed again after a reconnect", async () => {
  const { client, socket } = connected();
  assert.equal(client.deadman(), null);
  client.armDeadman(300);
  assert.deepEqual(socket.sent.at(-1), { op: "deadman", req_id: "deadman", timeout_ms: 300 });
  await sleep(250);
  assert.ok(socket.sent.some((m) => m.op === "ping"), "a heartbeat while quiet");
  const state = client.deadman();
  assert.ok(state.remainingMs > 0 && state.remainingMs <= 300 && state.alive);
  assert.match(deadmanText(state), /heartbeats keep it armed/);
  // a cut stays down for the hold, then the new connection is armed before anything is re-sent
  const cutAt = performance.now();
  client.cut(400);
  client.submit(FIELDS);
  await sleep(200);
  assert.equal(FakeSocket.all.length, 1, "still down during the hold");
  assert.equal(client.deadman().alive, false);
  await sleep(450);
  const second = FakeSocket.all[1];
  assert.ok(second && performance.now() - cutAt >= 400);
  second.live();
  assert.deepEqual(second.sent[1], { op: "deadman", req_id: "deadman", timeout_ms: 300 });
  assert.equal(second.sent[2].client_order_id, "k1", "then the queued order");
  client.armDeadman(0);
  assert.deepEqual(second.sent.at(-1), { op: "deadman", req_id: "deadman", timeout_ms: 0 });
  assert.equal(client.deadman(), null);
  assert.equal(deadmanText(null), "off");
  assert.match(deadmanText({ remainingMs: -1500, alive: false }), /expired 1.5 s ago/);
  client.close();
});

function sseFeed() {
  const sources = [];
  const env = { location: { protocol: "http:", host: "h" }, performance };
  env.EventSource = class {
    constructor(url) {
      this.url = url;
      this.listeners = {};
      sources.push(this);
    }
    addEventListener(name, fn) {
      this.listeners[name] = fn;
    }
    emit(name, id, data) {
      this.listeners[name]({ data: JSON.stringify(data), lastEventId: id });
    }
    close() {}
  };
  const events = [];
  const feed = new MarketFeed({ env, forced: "sse", onEvent: (event, data, id) => events.push([event, id, data.symbol]) });
  feed.start();
  sources[0].onopen();
  return { feed, source: sources[0], events, sources };
}

test("a frame delivered twice is discarded by id; snapshots sharing one id are not", () => {
  const { feed, source, events } = sseFeed();
  source.emit("snapshot", "e-5", { symbol: "A", bids: [], asks: [], seq: 1 });
  source.emit("snapshot", "e-5", { symbol: "B", bids: [], asks: [], seq: 1 });
  feed.faults.duplicate = 1;
  source.emit("trade", "e-6", { symbol: "A", trade_id: 1, ts: 1 });
  source.emit("trade", "e-7", { symbol: "A", trade_id: 2, ts: 2 });
  assert.deepEqual(events.map(([e, id, s]) => `${e}:${id}:${s}`), ["snapshot:e-5:A", "snapshot:e-5:B", "trade:e-6:A", "trade:e-7:A"]);
  assert.equal(feed.stats.sse.duplicates, 1);
  // a restart without resume forgets them: its fresh snapshots may repeat an id
  feed.forgetRecent();
  feed.stop();
});

test("the delay fault holds events in arrival order, past its end too", async () => {
  const { feed, source, events } = sseFeed();
  feed.faults.delayMs = 80;
  feed.faults.delayUntil = performance.now() + 40;
  source.emit("trade", "e-1", { symbol: "A", trade_id: 1 });
  await sleep(50); // the delay window is over, e-1 is still held
  source.emit("trade", "e-2", { symbol: "A", trade_id: 2 });
  assert.equal(events.length, 0, "e-2 waits behind e-1");
  await sleep(80);
  assert.deepEqual(events.map(([, id]) => id), ["e-1", "e-2"]);
  source.emit("trade", "e-3", { symbol: "A", trade_id: 3 });
  assert.equal(events.length, 3, "nothing held: delivered at once");
  feed.stop();
});

test("a corrupted delta fails the book's checksum", () => {
  const book = new L2Book("A", 2);
  const bids = [["100.00", "1.000"], ["99.00", "2.000"]];
  const asks = [["101.00", "1.500"]];
  const clean = new L2Book("A", 2);
  clean.applyLevels(bids, asks);
  const good = { symbol: "A", seq: 1, bids, asks, checksum: clean.checksum() };
  assert.equal(book.applySnapshot(good), true);
  const after = new L2Book("A", 2);
  after.applyLevels([...bids, ["98.00", "1.000"]], asks);
  const delta = { symbol: "A", first_seq: 2, seq: 2, bids: [["98.00", "1.000"]], asks: [], checksum: after.checksum() };
  const twin = new L2Book("A", 2);
  twin.applySnapshot(good);
  assert.equal(twin.applyDelta(delta), "applied", "the delta as sent is right");
  const bad = corruptDelta(delta, book.bestBid());
  assert.deepEqual(bad.bids.at(-1), ["100.00", "1.001"]);
  assert.deepEqual(delta.bids, [["98.00", "1.000"]], "the original is not changed");
  assert.equal(book.applyDelta(bad), "mismatch");
});

test("the drills' prices sit on the grid: through the ask, and well under the bid", () => {
  const spec = { price_decimals: 2, tick_size: "0.05", qty_decimals: 3, min_qty: "0.001" };
  const book = new L2Book("A", 2);
  book.applyLevels([["100.00", "1"]], [["101.00", "1"]]);
  assert.equal(marketablePrice(book, spec), "102.00");
  assert.equal(passivePrice(book, spec), "90.00");
  assert.equal(marketablePrice(new L2Book("A", 2), spec), null);
  const t = new Timeline(() => 10);
  t.start("x");
  t.log("client", "hello");
  assert.equal(t.toText({ ok: true, summary: "fine" }), "tickwire drill: x\n     0.0 ms  client  hello\noutcome: PASS: fine");
});
