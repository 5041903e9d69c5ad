// External oracle: Kraken's own book checksums (the same CRC32 recipe as PROTOCOL §4).
// Data: ../shared/data/cryptofeed-kraken-book-2021-04-17 beside the repo root (see its README);
// every one of the 4,269 updates carries Kraken's checksum `c`, and all must match.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { L2Book } from "../js/book.js";

const here = dirname(fileURLToPath(import.meta.url));
const DATA = join(here, "..", "..", "..", "shared", "data", "cryptofeed-kraken-book-2021-04-17", "KRAKEN.ws.50.0");
const DEPTH = 1000;

test("book checksums match all Kraken checksums", { skip: existsSync(DATA) ? false : `needs ${DATA} (shared data folder absent)` }, () => {
  const books = new Map();
  let checked = 0;
  for (const line of readFileSync(DATA, "utf8").split("\n")) {
    const colon = line.indexOf(": ");
    if (colon < 0 || line.startsWith("wss://")) continue;
    const msg = JSON.parse(line.slice(colon + 2));
    if (!Array.isArray(msg)) continue;
    const pair = msg[msg.length - 1];
    const parts = msg.slice(1, -2);
    if (parts.length === 1 && parts[0].as) {
      const book = new L2Book(pair);
      book.applySnapshot({ seq: 0, bids: parts[0].bs, asks: parts[0].as });
      books.set(pair, book);
      continue;
    }
    const book = books.get(pair);
    let expected = null;
    for (const part of parts) {
      book.applyLevels(part.b ?? [], part.a ?? []);
      if (part.c !== undefined) expected = Number(part.c);
    }
    book.trim(DEPTH);
    assert.equal(book.checksum(), expected, `${pair} after ${checked} updates`);
    checked += 1;
  }
  assert.equal(checked, 4269);
});
