import assert from "node:assert/strict";
import { test } from "node:test";
import { SPEEDS, nextSpeed } from "../js/replay.js";

test("speeds step through the ladder and stop at its ends", () => {
  assert.equal(nextSpeed("1", 1), "2");
  assert.equal(nextSpeed("100", 1), "1000");
  assert.equal(nextSpeed("1000", 1), "max");
  assert.equal(nextSpeed("max", 1), "max");
  assert.equal(nextSpeed("max", -1), "1000");
  assert.equal(nextSpeed("1", -1), "1");
  assert.equal(SPEEDS.at(-1), "max");
});

test("a speed set elsewhere moves to the nearest step in that direction", () => {
  assert.equal(nextSpeed("3", 1), "5");
  assert.equal(nextSpeed("3", -1), "2");
  assert.equal(nextSpeed("5000", 1), "max");
  assert.equal(nextSpeed("0.5", -1), "0.5"); // nothing slower on the ladder: unchanged
});
