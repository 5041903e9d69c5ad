// Depth chart text: the mid is exact in the symbol's decimals (issue 17 #4: "mid 0.00").
import assert from "node:assert/strict";
import { test } from "node:test";
import { midText } from "../js/depth.js";

test("mid of an 8-decimal book keeps its decimals", () => {
  assert.equal(midText("0.00002301", "0.00002305", 8), "0.00002303");
});

test("a mid between two ticks takes one decimal more, exactly", () => {
  assert.equal(midText("0.000000123", "0.000000124", 9), "0.0000001235");
  assert.equal(midText("100.00", "100.01", 2), "100.005");
});

test("two-decimal books read as before", () => {
  assert.equal(midText("60000.00", "60001.00", 2), "60000.50");
});
