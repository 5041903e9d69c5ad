// Race bookkeeping (js/race.js): first arrival by id, contested events only, win shares,
// latency/rate/bytes per lane; and the frame byte counts (js/stats.js) on known frames.
import assert from "node:assert/strict";
import { test } from "node:test";
import { RaceBoard } from "../js/race.js";
import { httpResponseBytes, sseFrameBytes, wsFrameBytes } from "../js/stats.js";

const T0 = 1_700_000_000_000; // epoch ms of the page's time origin in these tests

function liveBoard(lanes = ["ws", "sse", "poll"]) {
  const board = new RaceBoard({ lanes });
  for (const name of lanes) {
    board.opened(name, 0);
    board.live(name, 10);
  }
  return board;
}

// An event published at `pubAt` (page ms) arriving on `lane` at `at`.
function arrive(board, lane, id, pubAt, at, event = "book") {
  return board.arrival(lane, id, event, (T0 + pubAt) * 1e6, T0 + at, at);
}

test("the first arrival of an id wins; later arrivals of it only record the lead", () => {
  const board = liveBoard();
  assert.equal(arrive(board, "sse", "e-1", 100, 101), "sse");
  assert.equal(arrive(board, "ws", "e-1", 100, 103), null);
  assert.equal(arrive(board, "poll", "e-1", 100, 140), null);
  assert.equal(arrive(board, "ws", "e-2", 200, 201), "ws");
  assert.equal(arrive(board, "sse", "e-2", 200, 202), null);
  const s = board.summary(300);
  assert.equal(s.contested, 2);
  assert.equal(s.lanes.sse.wins, 1);
  assert.equal(s.lanes.ws.wins, 1);
  assert.equal(s.lanes.poll.wins, 0);
  assert.equal(s.lanes.sse.share, 50);
  assert.equal(s.lanes.poll.share, 0);
  // The lead is measured against the runner-up, not the last.
  assert.equal(s.lanes.sse.lead.p50, 2);
  assert.equal(s.lanes.ws.lead.p50, 1);
  assert.equal(s.lanes.ws.messages, 2);
  assert.equal(s.lanes.poll.messages, 1);
});

test("shares sum to 100 over many events", () => {
  const board = liveBoard();
  const lanes = ["ws", "sse", "poll"];
  for (let i = 0; i < 97; i += 1) {
    const order = [lanes[i % 3], lanes[(i + 1) % 3], lanes[(i + 2) % 3]];
    order.forEach((lane, k) => arrive(board, lane, `e-${i}`, i * 10, i * 10 + k + 1));
  }
  const s = board.summary(1000);
  assert.equal(s.contested, 97);
  const total = lanes.reduce((sum, lane) => sum + s.lanes[lane].share, 0);
  assert.ok(Math.abs(total - 100) < 1e-9, `shares sum to ${total}`);
  assert.deepEqual(lanes.map((lane) => s.lanes[lane].wins), [33, 32, 32]);
});

test("events seen before every lane is live, and snapshots, are not contested", () => {
  const board = new RaceBoard({ lanes: ["ws", "sse"] });
  board.opened("ws", 0);
  board.opened("sse", 0);
  board.live("ws", 5);
  // Only ws is live: it cannot win against a lane that is still connecting.
  assert.equal(arrive(board, "ws", "e-1", 6, 7), null);
  board.live("sse", 8);
  assert.equal(arrive(board, "sse", "e-1", 6, 9), null);
  // A snapshot (no ts) is counted as a message but never raced.
  assert.equal(board.arrival("sse", "e-1", "snapshot", undefined, T0 + 9, 9), null);
  assert.equal(arrive(board, "sse", "e-2", 10, 11), "sse");
  const s = board.summary(20);
  assert.equal(s.contested, 1);
  assert.equal(s.lanes.ws.wins, 0);
  assert.equal(s.lanes.sse.share, 100);
  assert.equal(s.lanes.ws.share, 0);
  assert.equal(s.lanes.sse.messages, 3);
  assert.equal(s.lanes.sse.firstEventMs, 9);
  assert.equal(s.lanes.ws.firstEventMs, 7);
});

test("a lane that left the race does not hold it up; one reconnecting does", () => {
  const board = liveBoard(["ws", "sse"]);
  board.failed("sse", "closed (1006)");
  assert.equal(board.summary(0).lanes.sse.state, "reconnecting");
  assert.equal(arrive(board, "ws", "e-1", 1, 2), null, "sse may still come back");
  board.failed("sse", "stream refused", true);
  assert.equal(arrive(board, "ws", "e-2", 3, 4), "ws");
  const s = board.summary(5);
  assert.equal(s.lanes.sse.inRace, false);
  assert.equal(s.lanes.sse.state, "failed");
  assert.equal(s.lanes.sse.lastError, "stream refused");
  assert.equal(s.lanes.sse.share, 0);
  assert.equal(s.lanes.ws.share, 100);
});

test("a lane delivering the same id twice (resume) counts once", () => {
  const board = liveBoard(["ws", "sse"]);
  assert.equal(arrive(board, "ws", "e-1", 0, 1), "ws");
  assert.equal(arrive(board, "ws", "e-1", 0, 5), null);
  assert.equal(arrive(board, "sse", "e-1", 0, 3), null);
  const s = board.summary(10);
  assert.equal(s.contested, 1);
  assert.equal(s.lanes.ws.lead.p50, 2, "the lead is to the other lane's arrival");
});

test("latency is event ts to arrival; rate is over the last 5 s; bytes per event", () => {
  const board = liveBoard(["ws"]);
  for (let i = 0; i < 100; i += 1) arrive(board, "ws", `e-${i}`, i * 100, i * 100 + 1 + (i % 10));
  board.addBytes("ws", 12_345);
  const s = board.summary(9_910);
  assert.equal(s.lanes.ws.latency.n, 100);
  assert.equal(s.lanes.ws.latency.p50, 5);
  assert.equal(s.lanes.ws.latency.p99, 10);
  assert.ok(s.lanes.ws.latency.p50 <= s.lanes.ws.latency.p99);
  // 50 arrivals in (4910, 9910] -> 10 per second.
  assert.equal(s.lanes.ws.rate, 10);
  assert.equal(s.lanes.ws.bytesPerEvent, 123.45);
  // A replayed market's simulated clock is not a latency.
  board.arrival("ws", "e-old", "book", (T0 - 3_600_000) * 1e6, T0 + 10_000, 10_000);
  assert.equal(board.summary(10_000).lanes.ws.latency.n, 100);
});

test("memory is bounded: old ids are forgotten", () => {
  const board = new RaceBoard({ lanes: ["ws", "sse"], keep: 10 });
  for (const name of ["ws", "sse"]) board.live(name, 0);
  for (let i = 0; i < 100; i += 1) arrive(board, "ws", `e-${i}`, i, i + 1);
  assert.equal(board.events.size, 10);
  assert.equal(board.summary(200).contested, 100);
});

test("frame byte counts match the frames the server writes", () => {
  const data = '{"symbol":"BTC-USD","bid":"1.00"}';
  const id = "3f2a-1234";
  const sse = `id:${id}\nevent:ticker\ndata:${data}\n\n`;
  assert.equal(sseFrameBytes(id, "ticker", data.length), sse.length);
  assert.equal(wsFrameBytes(125), 127);
  assert.equal(wsFrameBytes(126), 130);
  assert.equal(wsFrameBytes(70000), 70010);
  const headers = [
    ["content-length", "20"],
    ["content-type", "application/json"],
  ];
  const raw = "HTTP/1.1 200 OK\r\ncontent-length: 20\r\ncontent-type: application/json\r\n\r\n" + "x".repeat(20);
  assert.equal(httpResponseBytes(200, "OK", headers, 20), raw.length);
});
