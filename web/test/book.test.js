// Book model: snapshot + deltas, seq continuity, checksum (PROTOCOL §4).
// Expected checksums were computed independently with Python's zlib:
//   tok = lambda s: s.replace('.', '', 1).lstrip('0')
//   s = ''.join(tok(p) + tok(q) for p, q in asks[:10]) + ''.join(tok(p) + tok(q) for p, q in bids[:10])
//   zlib.crc32(s.encode())
import assert from "node:assert/strict";
import { test } from "node:test";
import { DeltaResult, L2Book, bookChecksum, checksumString } from "../js/book.js";

const ASKS = [["101.50", "2.000"], ["101.75", "0.500"], ["102.00", "10.000"]];
const BIDS = [["101.25", "1.500"], ["101.00", "0.010"], ["100.00", "3.000"]];
const SMALL_CHECKSUM = 309760930; // zlib.crc32 of the string asserted below

test("checksum of a small book matches zlib", () => {
  assert.equal(checksumString(ASKS, BIDS), "1015020001017550010200100001012515001010010100003000");
  assert.equal(bookChecksum(ASKS, BIDS), SMALL_CHECKSUM);
});

test("checksum uses only the 10 best levels per side", () => {
  const asks = Array.from({ length: 12 }, (_, i) => [`${100 + i}.${String(i).padStart(2, "0")}`, `${i + 1}.000`]);
  const bids = Array.from({ length: 12 }, (_, i) => [`${99 - i}.${String(i).padStart(2, "0")}`, `0.${String(i + 1).padStart(3, "0")}`]);
  assert.equal(bookChecksum(asks, bids), 526981684);
});

function snapshot(seq = 5) {
  return { symbol: "TW", seq, bids: BIDS, asks: ASKS, last_trade_id: 0, checksum: SMALL_CHECKSUM };
}

test("snapshot orders levels best first whatever the input order", () => {
  const book = new L2Book("TW");
  assert.ok(book.applySnapshot({ ...snapshot(), bids: [...BIDS].reverse(), asks: [...ASKS].reverse() }));
  assert.deepEqual(book.levels("bids"), BIDS);
  assert.deepEqual(book.levels("asks"), ASKS);
  assert.deepEqual(book.bestBid(), ["101.25", "1.500"]);
  assert.deepEqual(book.bestAsk(), ["101.50", "2.000"]);
  assert.equal(book.checksum(), SMALL_CHECKSUM);
  assert.equal(book.seq, 5);
});

test("a snapshot with a wrong checksum is reported", () => {
  const book = new L2Book("TW");
  assert.equal(book.applySnapshot({ ...snapshot(), checksum: SMALL_CHECKSUM + 1 }), false);
  assert.equal(book.synced, false);
  assert.equal(book.applyDelta({ first_seq: 6, seq: 6, bids: [], asks: [] }), DeltaResult.GAP);
});

test("deltas insert, change and remove levels (qty 0 removes)", () => {
  const book = new L2Book("TW");
  book.applySnapshot(snapshot());
  const bids = [["101.25", "0.000"], ["101.10", "4.000"]];
  const asks = [["101.75", "0.750"]];
  const expectedAsks = [["101.50", "2.000"], ["101.75", "0.750"], ["102.00", "10.000"]];
  const expectedBids = [["101.10", "4.000"], ["101.00", "0.010"], ["100.00", "3.000"]];
  const checksum = bookChecksum(expectedAsks, expectedBids);
  const result = book.applyDelta({ symbol: "TW", first_seq: 6, seq: 6, bids, asks, checksum, ts: 1 });
  assert.equal(result, DeltaResult.APPLIED);
  assert.deepEqual(book.levels("bids"), expectedBids);
  assert.deepEqual(book.levels("asks"), expectedAsks);
  assert.equal(book.seq, 6);
  // python: tok-string "1015020001017575010200100001011040001010010100003000" -> 2649643079
  assert.equal(checksum, 2649643079);
});

test("a gap is detected and changes nothing", () => {
  const book = new L2Book("TW");
  book.applySnapshot(snapshot());
  const result = book.applyDelta({ first_seq: 7, seq: 7, bids: [["50.00", "1.000"]], asks: [] });
  assert.equal(result, DeltaResult.GAP);
  assert.equal(book.synced, false);
  assert.equal(book.seq, 5);
  assert.deepEqual(book.levels("bids"), BIDS);
});

test("an old delta is stale and ignored", () => {
  const book = new L2Book("TW");
  book.applySnapshot(snapshot(9));
  assert.equal(book.applyDelta({ first_seq: 9, seq: 9, bids: [["1.00", "1.000"]], asks: [] }), DeltaResult.STALE);
  assert.equal(book.synced, true);
  assert.equal(book.depth.bids, 3);
});

test("a conflated delta applies when first_seq is seq + 1", () => {
  const book = new L2Book("TW");
  book.applySnapshot(snapshot());
  const result = book.applyDelta({ first_seq: 6, seq: 9, bids: [], asks: [["101.50", "0.000"]] });
  assert.equal(result, DeltaResult.APPLIED);
  assert.equal(book.seq, 9);
  assert.deepEqual(book.bestAsk(), ["101.75", "0.500"]);
});

test("a checksum mismatch is detected after applying", () => {
  const book = new L2Book("TW");
  book.applySnapshot(snapshot());
  const result = book.applyDelta({ first_seq: 6, seq: 6, bids: [["101.20", "1.000"]], asks: [], checksum: 1 });
  assert.equal(result, DeltaResult.MISMATCH);
  assert.equal(book.synced, false);
  // a fresh snapshot resyncs
  assert.ok(book.applySnapshot(snapshot(20)));
  assert.equal(book.applyDelta({ first_seq: 21, seq: 21, bids: [], asks: [] }), DeltaResult.APPLIED);
});

test("prices with different integer widths sort numerically", () => {
  const book = new L2Book("TW", 2);
  book.applySnapshot({ seq: 1, bids: [["9.99", "1"], ["10.00", "1"], ["100.00", "1"]], asks: [] });
  assert.deepEqual(book.levels("bids").map(([p]) => p), ["100.00", "10.00", "9.99"]);
  book.trim(2);
  assert.deepEqual(book.levels("bids").map(([p]) => p), ["100.00", "10.00"]);
});
