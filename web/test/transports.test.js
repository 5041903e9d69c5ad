// MarketFeed over transport doubles (fake WebSocket / EventSource / fetch at the network edge):
// fallback on failure, resume id carried across transports, resume vs reset counting.
import assert from "node:assert/strict";
import { test } from "node:test";
import { mockTimeouts } from "./mock_timers.js";
import { MarketFeed } from "../js/transports.js";

function makeEnv({ pollResponses = [] } = {}) {
  const env = { sockets: [], sources: [], polls: [], location: { protocol: "http:", host: "h:1" }, performance };
  env.WebSocket = class {
    constructor(url) {
      this.url = url;
      this.sent = [];
      this.readyState = 0;
      env.sockets.push(this);
    }
    send(text) {
      this.sent.push(JSON.parse(text));
    }
    close() {
      this.readyState = 3;
    }
  };
  env.EventSource = class {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.listeners = {};
      env.sources.push(this);
    }
    addEventListener(name, fn) {
      this.listeners[name] = fn;
    }
    emit(name, id, data) {
      this.listeners[name]({ data: JSON.stringify(data), lastEventId: id });
    }
    close() {
      this.readyState = 2;
    }
  };
  env.fetch = async (url) => {
    env.polls.push(url);
    const next = pollResponses.shift();
    if (!next) return new Promise(() => {}); // hold the request, like a long poll with nothing new
    return { ok: next.status === 200, status: next.status, text: async () => JSON.stringify(next.body) };
  };
  return env;
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

test("WS first; when refused, SSE resumes from the last id the WS delivered", async (t) => {
  const advance = mockTimeouts(t); // the reconnect backoff is ticked, not slept
  const env = makeEnv();
  const events = [];
  const feed = new MarketFeed({ env, onEvent: (e, d, id) => events.push([e, id]) });
  feed.start();
  const ws = env.sockets[0];
  assert.equal(ws.url, "ws://h:1/ws/md?compress=0");
  ws.onopen();
  assert.deepEqual(ws.sent[0], { op: "subscribe", req_id: 1, channels: ["book", "trades", "ticker", "candles", "status"] });
  ws.onmessage({ data: JSON.stringify({ type: "subscribed", req_id: 1 }) });
  assert.equal(feed.current, "ws");
  ws.onmessage({ data: JSON.stringify({ type: "md.trade", id: "e-7", data: { symbol: "A", trade_id: 1, ts: 1 } }) });
  assert.deepEqual(events, [["trade", "e-7"]]);
  // The socket dies; WS worked before, so it reconnects with `after` first.
  ws.onclose({ code: 1006, reason: "" });
  await advance(400);
  const again = env.sockets[1];
  again.onopen();
  assert.equal(again.sent[0].after, "e-7");
  // ...but that attempt fails, and the next, and the next: then SSE takes over.
  again.onclose({ code: 1006, reason: "" });
  for (let i = 0; i < 3 && env.sources.length === 0; i += 1) {
    await advance(6000 / 3);
    env.sockets.at(-1).onclose({ code: 1006, reason: "" });
  }
  await advance(5);
  assert.equal(env.sources.length, 1, "fell back to SSE");
  const sse = env.sources[0];
  assert.match(sse.url, /^\/md\/stream\?channels=book%2Ctrades%2Cticker%2Ccandles%2Cstatus&last_event_id=e-7$/);
  sse.onopen();
  assert.equal(feed.current, "sse");
  sse.emit("ticker", "e-8", { symbol: "A", last: "1", ts: 2 });
  assert.equal(feed.stats.sse.resumes, 1);
  assert.equal(feed.stats.ws.reconnects >= 1, true);
  feed.stop();
});

test("a transport that never worked falls back at once; poll resets are counted", async () => {
  const env = makeEnv({
    pollResponses: [
      { status: 200, body: { events: [{ id: "x-1", event: "reset", data: { reason: "epoch" } }, { id: "x-1", event: "snapshot", data: { symbol: "A", seq: 1, bids: [], asks: [] } }], cursor: "x-1" } },
    ],
  });
  const events = [];
  const feed = new MarketFeed({ env, onEvent: (e) => events.push(e) });
  feed.lastId = "old-5"; // as if resuming after an earlier session
  feed.start();
  env.sockets[0].onclose({ code: 1006, reason: "" }); // refused before opening
  await tick();
  const sse = env.sources[0];
  assert.match(sse.url, /last_event_id=old-5/);
  sse.readyState = 2; // the server answered 503: EventSource gives up
  sse.onerror();
  await tick();
  assert.equal(env.polls.length >= 1, true);
  assert.match(env.polls[0], /^\/md\/poll\?channels=.*&cursor=old-5&timeout=25$/);
  await tick();
  assert.equal(feed.current, "poll");
  assert.deepEqual(events, ["reset", "snapshot"]);
  assert.equal(feed.stats.poll.resets, 1);
  assert.equal(feed.stats.poll.resumes, 0);
  assert.equal(feed.lastId, "x-1");
  assert.match(env.polls[1], /cursor=x-1/);
  const snap = feed.snapshot();
  assert.deepEqual(Object.keys(snap.stats), ["ws", "sse", "poll"]);
  assert.equal(snap.stats.ws.state, "failed");
  feed.stop();
});

test("a forced transport is used alone", async () => {
  const env = makeEnv();
  const feed = new MarketFeed({ env, onEvent: () => {}, forced: "sse" });
  feed.start();
  assert.equal(env.sockets.length, 0);
  assert.equal(env.sources.length, 1);
  env.sources[0].onopen();
  assert.equal(feed.snapshot().forced, "sse");
  feed.force("poll");
  assert.equal(env.sources[0].readyState, 2, "the SSE stream was closed");
  assert.equal(env.polls.length, 1);
  feed.stop();
});

test("after a fallback the feed goes back up to a transport that worked before", async () => {
  const env = makeEnv();
  const feed = new MarketFeed({ env, onEvent: () => {}, upgradeAfterMs: 60, policyOptions: { maxRetries: 0 } });
  feed.start();
  const ws = env.sockets[0];
  ws.onopen();
  ws.onmessage({ data: JSON.stringify({ type: "subscribed", req_id: 1 }) });
  ws.onmessage({ data: JSON.stringify({ type: "md.trade", id: "e-3", data: { symbol: "A", trade_id: 1, ts: 1 } }) });
  ws.onclose({ code: 1012, reason: "restart" }); // with no retries allowed: straight to SSE
  await tick();
  const sse = env.sources[0];
  sse.onopen();
  sse.emit("trade", "e-4", { symbol: "A", trade_id: 2, ts: 2 });
  assert.equal(feed.current, "sse");
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(sse.readyState, 2, "SSE closed for the upgrade");
  const back = env.sockets[1];
  assert.ok(back, "a new WebSocket was opened");
  back.onopen();
  assert.equal(back.sent[0].after, "e-4", "resumes after the last event SSE delivered");
  back.onmessage({ data: JSON.stringify({ type: "subscribed", req_id: 1 }) });
  assert.equal(feed.current, "ws");
  assert.equal(feed.snapshot().upgrades, 1);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(env.sockets.length, 2, "no upgrade while on the best transport");
  feed.stop();
});

test("a transport that was refused is not retried by the upgrade", async () => {
  const env = makeEnv();
  const feed = new MarketFeed({ env, onEvent: () => {}, upgradeAfterMs: 30 });
  feed.start();
  env.sockets[0].onclose({ code: 1006, reason: "" });
  await tick();
  env.sources[0].onopen();
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(env.sockets.length, 1);
  assert.equal(feed.current, "sse");
  feed.stop();
});

test("a page opened while the server was down goes back up to WebSocket once it is up", async () => {
  const env = makeEnv({ pollResponses: [{ status: 503, body: {} }] });
  const feed = new MarketFeed({ env, onEvent: () => {}, upgradeAfterMs: 40 });
  feed.start();
  env.sockets[0].onclose({ code: 1006, reason: "" }); // nothing listening
  await tick();
  env.sources[0].readyState = 2; // EventSource gave up: nothing listening
  env.sources[0].onerror({});
  await tick();
  assert.ok(feed.snapshot().downForMs > 0, "the feed says it is down");
  // the first poll fails (server still down), the retry gets an answer: the server is back
  await new Promise((resolve) => setTimeout(resolve, 700));
  assert.equal(feed.current, null);
  assert.ok(env.polls.length >= 2, "long polling retried");
  feed.transportLive(feed.transport);
  assert.equal(feed.current, "poll");
  assert.equal(feed.snapshot().downForMs, 0);
  assert.equal(feed.snapshot().nextUpgrade.mode, "ws", "WebSocket was never refused: it is tried again");
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(env.sockets.length, 2, "a new WebSocket was opened");
  feed.stop();
});

test("failed upgrade tries back off: each wait is longer than the one before", async () => {
  const env = makeEnv();
  const feed = new MarketFeed({ env, onEvent: () => {}, upgradeAfterMs: 20, upgradeCapMs: 1000, policyOptions: { maxRetries: 0 } });
  feed.start();
  env.sockets[0].onopen();
  env.sockets[0].onmessage({ data: JSON.stringify({ type: "subscribed", req_id: 1 }) });
  env.sockets[0].onclose({ code: 1012, reason: "restart" }); // the WebSocket drops: SSE takes over
  await tick();
  const waits = [];
  for (let i = 0; i < 3; i += 1) {
    env.sources.at(-1).onopen();
    assert.equal(feed.current, "sse");
    waits.push(feed.snapshot().nextUpgrade.inMs);
    await new Promise((resolve) => setTimeout(resolve, waits.at(-1) + 30));
    assert.equal(env.sockets.length, i + 2, "the WebSocket was tried again");
    env.sockets.at(-1).onclose({ code: 1006, reason: "" }); // still broken: back to SSE
    await tick();
  }
  assert.ok(waits[1] > waits[0] && waits[2] > waits[1], `waits grow: ${waits}`);
  feed.stop();
});
