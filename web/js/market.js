/**
 * The page's market state, fed by MarketFeed events: books (checksum-verified), tickers,
 * trades, candles, symbol status. No DOM.
 *
 * Exports MarketStore.
 *
 * Contract: handle(event, data) for every market-data event in stream order. Views read the
 * state and `dirty` flags in their animation frame and clear them. A gap or checksum
 * mismatch on a book triggers a resync: the symbol's deltas are buffered, a fresh snapshot
 * is fetched from `GET /api/book/{symbol}`, and the buffered deltas after its seq are
 * replayed (levels are absolute, so an overlapping delta is harmless). If that fails the
 * feed restarts without resume, which brings fresh snapshots.
 */
import { DeltaResult, L2Book } from "./book.js";
import { MD_EVENTS } from "./protocol.js";

const TAPE_LENGTH = 80;

export class MarketStore {
  constructor({ specs = new Map(), fetchJson, onResync = () => {}, onCandle = () => {}, onRestart = () => {}, onSeek = () => {}, onReplay = () => {} }) {
    this.specs = specs; // symbol -> {price_decimals, qty_decimals, ...}
    this.fetchJson = fetchJson;
    this.onResync = onResync;
    this.onCandle = onCandle;
    this.onRestart = onRestart;
    this.onSeek = onSeek; // a replay seek: trades and candles start afresh
    this.onReplay = onReplay; // a status event's replay status (the replay bar follows it)
    this.replaySeeks = null; // the replay's seek count as its status events last said
    this.books = new Map();
    this.tickers = new Map();
    this.tickDirection = new Map(); // symbol -> "up" | "down" since the last render
    this.trades = new Map(); // symbol -> newest-first array
    this.lastTradeId = new Map();
    this.tradesLoaded = new Set(); // symbols whose trade history came from REST (seedTrades)
    this.status = new Map();
    this.syncing = new Map(); // symbol -> buffered deltas while a resync is in flight
    this.dirty = { book: new Set(), ticker: new Set(), trades: new Set() };
    this.counters = { resyncs: 0, tradeGaps: 0, checksumOk: 0, checksumBad: 0, resets: 0, seeks: 0, events: 0, byEvent: {} };
  }

  book(symbol) {
    let book = this.books.get(symbol);
    if (!book) {
      book = new L2Book(symbol, this.specs.get(symbol)?.price_decimals ?? null);
      this.books.set(symbol, book);
    }
    return book;
  }

  handle(event, data) {
    this.counters.events += 1;
    this.counters.byEvent[event] = (this.counters.byEvent[event] ?? 0) + 1;
    switch (event) {
      case MD_EVENTS.SNAPSHOT:
        this.onSnapshot(data);
        break;
      case MD_EVENTS.BOOK:
        this.onDelta(data);
        break;
      case MD_EVENTS.TRADE:
        this.onTrade(data);
        break;
      case MD_EVENTS.TICKER:
        this.onTicker(data);
        break;
      case MD_EVENTS.CANDLE:
        this.onCandle(data);
        break;
      case MD_EVENTS.STATUS:
        this.status.set(data.symbol, data);
        this.dirty.ticker.add(data.symbol);
        this.noteReplay(data.replay);
        break;
      case MD_EVENTS.RESET:
        // History was lost: ids and trade ids restart; the snapshots that follow rebuild books.
        this.counters.resets += 1;
        this.lastTradeId.clear();
        if (data.reason === "seek") {
          // a seek (backwards, or forwards to a checkpoint): the status after it counts it
          if (this.replaySeeks !== null) this.replaySeeks += 1;
          this.seeked();
        }
        break;
      default:
        throw new Error(`unknown market-data event: ${event}`);
    }
  }

  /** A replay status (`status` data.replay): a seek count that rose without a reset before
   * it (a forward seek played through) also starts trades and candles afresh. */
  noteReplay(replay) {
    if (!replay || typeof replay.seeks !== "number") return;
    this.onReplay(replay);
    const before = this.replaySeeks;
    if (before === null || replay.seeks > before) {
      this.replaySeeks = replay.seeks;
      if (before !== null) this.seeked();
    }
  }

  seeked() {
    this.counters.seeks += 1;
    this.trades.clear();
    this.tradesLoaded.clear();
    for (const symbol of this.specs.keys()) this.dirty.trades.add(symbol);
    this.onSeek();
  }

  onSnapshot(data) {
    const ok = this.book(data.symbol).applySnapshot(data);
    this.syncing.delete(data.symbol);
    const seen = this.lastTradeId.get(data.symbol);
    if (typeof data.last_trade_id === "number" && (seen === undefined || data.last_trade_id > seen)) {
      this.lastTradeId.set(data.symbol, data.last_trade_id);
    }
    if (ok) this.counters.checksumOk += 1;
    else this.resync(data.symbol, "snapshot checksum");
    this.dirty.book.add(data.symbol);
  }

  onDelta(data) {
    const buffer = this.syncing.get(data.symbol);
    if (buffer) {
      buffer.push(data);
      return;
    }
    const result = this.book(data.symbol).applyDelta(data);
    if (result === DeltaResult.APPLIED) this.counters.checksumOk += 1;
    else if (result === DeltaResult.GAP || result === DeltaResult.MISMATCH) {
      if (result === DeltaResult.MISMATCH) this.counters.checksumBad += 1;
      this.resync(data.symbol, result);
    }
    this.dirty.book.add(data.symbol);
  }

  async resync(symbol, reason) {
    if (this.syncing.has(symbol)) return;
    const buffer = [];
    this.syncing.set(symbol, buffer);
    this.counters.resyncs += 1;
    this.onResync(symbol, reason);
    try {
      const snapshot = await this.fetchJson(`/api/book/${encodeURIComponent(symbol)}`);
      if (this.syncing.get(symbol) !== buffer) return; // a stream snapshot got there first
      const book = this.book(symbol);
      if (!book.applySnapshot(snapshot)) throw new Error("REST snapshot checksum mismatch");
      for (const delta of buffer) {
        if (delta.seq <= book.seq) continue;
        // Absolute level quantities: a delta overlapping the snapshot re-applies the same values.
        const overlap = { ...delta, first_seq: Math.min(delta.first_seq ?? delta.seq, book.seq + 1) };
        if (book.applyDelta(overlap) !== DeltaResult.APPLIED) throw new Error("resync replay failed");
      }
      this.syncing.delete(symbol);
      this.dirty.book.add(symbol);
    } catch (err) {
      this.syncing.delete(symbol);
      this.onRestart(symbol, String(err.message ?? err));
    }
  }

  onTrade(data) {
    const last = this.lastTradeId.get(data.symbol);
    if (last !== undefined && data.trade_id <= last) return; // already shown
    if (last !== undefined && data.trade_id !== last + 1) this.counters.tradeGaps += 1;
    this.lastTradeId.set(data.symbol, data.trade_id);
    let tape = this.trades.get(data.symbol);
    if (!tape) {
      tape = [];
      this.trades.set(data.symbol, tape);
    }
    tape.unshift(data);
    if (tape.length > TAPE_LENGTH) tape.length = TAPE_LENGTH;
    this.dirty.trades.add(data.symbol);
  }

  onTicker(data) {
    const prev = this.tickers.get(data.symbol);
    if (prev && prev.last !== null && data.last !== null && prev.last !== data.last) {
      this.tickDirection.set(data.symbol, Number(data.last) > Number(prev.last) ? "up" : "down");
    }
    this.tickers.set(data.symbol, data);
    this.dirty.ticker.add(data.symbol);
  }

  /**
   * Merge `GET /api/trades/{symbol}` (newest last) into the tape: the trades printed before
   * the page connected, which the stream does not send again. A trade the stream already
   * brought is not doubled; the tape stays newest first, by trade id.
   */
  seedTrades(symbol, trades) {
    const tape = this.trades.get(symbol) ?? [];
    const have = new Set(tape.map((t) => t.trade_id));
    const merged = tape.concat(trades.filter((t) => t.symbol === symbol && !have.has(t.trade_id)));
    merged.sort((a, b) => b.trade_id - a.trade_id);
    if (merged.length > TAPE_LENGTH) merged.length = TAPE_LENGTH;
    this.trades.set(symbol, merged);
    const newest = merged[0]?.trade_id;
    const seen = this.lastTradeId.get(symbol);
    if (newest !== undefined && (seen === undefined || newest > seen)) this.lastTradeId.set(symbol, newest);
    this.tradesLoaded.add(symbol);
    this.dirty.trades.add(symbol);
    this.dirty.ticker.add(symbol);
  }

  /** The symbol's last trade price: the ticker's, else the newest trade on the tape, else null. */
  lastPrice(symbol) {
    return this.tickers.get(symbol)?.last ?? this.trades.get(symbol)?.[0]?.price ?? null;
  }
}
