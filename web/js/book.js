/**
 * Client-side L2 order book for one symbol: snapshot + deltas, seq continuity, CRC32 checksum
 * (PROTOCOL §4). Pure: no DOM, no network, no clock.
 *
 * Exports L2Book, bookChecksum(asks, bids), checksumString(asks, bids), DeltaResult.
 *
 * Contract: call applySnapshot() first; then applyDelta() for each `book` event in stream
 * order. applyDelta() answers a DeltaResult: APPLIED, STALE (already reflected, ignored),
 * GAP (first_seq is not seq + 1; nothing changed) or MISMATCH (applied, but the checksum
 * differs). After GAP or MISMATCH the book is not trustworthy (`synced` is false) until the
 * next applySnapshot(); the caller resyncs (fresh snapshot) and counts it.
 */
import { crc32 } from "./crc32.js";
import { checksumToken, toUnits } from "./protocol.js";

export const DeltaResult = Object.freeze({
  APPLIED: "applied",
  STALE: "stale",
  GAP: "gap",
  MISMATCH: "mismatch",
});

const ZERO_RE = /^0+(\.0+)?$/;
const CHECKSUM_DEPTH = 10;

/** The checksum input: 10 best asks ascending then 10 best bids descending, price then qty. */
export function checksumString(asks, bids) {
  let out = "";
  for (const [price, qty] of asks.slice(0, CHECKSUM_DEPTH)) out += checksumToken(price) + checksumToken(qty);
  for (const [price, qty] of bids.slice(0, CHECKSUM_DEPTH)) out += checksumToken(price) + checksumToken(qty);
  return out;
}

/** CRC32 (unsigned) of checksumString(asks, bids); levels are [price, qty] strings best first. */
export function bookChecksum(asks, bids) {
  return crc32(checksumString(asks, bids));
}

function decimalsOf(text) {
  const dot = text.indexOf(".");
  return dot < 0 ? 0 : text.length - dot - 1;
}

/** One side of the book: a map of levels plus keys kept sorted best first. */
class BookSide {
  constructor(descending) {
    this.descending = descending;
    this.levels = new Map(); // price units -> [price string, qty string]
    this.keys = []; // price units, best first
  }

  clear() {
    this.levels.clear();
    this.keys = [];
  }

  // Binary search for the insertion index of `key` in best-first order.
  indexOf(key) {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const k = this.keys[mid];
      const before = this.descending ? k > key : k < key;
      if (before) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  set(key, price, qty) {
    if (ZERO_RE.test(qty)) {
      if (this.levels.delete(key)) this.keys.splice(this.indexOf(key), 1);
      return;
    }
    if (!this.levels.has(key)) this.keys.splice(this.indexOf(key), 0, key);
    this.levels.set(key, [price, qty]);
  }

  top(depth) {
    const n = Math.min(depth, this.keys.length);
    const out = new Array(n);
    for (let i = 0; i < n; i += 1) out[i] = this.levels.get(this.keys[i]);
    return out;
  }
}

export class L2Book {
  /** `priceDecimals` orders the levels; when omitted it is taken from the first price seen. */
  constructor(symbol, priceDecimals = null) {
    this.symbol = symbol;
    this.priceDecimals = priceDecimals;
    this.seq = 0;
    this.synced = false;
    this.lastChecksum = null; // the server's checksum from the last snapshot/delta
    this.bids = new BookSide(true);
    this.asks = new BookSide(false);
  }

  key(price) {
    if (this.priceDecimals === null) this.priceDecimals = decimalsOf(price);
    return Number(toUnits(price, this.priceDecimals));
  }

  /** Replace the whole book. Returns true when the payload's checksum (if any) matches. */
  applySnapshot(data) {
    this.bids.clear();
    this.asks.clear();
    for (const [price, qty] of data.bids) this.bids.set(this.key(price), price, qty);
    for (const [price, qty] of data.asks) this.asks.set(this.key(price), price, qty);
    this.seq = data.seq;
    this.lastChecksum = data.checksum ?? null;
    this.synced = data.checksum === undefined || data.checksum === null || data.checksum === this.checksum();
    return this.synced;
  }

  /** Apply one `book` delta; see DeltaResult and the module contract. */
  applyDelta(data) {
    if (!this.synced) return DeltaResult.GAP;
    const firstSeq = data.first_seq ?? data.seq;
    if (data.seq <= this.seq) return DeltaResult.STALE;
    if (firstSeq !== this.seq + 1) {
      this.synced = false;
      return DeltaResult.GAP;
    }
    this.applyLevels(data.bids, data.asks);
    this.seq = data.seq;
    this.lastChecksum = data.checksum ?? null;
    if (data.checksum !== undefined && data.checksum !== null && data.checksum !== this.checksum()) {
      this.synced = false;
      return DeltaResult.MISMATCH;
    }
    return DeltaResult.APPLIED;
  }

  /**
   * Set changed levels ([price, qty, ...extra] each; qty zero removes) with no seq check.
   * For feeds that carry no seq (tests against other venues' recordings); a stream uses
   * applyDelta().
   */
  applyLevels(bids, asks) {
    for (const [price, qty] of bids) this.bids.set(this.key(price), price, qty);
    for (const [price, qty] of asks) this.asks.set(this.key(price), price, qty);
  }

  /** Drop levels beyond `depth` on each side (a venue that publishes a depth-limited book). */
  trim(depth) {
    for (const side of [this.bids, this.asks]) {
      while (side.keys.length > depth) side.levels.delete(side.keys.pop());
    }
  }

  /** Levels of one side, best first: array of [price, qty] strings. */
  levels(side, depth = Infinity) {
    return (side === "bids" || side === "buy" ? this.bids : this.asks).top(depth);
  }

  bestBid() {
    return this.bids.top(1)[0] ?? null;
  }

  bestAsk() {
    return this.asks.top(1)[0] ?? null;
  }

  /** The checksum of the book as held now (compare with the server's). */
  checksum() {
    return bookChecksum(this.asks.top(CHECKSUM_DEPTH), this.bids.top(CHECKSUM_DEPTH));
  }

  get depth() {
    return { bids: this.bids.keys.length, asks: this.asks.keys.length };
  }
}
