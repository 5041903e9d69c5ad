import assert from "node:assert/strict";
import { test } from "node:test";
import { TransportStats, percentile } from "../js/stats.js";

test("nearest-rank percentiles", () => {
  const values = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(values, 50), 50);
  assert.equal(percentile(values, 99), 99);
  assert.equal(percentile(values, 100), 100);
  assert.equal(percentile([7], 99), 7);
  assert.equal(percentile([], 50), null);
});

test("stats keep counters and a bounded latency window", () => {
  const stats = new TransportStats("sse");
  stats.received(100);
  stats.received(50);
  for (let i = 0; i < 3000; i += 1) stats.addLatency(i < 900 ? 1000 : 5);
  const { p50, p99, n } = stats.latency();
  assert.equal(n, 3000);
  assert.equal(p50, 5, "only the last 2048 samples count");
  assert.equal(p99, 5);
  const json = stats.toJSON();
  assert.equal(json.messages, 2);
  assert.equal(json.bytes, 150);
  assert.equal(json.eventToRender, undefined);
  assert.deepEqual(json.renderDelay, { p50: null, p99: null, n: 0 });
  stats.addRenderDelay(3);
  assert.equal(stats.renderDelay().p99, 3);
  stats.resetLatency();
  assert.equal(stats.latency().n, 0);
  assert.equal(stats.renderDelay().n, 0);
});
