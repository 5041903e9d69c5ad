// WebRTC transport (js/rtc.js) over a fake RTCPeerConnection and fetch at the network edge:
// signalling, the two channels' roles, latest-value tickers, the resume point, the bounded
// fallback to WebSocket with its reason, and closing.
import assert from "node:assert/strict";
import { test } from "node:test";
import { LatestTicker, RtcTransport } from "../js/rtc.js";
import { MarketFeed } from "../js/transports.js";

function makeEnv({ offerStatus = 200, answerDelayMs = 0 } = {}) {
  const env = { pcs: [], posts: [], sockets: [], location: { protocol: "http:", host: "h:1" }, performance };
  class FakeChannel {
    constructor(label, options) {
      this.label = label;
      this.options = options;
      this.sent = [];
      this.readyState = "connecting";
    }
    send(text) {
      this.sent.push(JSON.parse(text));
    }
    close() {
      this.readyState = "closed";
    }
    open() {
      this.readyState = "open";
      this.onopen?.();
    }
    receive(msg) {
      this.onmessage({ data: JSON.stringify(msg) });
    }
  }
  env.RTCPeerConnection = class {
    constructor(config) {
      this.config = config;
      this.channels = {};
      this.listeners = {};
      this.iceGatheringState = "new";
      this.iceConnectionState = "new";
      this.connectionState = "new";
      this.closed = false;
      env.pcs.push(this);
    }
    createDataChannel(label, options) {
      return (this.channels[label] = new FakeChannel(label, options));
    }
    async createOffer() {
      return { type: "offer", sdp: "v=0 offer" };
    }
    async setLocalDescription(desc) {
      this.localDescription = desc;
      this.iceGatheringState = "gathering";
      setTimeout(() => {
        this.iceGatheringState = "complete";
        this.listeners.icegatheringstatechange?.();
      }, 2);
    }
    async setRemoteDescription(desc) {
      this.remoteDescription = desc;
      this.iceConnectionState = "checking";
      this.connectionState = "connecting";
    }
    addEventListener(name, fn) {
      this.listeners[name] = fn;
    }
    removeEventListener(name) {
      delete this.listeners[name];
    }
    close() {
      this.closed = true;
    }
  };
  env.fetch = async (url, options) => {
    env.posts.push({ url, options, body: JSON.parse(options.body) });
    if (answerDelayMs) await new Promise((resolve) => setTimeout(resolve, answerDelayMs));
    if (offerStatus !== 200) {
      return { ok: false, status: offerStatus, json: async () => ({ code: "TOO_MANY_PEERS", message: "200 WebRTC peers open: try later" }) };
    }
    return { ok: true, status: 200, json: async () => ({ type: "answer", sdp: "v=0 answer" }) };
  };
  env.WebSocket = class {
    constructor(url) {
      this.url = url;
      this.sent = [];
      env.sockets.push(this);
    }
    send(text) {
      this.sent.push(JSON.parse(text));
    }
    close() {}
  };
  env.EventSource = class {};
  return env;
}

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// Wait for a condition (a loaded machine runs timers late), failing after a generous bound.
async function until(cond, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not reached");
    await wait(5);
  }
}

test("forced WebRTC: offer after gathering, ticker unordered, book reliable with resume; ids from the book only", async () => {
  const env = makeEnv();
  const events = [];
  const feed = new MarketFeed({ env, symbols: ["BTC-USD"], forced: "rtc", onEvent: (e, d, id) => events.push([e, id]) });
  feed.start();
  const pc = env.pcs[0];
  assert.deepEqual(pc.config, { iceServers: [] });
  assert.deepEqual(pc.channels.ticker.options, { ordered: false, maxRetransmits: 0 });
  assert.equal(pc.channels.book.options, undefined, "the book channel is ordered and reliable (the defaults)");
  await until(() => env.posts.length === 1 && pc.remoteDescription);
  assert.equal(env.posts[0].url, "/rtc/offer?symbols=BTC-USD");
  assert.equal(env.posts[0].options.method, "POST");
  assert.deepEqual(env.posts[0].body, { sdp: "v=0 offer", type: "offer" });
  assert.deepEqual(pc.remoteDescription, { type: "answer", sdp: "v=0 answer" });

  const { ticker, book } = pc.channels;
  ticker.open();
  book.open();
  assert.deepEqual(book.sent[0], { op: "subscribe", req_id: 1, channels: ["book", "trades", "candles", "status"], symbols: ["BTC-USD"] });
  assert.equal(feed.current, null, "not live before the subscription is confirmed");
  book.receive({ type: "subscribed", req_id: 1 });
  assert.equal(feed.current, "rtc");
  book.receive({ type: "md.snapshot", id: "e-10", data: { symbol: "BTC-USD", seq: 5 } });
  // An unordered ticker with a later id arrives before the book catches up: not the resume point.
  ticker.receive({ type: "md.ticker", id: "e-12", data: { symbol: "BTC-USD", ts: 2000 } });
  assert.equal(feed.lastId, "e-10");
  // An older ticker arriving late is stale: dropped.
  ticker.receive({ type: "md.ticker", id: "e-11", data: { symbol: "BTC-USD", ts: 1000 } });
  book.receive({ type: "md.book", id: "e-13", data: { symbol: "BTC-USD", ts: 3000 } });
  assert.deepEqual(events, [["snapshot", "e-10"], ["ticker", "e-12"], ["book", "e-13"]]);
  assert.equal(feed.lastId, "e-13");
  assert.deepEqual(feed.transport.received, { ticker: { ticker: 2 }, book: { snapshot: 1, book: 1 } });
  assert.ok(feed.stats.rtc.bytes > 0);

  // The book channel closes: the feed reconnects WebRTC (it worked) and resumes after e-13.
  book.onclose();
  assert.equal(pc.closed, true);
  assert.equal(feed.stats.rtc.lastError, "the book channel closed");
  await until(() => env.pcs[1]?.remoteDescription);
  const again = env.pcs[1];
  again.channels.book.open();
  assert.equal(again.channels.book.sent[0].after, "e-13");
  feed.stop();
  assert.equal(again.closed, true);
  assert.equal(again.channels.ticker.readyState, "closed");
});

test("a refused offer falls back to WebSocket at once, with the server's reason", async () => {
  const env = makeEnv({ offerStatus: 503 });
  const feed = new MarketFeed({ env, forced: "rtc", onEvent: () => {} });
  feed.start();
  await until(() => env.sockets.length > 0);
  assert.equal(env.posts[0].url, "/rtc/offer");
  assert.equal(env.pcs[0].closed, true);
  assert.equal(feed.stats.rtc.state, "failed");
  assert.equal(feed.stats.rtc.lastError, "offer refused: HTTP 503 TOO_MANY_PEERS: 200 WebRTC peers open: try later");
  assert.equal(env.sockets.length, 1, "WebSocket opened");
  env.sockets[0].onopen();
  env.sockets[0].onmessage({ data: JSON.stringify({ type: "subscribed", req_id: 1 }) });
  assert.equal(feed.current, "ws");
  assert.equal(feed.snapshot().forced, "rtc");
  feed.stop();
});

test("no ICE path: after the bound the transport gives up, says which states it reached, and WS takes over", async () => {
  const env = makeEnv();
  const feed = new MarketFeed({ env, forced: "rtc", onEvent: () => {} });
  feed.rtcConnectTimeoutMs = 400;
  const started = performance.now();
  feed.start();
  await until(() => env.pcs[0].remoteDescription);
  assert.equal(env.sockets.length, 0, "answer applied; ICE checks never succeed; no fallback yet");
  await until(() => env.sockets.length > 0);
  assert.ok(performance.now() - started >= 400, "gave WebRTC its whole bound");
  assert.equal(env.pcs[0].closed, true);
  assert.equal(feed.stats.rtc.lastError, "not connected within 0.4 s (ICE checking, connection connecting)");
  assert.equal(env.sockets.length, 1);
  feed.stop();
});

test("closing while the offer is in flight aborts it and leaves nothing open", async () => {
  const env = makeEnv({ answerDelayMs: 50 });
  let failed = 0;
  const feedLike = {
    env,
    symbols: [],
    channels: ["ticker"],
    stats: { rtc: { bytes: 0, lastError: "" } },
    deliver() {},
    transportLive() {},
    transportFailed: () => (failed += 1),
  };
  const transport = new RtcTransport(feedLike, null);
  await until(() => env.posts.length === 1);
  transport.close();
  await wait(300); // the answer comes back after 50 ms, to a closed transport
  assert.equal(env.pcs[0].closed, true);
  assert.equal(env.pcs[0].remoteDescription, undefined, "the late answer is not applied");
  assert.equal(failed, 0, "a deliberate close is not a failure");
  assert.equal(env.posts[0].options.signal.aborted, true);
});

test("only tickers wanted: live when the ticker channel opens, nothing sent on the book channel", async () => {
  const env = makeEnv();
  let live = 0;
  const feedLike = { env, symbols: [], channels: ["ticker"], stats: { rtc: { bytes: 0 } }, deliver() {}, transportLive: () => (live += 1), transportFailed() {} };
  const transport = new RtcTransport(feedLike, null);
  await wait(20);
  env.pcs[0].channels.book.open();
  assert.deepEqual(env.pcs[0].channels.book.sent, []);
  env.pcs[0].channels.ticker.open();
  assert.equal(live, 1);
  transport.close();
});

test("latest-value filter: per symbol, older ts dropped, equal or newer kept", () => {
  const latest = new LatestTicker();
  assert.equal(latest.accept("A", 10), true);
  assert.equal(latest.accept("B", 5), true);
  assert.equal(latest.accept("A", 9), false);
  assert.equal(latest.accept("A", 10), true);
  assert.equal(latest.accept("A", 11), true);
  assert.equal(latest.accept("A", undefined), true);
  assert.equal(latest.dropped, 1);
});

test("an error ending the live book subscription resubscribes after the last book id; a second one before any event fails over", async () => {
  const env = makeEnv();
  const events = [];
  const feed = new MarketFeed({ env, symbols: ["BTC-USD"], forced: "rtc", onEvent: (e, d, id) => events.push([e, id]) });
  feed.start();
  try {
    await resubscribeScenario(env, feed, events);
  } finally {
    feed.stop(); // also when an assertion failed: no timer may keep the runner alive
  }
});

async function resubscribeScenario(env, feed, events) {
  const pc = env.pcs[0];
  await until(() => pc.remoteDescription);
  const { ticker, book } = pc.channels;
  ticker.open();
  book.open();
  book.receive({ type: "subscribed", req_id: 1 });
  book.receive({ type: "md.snapshot", id: "e-10", data: { symbol: "BTC-USD", seq: 5 } });
  ticker.receive({ type: "md.ticker", id: "e-12", data: { symbol: "BTC-USD", ts: 2000 } });
  book.receive({ type: "md.book", id: "e-11", data: { symbol: "BTC-USD", ts: 1000 } });
  assert.equal(feed.current, "rtc");

  // The server dropped the subscription (slow consumer): same channel, resumed after e-11.
  book.receive({ type: "error", code: "SLOW_CONSUMER", message: "fell behind" });
  assert.equal(pc.closed, false, "the connection is kept");
  assert.equal(book.sent.length, 2);
  assert.deepEqual(book.sent[1], { op: "subscribe", req_id: 2, channels: ["book", "trades", "candles", "status"], symbols: ["BTC-USD"], after: "e-11" });
  assert.equal(feed.stats.rtc.lastError, "SLOW_CONSUMER: fell behind");
  book.receive({ type: "subscribed", req_id: 2, after: "e-11" });
  book.receive({ type: "md.book", id: "e-14", data: { symbol: "BTC-USD", ts: 3000 } });
  assert.deepEqual(events.at(-1), ["book", "e-14"]);
  assert.equal(feed.stats.rtc.resumes, 1, "the first event after the resubscribe counts as a resume");
  assert.equal(feed.current, "rtc");

  // An event arrived since: the next error resubscribes again, after e-14.
  book.receive({ type: "error", code: "MESSAGE_TOO_LARGE", message: "300000 bytes", id: "e-15" });
  assert.equal(book.sent[2].after, "e-14");
  // The same again before any event: resuming does not help; the transport fails and the feed
  // reconnects WebRTC (it worked), resuming after e-14.
  book.receive({ type: "error", code: "MESSAGE_TOO_LARGE", message: "300000 bytes", id: "e-15" });
  assert.equal(pc.closed, true);
  assert.equal(feed.stats.rtc.lastError, "MESSAGE_TOO_LARGE: 300000 bytes");
  await until(() => env.pcs[1]?.remoteDescription);
  env.pcs[1].channels.book.open();
  assert.equal(env.pcs[1].channels.book.sent[0].after, "e-14");
}

test("a refused resubscribe fails the transport instead of leaving the book channel silent", async () => {
  const env = makeEnv();
  let failed = null;
  const feedLike = { env, symbols: [], channels: ["book"], stats: { rtc: { bytes: 0 } }, deliver() {}, transportLive() {}, transportFailed: (t, reason) => (failed = reason) };
  const transport = new RtcTransport(feedLike, "e-3");
  try {
    await refusedScenario(env, transport, () => failed);
  } finally {
    transport.close();
  }
});

async function refusedScenario(env, transport, failed) {
  await until(() => env.pcs[0].remoteDescription);
  const { book } = env.pcs[0].channels;
  book.open();
  assert.equal(book.sent[0].after, "e-3");
  book.receive({ type: "subscribed", req_id: 1 });
  book.receive({ type: "error", code: "SUBSCRIPTION_ENDED", message: "market data restarted" });
  assert.equal(book.sent[1].after, "e-3", "nothing delivered yet: resume where the transport started");
  book.receive({ type: "error", code: "BAD_REQUEST", message: "no", req_id: 99 });
  assert.equal(failed(), null, "a reply to another request is not about the subscription");
  book.receive({ type: "error", code: "BAD_REQUEST", message: "bad after", req_id: 2 });
  assert.equal(failed(), "BAD_REQUEST: bad after");
  assert.equal(transport.closed, true);
}
