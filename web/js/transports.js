/**
 * Market-data transports (PROTOCOL §4-5) and the feed that picks between them.
 *
 * Exports MarketFeed, WsTransport, SseTransport, PollTransport, TRANSPORT_CLASSES (name -> class;
 * a class takes (feedLike, afterId), see js/race_lanes.js for what a feed-like object offers).
 *
 * MarketFeed delivers every market-data event once, in stream order, to onEvent(event, data,
 * id) whatever transport carries it: WebSocket `/ws/md` (subscribe with `after`), SSE
 * `/md/stream` (EventSource; it resumes with Last-Event-ID by itself), long polling
 * `/md/poll?cursor=`, or, opt-in, WebRTC data channels (js/rtc.js). Order WS -> SSE -> poll by feature detection and on failure (see
 * FallbackPolicy); force(mode) pins one; force(null) returns to automatic. On a fallback it
 * tries a better transport again after upgradeAfterMs, doubling up to upgradeCapMs while the
 * tries fail, unless that transport was refused by a reachable server. The last event id
 * is shared, so a switch of transport resumes where the previous one stopped. Call
 * noteRender() once per painted frame to sample event-to-render latency.
 */
import { FallbackPolicy, backoffDelay, detectSupport } from "./fallback.js";
import { CHANNELS, MD_EVENTS, MD_PREFIX, OPS, TRANSPORTS } from "./protocol.js";
import { RtcTransport } from "./rtc.js";
import { TransportStats, httpResponseBytes, sseFrameBytes, wsFrameBytes } from "./stats.js";

const MD_EVENT_NAMES = Object.values(MD_EVENTS);
// Events remembered for discarding a duplicate delivery (a frame seen twice).
const RECENT_EVENTS = 1024;
const POLL_TIMEOUT_S = 25;
// EventSource retries by itself; this many errors without a successful open means it is gone.
const SSE_MAX_SILENT_ERRORS = 3;

function query(params) {
  const parts = [];
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") parts.push(`${key}=${encodeURIComponent(value)}`);
  }
  return parts.join("&");
}

/** WebSocket market data on `/ws/md`: one `subscribe`, then `md.*` messages. */
export class WsTransport {
  constructor(feed, afterId) {
    this.feed = feed;
    this.live = false;
    this.closed = false;
    const loc = feed.env.location;
    const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
    this.socket = new feed.env.WebSocket(`${scheme}//${loc.host}/ws/md?compress=0`);
    this.socket.onopen = () => {
      const msg = { op: OPS.SUBSCRIBE, req_id: 1, channels: feed.channels };
      if (feed.symbols.length) msg.symbols = feed.symbols;
      if (afterId) msg.after = afterId;
      this.socket.send(JSON.stringify(msg));
    };
    this.socket.onmessage = (ev) => this.onMessage(ev.data);
    this.socket.onclose = (ev) => {
      if (!this.closed) this.feed.transportFailed(this, `closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ""})`);
    };
  }

  onMessage(text) {
    if (this.closed) return;
    this.feed.stats.ws.bytes += wsFrameBytes(text.length);
    const msg = JSON.parse(text);
    if (msg.type.startsWith(MD_PREFIX)) {
      if (!this.live) this.markLive();
      this.feed.deliver(this, msg.id, msg.type.slice(MD_PREFIX.length), msg.data);
      return;
    }
    switch (msg.type) {
      case "subscribed":
        this.markLive();
        break;
      case "session":
      case "pong":
      case "unsubscribed":
        break;
      case "error":
        this.feed.stats.ws.lastError = `${msg.code}: ${msg.message}`;
        if (!this.live) {
          this.close();
          this.feed.transportFailed(this, msg.code);
        }
        break;
      default:
        throw new Error(`unexpected message type on /ws/md: ${msg.type}`);
    }
  }

  markLive() {
    if (this.live) return;
    this.live = true;
    this.feed.transportLive(this);
  }

  close() {
    this.closed = true;
    this.socket.onclose = null;
    this.socket.close();
  }
}

/** SSE on `/md/stream`: the browser's EventSource reconnects with Last-Event-ID by itself. */
export class SseTransport {
  constructor(feed, afterId) {
    this.feed = feed;
    this.live = false;
    this.closed = false;
    this.silentErrors = 0;
    this.opens = 0;
    const qs = query({
      symbols: feed.symbols.join(","),
      channels: feed.channels.join(","),
      last_event_id: afterId,
    });
    this.source = new feed.env.EventSource(`/md/stream?${qs}`);
    this.source.onopen = () => {
      this.opens += 1;
      this.silentErrors = 0;
      // A reopen by the browser itself is a reconnect that resumes with Last-Event-ID.
      if (this.opens > 1) this.feed.nativeReconnect(this);
      if (!this.live) {
        this.live = true;
        this.feed.transportLive(this);
      }
    };
    this.source.onerror = () => {
      if (this.closed) return;
      this.silentErrors += 1;
      const gone = this.source.readyState === 2 || this.silentErrors >= SSE_MAX_SILENT_ERRORS;
      if (gone) {
        this.close();
        this.feed.transportFailed(this, this.live ? "stream lost" : "stream refused");
      } else {
        this.feed.stats.sse.state = "reconnecting";
        this.feed.changed();
      }
    };
    for (const name of MD_EVENT_NAMES) {
      this.source.addEventListener(name, (ev) => {
        if (this.closed) return;
        // The server's frame rebuilt: id, event and data lines (heartbeats are not counted).
        this.feed.stats.sse.bytes += sseFrameBytes(ev.lastEventId, name, ev.data.length);
        this.feed.deliver(this, ev.lastEventId, name, JSON.parse(ev.data));
      });
    }
  }

  close() {
    this.closed = true;
    this.source.close();
  }
}

/** Long polling on `/md/poll?cursor=`: one request at a time, the cursor carries the position. */
export class PollTransport {
  constructor(feed, afterId) {
    this.feed = feed;
    this.live = false;
    this.closed = false;
    this.cursor = afterId;
    this.abort = new AbortController();
    this.loop();
  }

  async loop() {
    const feed = this.feed;
    try {
      while (!this.closed) {
        const qs = query({
          symbols: feed.symbols.join(","),
          channels: feed.channels.join(","),
          cursor: this.cursor,
          timeout: POLL_TIMEOUT_S,
        });
        const response = await feed.env.fetch(`/md/poll?${qs}`, { signal: this.abort.signal, cache: "no-store" });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const text = await response.text();
        if (this.closed) return;
        // Status line, headers and body of the answer (the request going up is not counted).
        feed.stats.poll.bytes += httpResponseBytes(response.status, response.statusText ?? "", response.headers ?? [], text.length);
        const body = JSON.parse(text);
        if (!this.live) {
          this.live = true;
          feed.transportLive(this);
        }
        for (const ev of body.events) feed.deliver(this, ev.id, ev.event, ev.data);
        this.cursor = body.cursor;
      }
    } catch (err) {
      if (!this.closed) {
        this.closed = true;
        feed.transportFailed(this, String(err.message ?? err));
      }
    }
  }

  close() {
    this.closed = true;
    this.abort.abort();
  }
}

/**
 * A book delta with one level made wrong, as a corrupted frame would carry it: the level
 * `[price, qty]` given (the best bid the page holds) is set to a quantity the server never
 * sent, so the checksum check fails; without one, the delta's first level is changed.
 */
export function corruptDelta(data, level = null) {
  const copy = { ...data, bids: [...(data.bids ?? [])], asks: [...(data.asks ?? [])] };
  const [price, qty] = level ?? copy.bids[0] ?? copy.asks[0] ?? [null, null];
  if (price === null) return copy;
  const last = Number(qty.at(-1));
  const bogus = Number.isInteger(last) ? qty.slice(0, -1) + String((last + 1) % 10) : "1";
  copy.bids = [...copy.bids.filter(([p]) => p !== price), [price, bogus]];
  return copy;
}

export const TRANSPORT_CLASSES = { ws: WsTransport, sse: SseTransport, poll: PollTransport, rtc: RtcTransport };
// Every transport the panel can show: the fallback chain plus the opt-in WebRTC one.
const ALL_TRANSPORTS = [...TRANSPORTS, "rtc"];

export class MarketFeed {
  constructor({
    symbols = [],
    channels = CHANNELS,
    onEvent,
    onChange = () => {},
    env = globalThis,
    forced = null,
    upgradeAfterMs = 2000,
    upgradeCapMs = 30000,
    policyOptions = {},
  }) {
    this.symbols = symbols;
    this.channels = [...channels];
    this.onEvent = onEvent;
    this.onChange = onChange;
    this.env = env;
    this.supported = detectSupport(env);
    this.forced = forced;
    this.stats = Object.fromEntries(ALL_TRANSPORTS.map((name) => [name, new TransportStats(name)]));
    this.tried = new Set();
    this.everLive = new Set();
    this.lastId = null;
    this.current = null; // name of the transport now carrying data
    this.transport = null;
    this.timer = null;
    this.pendingResume = false;
    this.pendingTs = [];
    this.policy = null;
    this.policyOptions = policyOptions;
    this.upgradeAfterMs = upgradeAfterMs;
    this.upgradeCapMs = upgradeCapMs;
    this.upgradeTimer = null;
    this.upgradeAttempts = 0; // since the feed last sat on its best transport
    this.upgradeAt = null; // epoch ms of the next try, for the panel
    this.upgrades = 0;
    // Transports that failed without ever delivering since the feed was last live. When the
    // next transport then works at its first try, the server was reachable: those were
    // refused (no WebSocket through this proxy, a transport switched off) and are not retried.
    // When the next one had to retry too, the server was down: they stay candidates.
    this.cascade = new Set();
    this.refused = new Set();
    this.downSince = null; // performance.now() when data last stopped, null while live
    // Duplicate delivery: the last RECENT_EVENTS keys (id, event, symbol: a book snapshot
    // shares its id with the event it reflects, and one snapshot per symbol may share one id).
    this.recent = new Set();
    this.recentOrder = [];
    // Fault drills (js/drills.js), injected here as the network would: delay every event by
    // delayMs until delayUntil (performance.now()), deliver the next `duplicate` events twice,
    // corrupt the next `corrupt` book deltas (the level corruptLevel(symbol) names, see
    // corruptDelta). taps(id, event, data, duplicate) see each event as it is delivered.
    this.faults = { delayMs: 0, delayUntil: 0, duplicate: 0, corrupt: 0, corruptLevel: null };
    this.taps = new Set();
    this.delayed = []; // { due, args } held by the delay fault, in arrival order
    this.delayTimer = null;
  }

  /** A fault drill: drop the current stream as a network failure would; it reconnects and resumes. */
  cut() {
    const transport = this.transport;
    if (!transport) return false;
    transport.close();
    this.transportFailed(transport, "connection cut (drill)");
    return true;
  }

  start() {
    this.policy = new FallbackPolicy({ ...this.policyOptions, supported: this.supported, forced: this.forced });
    this.downSince ??= this.env.performance.now();
    this.open(this.policy.first());
  }

  /** The transport above the current one to try again, or null (on the best one, or pinned). */
  upgradeCandidate() {
    if (this.policy.forced || !this.current) return null;
    const order = this.policy.order;
    return order.slice(0, order.indexOf(this.current)).find((mode) => this.everLive.has(mode) || !this.refused.has(mode)) ?? null;
  }

  // On a fallback, try to go back up with capped exponential backoff (2, 4, 8 ... 30 s): a
  // server restart must not leave the page on SSE or long polling for good.
  armUpgrade() {
    clearTimeout(this.upgradeTimer);
    this.upgradeAt = null;
    if (!this.upgradeCandidate()) {
      this.upgradeAttempts = 0;
      return;
    }
    this.upgradeAttempts += 1;
    const delayMs = backoffDelay(this.upgradeAttempts, { baseMs: this.upgradeAfterMs, capMs: this.upgradeCapMs });
    this.upgradeAt = Date.now() + delayMs;
    this.upgradeTimer = setTimeout(() => this.maybeUpgrade(), delayMs);
  }

  maybeUpgrade() {
    this.upgradeAt = null;
    const better = this.upgradeCandidate();
    if (!better || !this.transport) return;
    this.transport.close();
    this.stats[this.current].state = "closed";
    this.transport = null;
    this.current = null;
    this.upgrades += 1;
    this.open(better);
  }

  /**
   * Pin a transport ("ws", "sse", "poll") or return to automatic fallback (null). "rtc" is a
   * preference, not a pin: when WebRTC cannot connect the feed falls back to WS, SSE, poll.
   */
  force(mode) {
    this.forced = mode || null;
    this.stop();
    this.start();
  }

  /** Reconnect without resuming: the server sends fresh snapshots (used when a resync is needed). */
  restartFresh() {
    this.lastId = null;
    this.forgetRecent();
    const mode = this.current ?? this.policy.first();
    this.stop();
    this.open(mode);
  }

  stop() {
    clearTimeout(this.timer);
    clearTimeout(this.upgradeTimer);
    clearTimeout(this.delayTimer);
    this.delayed = [];
    this.upgradeAt = null;
    if (this.transport) {
      this.transport.close();
      this.stats[this.transport.name].state = "closed";
    }
    this.transport = null;
    this.current = null;
    this.changed();
  }

  open(mode) {
    const stats = this.stats[mode];
    this.tried.add(mode);
    stats.state = "connecting";
    stats.connects += 1;
    stats.openedAt = this.env.performance.now();
    if (stats.connects > 1) stats.reconnects += 1;
    // Opened with an id: the first event tells whether the server resumed or reset.
    this.pendingResume = this.lastId !== null;
    this.transport = new TRANSPORT_CLASSES[mode](this, this.lastId);
    this.transport.name = mode;
    this.changed();
  }

  transportLive(transport) {
    if (transport !== this.transport) return;
    const mode = transport.name;
    if (!this.cascade.has(mode)) for (const failed of this.cascade) this.refused.add(failed);
    this.cascade.clear();
    this.current = mode;
    this.downSince = null;
    this.everLive.add(mode);
    this.policy.success(mode);
    this.stats[mode].state = "live";
    this.armUpgrade();
    this.changed();
  }

  nativeReconnect(transport) {
    if (transport !== this.transport) return;
    const stats = this.stats[transport.name];
    stats.reconnects += 1;
    stats.state = "live";
    if (this.lastId) this.pendingResume = true;
    this.changed();
  }

  transportFailed(transport, reason) {
    if (transport !== this.transport) return;
    const mode = transport.name;
    const stats = this.stats[mode];
    stats.failures += 1;
    stats.lastError = reason;
    stats.state = "failed";
    if (!this.everLive.has(mode)) this.cascade.add(mode);
    this.transport = null;
    this.current = null;
    this.downSince ??= this.env.performance.now();
    const next = this.policy.failure(mode, this.everLive.has(mode));
    this.timer = setTimeout(() => this.open(next.mode), next.delayMs);
    this.changed();
  }

  /**
   * An event from `transport`; anything from a transport that is no longer current is dropped.
   * `resumable` false (WebRTC's unordered ticker channel): the id is not a resume point.
   */
  deliver(transport, id, event, data, resumable = true) {
    if (transport !== this.transport) return;
    const faults = this.faults;
    if (faults.corrupt > 0 && event === MD_EVENTS.BOOK) {
      faults.corrupt -= 1;
      data = corruptDelta(data, faults.corruptLevel?.(data.symbol));
    }
    const copies = faults.duplicate > 0 && id ? 2 : 1;
    if (copies === 2) faults.duplicate -= 1;
    const now = this.env.performance.now();
    const delaying = faults.delayUntil > now;
    if (delaying || this.delayed.length) {
      // Delayed in arrival order: what comes after the delay waits behind what is still held.
      const due = Math.max(delaying ? now + faults.delayMs : now, this.delayed.at(-1)?.due ?? 0);
      for (let i = 0; i < copies; i += 1) this.delayed.push({ due, args: [transport, id, event, data, resumable] });
      if (this.delayed.length === copies) this.delayTimer = setTimeout(() => this.drainDelayed(), due - now);
      return;
    }
    for (let i = 0; i < copies; i += 1) this.deliverNow(transport, id, event, data, resumable);
  }

  drainDelayed() {
    const now = this.env.performance.now();
    while (this.delayed.length && this.delayed[0].due <= now) this.deliverNow(...this.delayed.shift().args);
    if (this.delayed.length) this.delayTimer = setTimeout(() => this.drainDelayed(), this.delayed[0].due - now);
  }

  forgetRecent() {
    this.recent.clear();
    this.recentOrder = [];
  }

  deliverNow(transport, id, event, data, resumable) {
    if (transport !== this.transport) return;
    const stats = this.stats[transport.name];
    if (id) {
      const key = `${id}|${event}|${data.symbol ?? ""}`;
      if (this.recent.has(key)) {
        stats.duplicates += 1;
        for (const tap of this.taps) tap(id, event, data, true);
        return;
      }
      this.recent.add(key);
      this.recentOrder.push(key);
      if (this.recentOrder.length > RECENT_EVENTS) this.recent.delete(this.recentOrder.shift());
    }
    for (const tap of this.taps) tap(id, event, data, false);
    stats.messages += 1;
    if (this.pendingResume) {
      this.pendingResume = false;
      if (event === MD_EVENTS.RESET) stats.resets += 1;
      else stats.resumes += 1;
    } else if (event === MD_EVENTS.RESET) {
      stats.resets += 1;
    }
    if (id && resumable) this.lastId = id;
    if (typeof data.ts === "number") this.pendingTs.push(stats, data.ts / 1e6, this.env.performance.now());
    this.onEvent(event, data, id);
  }

  /** Count a book resync against the transport now carrying data. */
  countResync() {
    const stats = this.stats[this.current ?? this.transport?.name];
    if (stats) stats.resyncs += 1;
    this.changed();
  }

  /**
   * Sample latency for everything delivered since the last frame: event time to render
   * (epoch ms, compared with the server's ts) and arrival to render (the page's own share).
   */
  noteRender() {
    const perf = this.env.performance;
    const now = perf.now();
    const nowEpochMs = perf.timeOrigin + now;
    const pending = this.pendingTs;
    for (let i = 0; i < pending.length; i += 3) {
      const latency = nowEpochMs - pending[i + 1];
      // A replayed market has a simulated clock; its ts says nothing about our latency.
      if (latency > -1000 && latency < 60000) pending[i].addLatency(Math.max(0, latency));
      pending[i].addRenderDelay(now - pending[i + 2]);
    }
    this.pendingTs = [];
  }

  changed() {
    this.onChange();
  }

  snapshot() {
    const stats = {};
    for (const name of this.tried) stats[name] = this.stats[name].toJSON();
    const downForMs = this.downSince === null ? 0 : this.env.performance.now() - this.downSince;
    const next = this.upgradeAt === null ? null : { mode: this.upgradeCandidate(), inMs: Math.max(0, this.upgradeAt - Date.now()) };
    return {
      current: this.current,
      forced: this.forced,
      supported: this.supported,
      lastId: this.lastId,
      upgrades: this.upgrades,
      nextUpgrade: next,
      downForMs,
      stats,
    };
  }
}
