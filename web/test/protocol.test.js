import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CHANNEL_EVENTS,
  CHANNELS,
  REJECT_CODES,
  canonical,
  checksumToken,
  formatUnits,
  isDecimal,
  rejectMessage,
  toUnits,
} from "../js/protocol.js";

test("decimal syntax follows PROTOCOL §1", () => {
  for (const ok of ["0", "1", "101.25", "101.250", "0.5", "00012.3400"]) assert.ok(isDecimal(ok), ok);
  for (const bad of ["1e3", "+1", ".5", "NaN", "-1", "1.", "", " 1", "1,5", 5, null]) {
    assert.equal(isDecimal(bad), false, String(bad));
  }
  assert.equal(isDecimal("1".repeat(41)), false, "longer than 40 characters");
});

test("toUnits is exact and refuses off-scale digits", () => {
  assert.equal(toUnits("101.25", 2), 10125n);
  assert.equal(toUnits("101.250", 2), 10125n);
  assert.equal(toUnits("101", 2), 10100n);
  assert.equal(toUnits("0.1", 8), 10000000n);
  assert.equal(toUnits("123456789012345.678", 3), 123456789012345678n, "beyond 2**53 stays exact");
  assert.throws(() => toUnits("101.255", 2), RangeError);
  assert.throws(() => toUnits("1e3", 2), RangeError);
});

test("formatUnits writes the canonical form", () => {
  assert.equal(formatUnits(10150n, 2), "101.50");
  assert.equal(formatUnits(5, 3), "0.005");
  assert.equal(formatUnits(0n, 2), "0.00");
  assert.equal(formatUnits(-250n, 2), "-2.50");
  assert.equal(formatUnits(42n, 0), "42");
  assert.equal(canonical("101.5", 2), "101.50");
  assert.equal(canonical("7", 1), "7.0");
});

test("checksum token removes the dot and leading zeros", () => {
  assert.equal(checksumToken("101.50"), "10150");
  assert.equal(checksumToken("0.00500"), "500");
  assert.equal(checksumToken("0.000"), "");
});

test("every reject/error code has a human message", () => {
  const codes = [
    "INVALID_SYMBOL", "INVALID_PRICE", "INVALID_QTY", "INVALID_SIDE", "INVALID_TYPE", "INVALID_TIF",
    "INSUFFICIENT_FUNDS", "POST_ONLY_WOULD_TAKE", "FOK_NOT_FILLABLE", "NO_LIQUIDITY",
    "DUPLICATE_CLIENT_ORDER_ID", "UNKNOWN_ORDER", "ORDER_NOT_OPEN", "MARKET_HALTED", "RATE_LIMITED",
    "BAD_REQUEST", "UNKNOWN_OP", "SLOW_CONSUMER", "NOT_EXECUTED", "UNCONFIRMED",
    "SUBSCRIPTION_ENDED",
  ];
  assert.deepEqual(Object.keys(REJECT_CODES).sort(), [...codes].sort());
  for (const code of codes) assert.ok(rejectMessage(code).length > 10, code);
  assert.equal(rejectMessage("NEW_CODE", "explained"), "NEW_CODE: explained");
  assert.equal(rejectMessage("toString"), "Rejected (toString).", "no prototype lookups");
});

test("channels map to their events", () => {
  assert.deepEqual([...CHANNELS].sort(), Object.keys(CHANNEL_EVENTS).sort());
  assert.deepEqual([...CHANNEL_EVENTS.book], ["snapshot", "book"]);
});
