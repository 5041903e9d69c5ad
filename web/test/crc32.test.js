// CRC-32 against known vectors. Expected values were computed independently with Python:
//   python3 -c "import zlib; print(zlib.crc32(b'123456789'))"   (and likewise for each string)
import assert from "node:assert/strict";
import { test } from "node:test";
import { crc32, crc32Bytes } from "../js/crc32.js";

const VECTORS = [
  ["", 0],
  ["a", 3904355907],
  ["123456789", 3421780262],
  ["The quick brown fox jumps over the lazy dog", 1095738169],
];

test("crc32 matches zlib.crc32 on known vectors", () => {
  for (const [text, expected] of VECTORS) assert.equal(crc32(text), expected, text);
});

test("crc32Bytes agrees with crc32 and is unsigned", () => {
  for (const [text, expected] of VECTORS) {
    const value = crc32Bytes(new TextEncoder().encode(text));
    assert.equal(value, expected);
    assert.ok(value >= 0);
  }
});

test("non-ASCII text is hashed as UTF-8", () => {
  // python3 -c "import zlib; print(zlib.crc32('é'.encode()))" -> 235179326
  assert.equal(crc32("\u00e9"), 235179326);
});
