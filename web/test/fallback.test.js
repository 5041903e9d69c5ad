import assert from "node:assert/strict";
import { test } from "node:test";
import { FallbackPolicy, backoffDelay, detectSupport } from "../js/fallback.js";

const noJitter = () => 0.5; // jitter factor 1.0

test("backoff doubles and is capped", () => {
  const delays = [1, 2, 3, 4, 5, 6, 7, 10].map((n) => backoffDelay(n, {}, noJitter));
  assert.deepEqual(delays, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
  assert.equal(backoffDelay(1, {}, () => 0), 200);
  assert.equal(backoffDelay(1, {}, () => 1), 300);
});

test("WS first; a transport that never connected falls back at once: WS -> SSE -> poll", () => {
  const policy = new FallbackPolicy({ random: noJitter });
  assert.equal(policy.first(), "ws");
  assert.deepEqual(policy.failure("ws", false), { mode: "sse", delayMs: 0 });
  assert.deepEqual(policy.failure("sse", false), { mode: "poll", delayMs: 0 });
  // the last transport retries itself with backoff
  assert.deepEqual(policy.failure("poll", false), { mode: "poll", delayMs: 250 });
  assert.deepEqual(policy.failure("poll", false), { mode: "poll", delayMs: 500 });
});

test("a transport that worked reconnects before falling back, and success resets", () => {
  const policy = new FallbackPolicy({ random: noJitter, maxRetries: 2 });
  assert.deepEqual(policy.failure("ws", true), { mode: "ws", delayMs: 250 });
  policy.success("ws");
  assert.deepEqual(policy.failure("ws", true), { mode: "ws", delayMs: 250 });
  assert.deepEqual(policy.failure("ws", true), { mode: "ws", delayMs: 500 });
  assert.deepEqual(policy.failure("ws", true), { mode: "sse", delayMs: 0 });
});

test("feature detection skips what the browser lacks", () => {
  const supported = detectSupport({ EventSource: function EventSource() {}, fetch() {} });
  assert.deepEqual(supported, { ws: false, sse: true, poll: true, rtc: false });
  assert.equal(detectSupport({ RTCPeerConnection: function RTCPeerConnection() {} }).rtc, true);
  const policy = new FallbackPolicy({ supported });
  assert.equal(policy.first(), "sse");
  assert.throws(() => new FallbackPolicy({ supported: { ws: false, sse: false, poll: false } }));
});

test("a forced mode never falls back", () => {
  const policy = new FallbackPolicy({ forced: "sse", random: noJitter });
  assert.equal(policy.first(), "sse");
  for (let i = 0; i < 5; i += 1) assert.equal(policy.failure("sse", false).mode, "sse");
  const unsupported = new FallbackPolicy({ forced: "ws", supported: { ws: false, sse: true, poll: true } });
  assert.equal(unsupported.first(), "sse", "forcing an unsupported mode is ignored");
});

test("forcing WebRTC prefers it; when it cannot connect the usual chain takes over", () => {
  const supported = { ws: true, sse: true, poll: true, rtc: true };
  const policy = new FallbackPolicy({ forced: "rtc", supported, random: noJitter });
  assert.equal(policy.first(), "rtc");
  assert.equal(policy.forced, null);
  assert.equal(policy.preferred, "rtc");
  assert.deepEqual(policy.order, ["rtc", "ws", "sse", "poll"]);
  // Never connected (refused, or no ICE path): straight to WebSocket, no delay.
  assert.deepEqual(policy.failure("rtc", false), { mode: "ws", delayMs: 0 });
  // Connected before, then dropped: a few retries of WebRTC first.
  const again = new FallbackPolicy({ forced: "rtc", supported, random: noJitter });
  assert.equal(again.failure("rtc", true).mode, "rtc");
  // Not forced: WebRTC is never in the automatic order.
  assert.deepEqual(new FallbackPolicy({ supported }).order, ["ws", "sse", "poll"]);
  // Forced where the browser has no RTCPeerConnection: the usual order.
  assert.equal(new FallbackPolicy({ forced: "rtc", supported: { ...supported, rtc: false } }).first(), "ws");
});
