// Order entry: exactly-once tracking, resume from the last exec_seq, re-send with the same key.
import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeSocket } from "./fake_socket.js";
import { OrderClient, OrderTracker, newClientOrderId } from "../js/orders.js";

const FIELDS = { client_order_id: "k1", symbol: "TW", side: "buy", order_type: "limit", qty: "2.000", price: "100.00", tif: "gtc", post_only: false };

function ack(extra = {}) {
  return { type: "order.ack", client_order_id: "k1", order_id: "o1", symbol: "TW", side: "buy", order_type: "limit", price: "100.00", qty: "2.000", tif: "gtc", post_only: false, status: "open", filled_qty: "0.000", leaves_qty: "2.000", duplicate: false, ts: 1, ...extra };
}

test("keys are unique and valid idempotency keys", () => {
  const keys = new Set(Array.from({ length: 500 }, () => newClientOrderId()));
  assert.equal(keys.size, 500);
  for (const key of keys) assert.match(key, /^[A-Za-z0-9._:-]{1,64}$/);
});

test("an order is pending until answered, then tracked once", () => {
  const t = new OrderTracker();
  const msg = t.newOrder(FIELDS);
  assert.equal(msg.op, "order.new");
  assert.equal(msg.client_order_id, "k1");
  assert.deepEqual(t.unanswered(), [msg]);
  assert.throws(() => t.newOrder(FIELDS), /already used/);
  t.handle(ack({ req_id: msg.req_id, exec_seq: 1 }));
  assert.deepEqual(t.unanswered(), []);
  assert.equal(t.orders.size, 1);
  assert.equal(t.orders.get("k1").status, "open");
  assert.equal(t.lastExecSeq, 1);
  // a duplicate ack (a re-send answered) changes nothing but the state it reports
  t.handle(ack({ duplicate: true }));
  assert.equal(t.orders.size, 1);
  assert.equal(t.openOrders().length, 1);
});

test("fills apply once by exec_seq; a gap asks for resume", () => {
  const t = new OrderTracker();
  t.newOrder(FIELDS);
  t.handle(ack({ exec_seq: 1 }));
  const fill = { type: "order.fill", order_id: "o1", client_order_id: "k1", trade_id: 7, symbol: "TW", side: "buy", price: "100.00", qty: "0.500", leaves_qty: "1.500", liquidity: "maker", fee: "0.01", ts: 2, exec_seq: 2 };
  assert.equal(t.handle(fill), null);
  assert.equal(t.handle(fill), null, "replayed fill is ignored");
  assert.equal(t.fills.length, 1);
  assert.equal(t.orders.get("k1").filled_qty, "0.500");
  assert.equal(t.orders.get("k1").status, "partially_filled");
  const later = { ...fill, trade_id: 9, qty: "1.500", leaves_qty: "0.000", exec_seq: 4 };
  assert.equal(t.handle(later), "resume", "exec_seq 3 is missing");
  assert.equal(t.fills.length, 1, "nothing applied past a gap");
  assert.equal(t.handle({ ...later, exec_seq: 5 }), null, "one resume at a time");
  t.handle({ ...fill, trade_id: 8, qty: "0.000", leaves_qty: "1.500", exec_seq: 3 });
  t.handle(later);
  assert.equal(t.orders.get("k1").status, "filled");
  assert.equal(t.orders.get("k1").filled_qty, "2.000");
  assert.equal(t.lastExecSeq, 4);
});

test("rejects mark a new order rejected but leave an order whose cancel was refused", () => {
  const t = new OrderTracker();
  const msg = t.newOrder(FIELDS);
  t.handle({ type: "order.reject", req_id: msg.req_id, client_order_id: "k1", code: "INSUFFICIENT_FUNDS", message: "no" });
  assert.equal(t.orders.get("k1").status, "rejected");
  assert.equal(t.orders.get("k1").reject.code, "INSUFFICIENT_FUNDS");
  const t2 = new OrderTracker();
  t2.newOrder(FIELDS);
  t2.handle(ack({ exec_seq: 1 }));
  const cancel = t2.cancel("k1");
  t2.handle({ type: "order.reject", req_id: cancel.req_id, client_order_id: "k1", code: "ORDER_NOT_OPEN", message: "filled" });
  assert.equal(t2.orders.get("k1").status, "open");
  assert.deepEqual(t2.unanswered(), []);
});

test("cancel and cancel-all are answered", () => {
  const t = new OrderTracker();
  t.newOrder(FIELDS);
  t.handle(ack({ exec_seq: 1 }));
  const cancel = t.cancel("k1");
  t.handle({ type: "order.canceled", order_id: "o1", client_order_id: "k1", reason: "requested", filled_qty: "0.000", ts: 3, exec_seq: 2, duplicate: false, req_id: cancel.req_id });
  assert.equal(t.orders.get("k1").status, "canceled");
  const all = t.cancelAll("TW");
  assert.equal(all.symbol, "TW");
  t.handle({ type: "orders.canceled_all", req_id: all.req_id, count: 0 });
  assert.deepEqual(t.unanswered(), []);
  assert.throws(() => t.handle({ type: "surprise" }), /unexpected message type/);
});


test("after a drop the client resumes from the last exec_seq and re-sends with the same key", async () => {
  FakeSocket.all = [];
  const env = { WebSocket: FakeSocket, location: { protocol: "http:", host: "127.0.0.1:1" } };
  const client = new OrderClient({ token: "t k", env });
  client.connect();
  const first = FakeSocket.all[0];
  assert.equal(first.url, "ws://127.0.0.1:1/ws?token=t%20k");
  first.serve({ type: "session", account: "a", server_time: 1, latest_exec_seq: 0, protocol: "tickwire/1" });
  assert.deepEqual(first.sent[0], { op: "executions.resume", req_id: "resume-0", after: 0 });
  first.serve({ type: "executions.resumed", req_id: "resume-0", latest_exec_seq: 0 });
  const sent = client.submit(FIELDS);
  assert.equal(first.sent[1].client_order_id, "k1");
  // the server accepted the order, then the socket dropped before the ack reached us
  first.close();
  await new Promise((resolve) => setTimeout(resolve, 400)); // first backoff is <= 240 ms
  const second = FakeSocket.all[1];
  assert.ok(second, "reconnected");
  second.serve({ type: "session", account: "a", server_time: 2, latest_exec_seq: 1, protocol: "tickwire/1" });
  assert.deepEqual(second.sent[0], { op: "executions.resume", req_id: "resume-0", after: 0 });
  assert.equal(second.sent.length, 1, "nothing re-sent before the resume completes");
  second.serve(ack({ exec_seq: 1 })); // replayed
  second.serve({ type: "executions.resumed", req_id: "resume-0", latest_exec_seq: 1 });
  assert.equal(second.sent.length, 1, "the replayed ack answered the order: nothing to re-send");
  assert.equal(client.tracker.orders.size, 1);

  // an order that was never answered is re-sent with the same key and req_id
  const lost = client.submit({ ...FIELDS, client_order_id: "k2" });
  second.close();
  await new Promise((resolve) => setTimeout(resolve, 400));
  const third = FakeSocket.all[2];
  third.serve({ type: "session", account: "a", server_time: 3, latest_exec_seq: 1, protocol: "tickwire/1" });
  assert.equal(third.sent[0].after, 1);
  third.serve({ type: "executions.resumed", req_id: "resume-1", latest_exec_seq: 1 });
  assert.deepEqual(third.sent[1], lost);
  assert.equal(third.sent[1].client_order_id, "k2");
  assert.equal(client.resent, 1);
  client.close();
  assert.ok(sent.req_id < lost.req_id);
});

test("a gap on a live socket is filled by resume without re-sending what is in flight", () => {
  FakeSocket.all = [];
  const env = { WebSocket: FakeSocket, location: { protocol: "http:", host: "h" } };
  const client = new OrderClient({ token: "t", env });
  client.connect();
  const socket = FakeSocket.all[0];
  socket.serve({ type: "session", account: "a", server_time: 1, latest_exec_seq: 0, protocol: "tickwire/1" });
  socket.serve({ type: "executions.resumed", req_id: "resume-0", latest_exec_seq: 0 });
  client.submit(FIELDS);
  const other = client.submit({ ...FIELDS, client_order_id: "k2" });
  assert.equal(socket.sent.length, 3);
  socket.serve(ack({ exec_seq: 1 }));
  // exec_seq 2 was lost on the way: the client asks for it
  socket.serve({ type: "order.fill", order_id: "o1", client_order_id: "k1", trade_id: 1, symbol: "TW", side: "buy", price: "100.00", qty: "1.000", leaves_qty: "1.000", liquidity: "maker", fee: "0", ts: 5, exec_seq: 3 });
  assert.deepEqual(socket.sent[3], { op: "executions.resume", req_id: "resume-1", after: 1 });
  socket.serve({ type: "order.canceled", order_id: "o9", client_order_id: "elsewhere", reason: "requested", filled_qty: "0", ts: 4, exec_seq: 2, duplicate: false });
  socket.serve({ type: "order.fill", order_id: "o1", client_order_id: "k1", trade_id: 1, symbol: "TW", side: "buy", price: "100.00", qty: "1.000", leaves_qty: "1.000", liquidity: "maker", fee: "0", ts: 5, exec_seq: 3 });
  socket.serve({ type: "executions.resumed", req_id: "resume-1", latest_exec_seq: 3 });
  assert.equal(socket.sent.length, 4, "k2 is still in flight: not sent twice");
  assert.equal(client.resent, 0);
  assert.equal(client.tracker.lastExecSeq, 3);
  assert.equal(client.tracker.fills.length, 1);
  assert.deepEqual(client.tracker.unanswered(), [other]);
  client.close();
});

test("a cancel-all lost in a reconnect is not repeated blindly", async () => {
  FakeSocket.all = [];
  const env = { WebSocket: FakeSocket, location: { protocol: "http:", host: "h" } };
  const client = new OrderClient({ token: "t", env });
  client.connect();
  const first = FakeSocket.all[0];
  first.serve({ type: "session", account: "a", server_time: 1, latest_exec_seq: 0, protocol: "tickwire/1" });
  first.serve({ type: "executions.resumed", req_id: "resume-0", latest_exec_seq: 0 });
  client.cancelAll();
  const cancel = client.cancel("k9");
  first.close();
  await new Promise((resolve) => setTimeout(resolve, 400));
  const second = FakeSocket.all[1];
  second.serve({ type: "session", account: "a", server_time: 2, latest_exec_seq: 0, protocol: "tickwire/1" });
  second.serve({ type: "executions.resumed", req_id: "resume-0", latest_exec_seq: 0 });
  assert.deepEqual(second.sent.slice(1), [cancel], "the keyed cancel is re-sent, cancel_all is not");
  assert.match(client.notice, /Cancel all was interrupted/);
  assert.deepEqual(client.tracker.unanswered(), [cancel]);
  client.close();
});

test("a replace is pending until its ack, which retires the old key; a reject leaves the order", () => {
  const t = new OrderTracker();
  t.handle(ack({ req_id: t.newOrder(FIELDS).req_id, exec_seq: 1 }));
  const msg = t.replace("k1", "k2", { price: "101.00" });
  assert.deepEqual(msg, { op: "order.replace", req_id: msg.req_id, client_order_id: "k2", orig_client_order_id: "k1", price: "101.00" });
  assert.equal(t.orders.get("k2").status, "pending");
  assert.equal(t.orders.get("k2").replaces, "k1");
  assert.deepEqual(t.openOrders().map((o) => o.client_order_id), ["k1"]);
  t.handle({ type: "order.reject", req_id: msg.req_id, client_order_id: "k2", code: "INVALID_PRICE", message: "off the tick" });
  assert.equal(t.orders.get("k2").status, "rejected");
  assert.equal(t.orders.get("k1").status, "open", "a refused replace changes nothing");
  const again = t.replace("k1", "k3", { qty: "3.000" });
  t.handle(ack({ req_id: again.req_id, client_order_id: "k3", qty: "3.000", leaves_qty: "3.000", exec_seq: 2 }));
  assert.equal(t.orders.get("k1").status, "replaced");
  assert.deepEqual(t.openOrders().map((o) => [o.client_order_id, o.qty]), [["k3", "3.000"]]);
  assert.throws(() => t.replace("nope", "k4", { qty: "1" }), /unknown order/);
  assert.throws(() => t.replace("k3", "k1", { qty: "1" }), /already used/);
});

test("a stop order waits, then order.triggered marks it and its fill completes it", () => {
  const t = new OrderTracker();
  const stop = { ...FIELDS, order_type: "stop", price: undefined, tif: "ioc", stop_price: "105.00" };
  const msg = t.newOrder(stop);
  t.handle(ack({ req_id: msg.req_id, order_type: "stop", price: null, tif: "ioc", stop_price: "105.00", triggered: false, exec_seq: 1 }));
  assert.equal(t.orders.get("k1").triggered, false);
  assert.equal(t.orders.get("k1").stop_price, "105.00");
  t.handle({ type: "order.triggered", order_id: "o1", client_order_id: "k1", symbol: "TW", side: "buy", stop_price: "105.00", trigger_price: "105.50", ts: 2, exec_seq: 2 });
  assert.equal(t.orders.get("k1").triggered, true);
  assert.equal(t.orders.get("k1").trigger_price, "105.50");
  t.handle({ type: "order.fill", order_id: "o1", client_order_id: "k1", trade_id: 9, symbol: "TW", side: "buy", price: "105.50", qty: "2.000", leaves_qty: "0.000", liquidity: "taker", fee: "0", ts: 3, exec_seq: 3 });
  assert.equal(t.orders.get("k1").status, "filled");
});

test("live fills are those after the first resume; history and duplicates are not", () => {
  const t = new OrderTracker();
  const fill = (seq) => ({ type: "order.fill", order_id: "o1", client_order_id: "k0", trade_id: seq, symbol: "TW", side: "buy", price: "1.00", qty: "1.000", leaves_qty: "1.000", liquidity: "maker", fee: "0", ts: seq, exec_seq: seq });
  t.handle(fill(1)); // the first resume's history: seen before this page connected
  t.handle({ type: "executions.resumed", req_id: "r", latest_exec_seq: 1 });
  assert.deepEqual(t.takeLiveFills(), []);
  t.handle(fill(2));
  t.handle(fill(2)); // a duplicate is dropped by exec_seq
  t.handle(fill(3));
  assert.deepEqual(t.takeLiveFills().map((f) => f.exec_seq), [2, 3]);
  assert.deepEqual(t.takeLiveFills(), []);
});
