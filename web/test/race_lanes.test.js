// The race runner (js/race_lanes.js) over transport doubles at the network edge: one stream
// per transport, bytes and wins on one board, retries, and stop() closes everything.
import assert from "node:assert/strict";
import { test } from "node:test";
import { mockTimeouts } from "./mock_timers.js";
import { Race } from "../js/race_lanes.js";
import { TRANSPORT_CLASSES } from "../js/transports.js";

function makeEnv() {
  const env = { sockets: [], sources: [], polls: [], location: { protocol: "http:", host: "h:1" }, performance };
  env.WebSocket = class {
    constructor(url) {
      this.url = url;
      this.sent = [];
      this.closed = false;
      this.extensions = "permessage-deflate";
      env.sockets.push(this);
    }
    send(text) {
      this.sent.push(JSON.parse(text));
    }
    close() {
      this.closed = true;
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
  env.fetch = (url, { signal }) => {
    const poll = { url, aborted: false };
    env.polls.push(poll);
    return new Promise((resolve, reject) => {
      poll.answer = (body) =>
        resolve({ ok: true, status: 200, statusText: "OK", headers: [["content-type", "application/json"]], text: async () => JSON.stringify(body) });
      poll.fail = (status) => resolve({ ok: false, status, statusText: "Service Unavailable", headers: [], text: async () => "" });
      signal.addEventListener("abort", () => {
        poll.aborted = true;
        reject(new Error("aborted"));
      });
    });
  };
  return env;
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
const nowTs = () => (performance.timeOrigin + performance.now()) * 1e6;

test("a race opens one stream per transport, scores them on one board, and stop() closes all", async () => {
  const env = makeEnv();
  let changes = 0;
  const race = new Race({ env, symbols: ["BTC-USD"], channels: ["book", "ticker"], classes: TRANSPORT_CLASSES, onChange: () => (changes += 1) });
  assert.deepEqual(race.names, ["ws", "sse", "poll"]);
  race.start();
  assert.equal(env.sockets.length, 1);
  assert.equal(env.sources.length, 1);
  assert.equal(env.polls.length, 1);
  assert.match(env.sources[0].url, /symbols=BTC-USD&channels=book%2Cticker/);
  assert.match(env.polls[0].url, /^\/md\/poll\?symbols=BTC-USD&channels=book%2Cticker&timeout=25$/);

  const ws = env.sockets[0];
  ws.onopen();
  assert.deepEqual(ws.sent[0], { op: "subscribe", req_id: 1, channels: ["book", "ticker"], symbols: ["BTC-USD"] });
  ws.onmessage({ data: JSON.stringify({ type: "subscribed", req_id: 1 }) });
  env.sources[0].onopen();
  env.polls[0].answer({ events: [{ id: "e-1", event: "snapshot", data: { symbol: "BTC-USD", seq: 1 } }], cursor: "e-1" });
  await tick();
  assert.equal(env.polls.length, 2, "the poll lane asks again after its answer");
  assert.match(env.polls[1].url, /cursor=e-1/);
  assert.ok(changes > 0);

  // Event e-2 reaches SSE first, then WS, then the poll lane.
  const ticker = { symbol: "BTC-USD", bid: "1.00", ts: nowTs() };
  env.sources[0].emit("ticker", "e-2", ticker);
  const frame = JSON.stringify({ type: "md.ticker", id: "e-2", data: ticker });
  ws.onmessage({ data: frame });
  env.polls[1].answer({ events: [{ id: "e-2", event: "ticker", data: ticker }], cursor: "e-2" });
  await tick();

  const snap = race.snapshot();
  assert.equal(snap.running, true);
  assert.equal(snap.contested, 1);
  assert.equal(snap.lanes.sse.share, 100);
  assert.equal(snap.lanes.ws.wins, 0);
  assert.equal(snap.lanes.ws.messages, 1);
  assert.equal(snap.lanes.poll.messages, 2);
  assert.equal(snap.lanes.ws.bytes, frame.length + 2 + JSON.stringify({ type: "subscribed", req_id: 1 }).length + 2);
  assert.equal(snap.lanes.sse.bytes, `id:e-2\nevent:ticker\ndata:${JSON.stringify(ticker)}\n\n`.length);
  assert.ok(snap.lanes.poll.bytes > 0);
  assert.equal(snap.extensions, "permessage-deflate");
  for (const lane of Object.values(snap.lanes)) {
    assert.equal(lane.state, "live");
    assert.ok(lane.latency.p50 <= lane.latency.p99);
  }

  race.stop();
  assert.equal(ws.closed, true);
  assert.equal(env.sources[0].readyState, 2);
  assert.equal(env.polls[2].aborted, true, "the pending long poll is aborted");
  await tick();
  assert.equal(env.polls.length, 3, "no request after stop");
  const after = race.snapshot();
  assert.equal(after.running, false);
  for (const lane of Object.values(after.lanes)) assert.equal(lane.state, "closed");
});

test("a lane that drops reopens and resumes after its own last id; three refusals take it out", async (t) => {
  const advance = mockTimeouts(t); // the retry backoff is ticked, not slept
  const env = makeEnv();
  const race = new Race({ env, channels: ["ticker"], lanes: ["ws", "poll"], classes: TRANSPORT_CLASSES });
  race.start();
  const ws = env.sockets[0];
  ws.onopen();
  ws.onmessage({ data: JSON.stringify({ type: "subscribed", req_id: 1 }) });
  ws.onmessage({ data: JSON.stringify({ type: "md.ticker", id: "e-9", data: { ts: nowTs() } }) });
  ws.onclose({ code: 1006, reason: "" });
  assert.equal(race.snapshot().lanes.ws.state, "reconnecting");
  await advance(450);
  assert.equal(env.sockets.length, 2);
  env.sockets[1].onopen();
  assert.equal(env.sockets[1].sent[0].after, "e-9");

  // The poll lane is refused three times in a row: it leaves the race with the reason.
  for (let i = 0; i < 3; i += 1) {
    env.polls.at(-1).fail(503);
    await advance(1600);
  }
  const snap = race.snapshot();
  assert.equal(snap.lanes.poll.state, "failed");
  assert.equal(snap.lanes.poll.inRace, false);
  assert.equal(snap.lanes.poll.lastError, "HTTP 503");
  assert.equal(env.polls.length, 3);
  race.stop();
});

test("transports the browser lacks are left out of the race", () => {
  const env = makeEnv();
  delete env.EventSource;
  const race = new Race({ env, classes: TRANSPORT_CLASSES });
  assert.deepEqual(race.names, ["ws", "poll"]);
});
