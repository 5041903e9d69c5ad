/**
 * Market data over a WebRTC data channel pair (issue 9): signalling by `POST /rtc/offer`.
 *
 * Exports RtcTransport, LatestTicker, waitForGathering(pc, timeoutMs), RTC_CONNECT_TIMEOUT_MS,
 * SCTP_DATA_HEADER_BYTES.
 *
 * RtcTransport(feed, afterId) follows the transport contract of js/transports.js (feed-like
 * object: env, symbols, channels, stats, deliver, transportLive, transportFailed). It opens two
 * channels on one RTCPeerConnection:
 * - `ticker` ({ordered: false, maxRetransmits: 0}): `md.ticker` messages, latest value per
 *   symbol. A ticker older (by `ts`) than one already delivered for its symbol is dropped, and
 *   ticker ids are delivered as not resumable (deliver's 5th argument false): an unordered id
 *   may be ahead of the book channel's and must not become the resume point.
 * - `book` (ordered, reliable): the /ws/md conversation. It sends `subscribe` with the feed's
 *   symbols, its channels other than `ticker`, and `after` (the resume id), then receives the
 *   same `md.*` messages; live once `subscribed` arrives.
 * An `error` without req_id on the live book channel (SLOW_CONSUMER, MESSAGE_TOO_LARGE,
 * SUBSCRIPTION_ENDED: the server ended or broke the subscription) is answered by subscribing
 * again on the same channel with `after` = the last book id delivered; a second such error
 * before any event fails the transport (the feed then reconnects or falls back).
 * The offer is sent after ICE gathering completes (the server does not trickle candidates).
 * If the transport is not live within `feed.rtcConnectTimeoutMs` (default 5 s), or the offer
 * is refused, or the connection fails or a channel closes, it closes everything and reports
 * transportFailed(reason) with the reason (HTTP status and code, or ICE/connection states).
 */
import { MD_PREFIX, OPS } from "./protocol.js";

export const RTC_CONNECT_TIMEOUT_MS = 5000;
/** What a message costs on the data channel beyond its payload that we count: the SCTP DATA chunk header. */
export const SCTP_DATA_HEADER_BYTES = 16;
const GATHER_TIMEOUT_MS = 2000;

/** Latest-value filter for an unordered channel: accept(symbol, ts) is false for stale values. */
export class LatestTicker {
  constructor() {
    this.ts = new Map();
    this.dropped = 0;
  }

  accept(symbol, ts) {
    const prev = this.ts.get(symbol);
    if (prev !== undefined && typeof ts === "number" && ts < prev) {
      this.dropped += 1;
      return false;
    }
    if (typeof ts === "number") this.ts.set(symbol, ts);
    return true;
  }
}

/** Resolves when `pc` has gathered its candidates, or after timeoutMs (the offer then has what it has). */
export function waitForGathering(pc, timeoutMs = GATHER_TIMEOUT_MS) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    function done() {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    }
    function check() {
      if (pc.iceGatheringState === "complete") done();
    }
    pc.addEventListener("icegatheringstatechange", check);
  });
}

function query(params) {
  const parts = Object.entries(params)
    .filter(([, v]) => v)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
  return parts.length ? `?${parts.join("&")}` : "";
}

export class RtcTransport {
  constructor(feed, afterId) {
    this.feed = feed;
    this.afterId = afterId;
    this.live = false;
    this.closed = false;
    this.latest = new LatestTicker();
    this.lastBookId = null; // the last book-channel id delivered: where a resubscribe resumes
    this.resubscribing = false;
    this.resubscribes = 0;
    this.received = { ticker: {}, book: {} }; // channel -> event -> count, for the curious
    this.abort = new AbortController();
    const env = feed.env;
    this.bookChannels = feed.channels.filter((c) => c !== "ticker");
    this.pc = new env.RTCPeerConnection({ iceServers: feed.iceServers ?? [] });
    this.ticker = this.pc.createDataChannel("ticker", { ordered: false, maxRetransmits: 0 });
    this.book = this.pc.createDataChannel("book");
    this.ticker.onmessage = (ev) => this.onTicker(ev.data);
    this.book.onmessage = (ev) => this.onBook(ev.data);
    this.book.onopen = () => this.subscribe();
    this.ticker.onopen = () => {
      if (this.bookChannels.length === 0) this.markLive();
    };
    this.ticker.onclose = () => this.fail("the ticker channel closed");
    this.book.onclose = () => this.fail("the book channel closed");
    this.pc.onconnectionstatechange = () => {
      if (this.pc.connectionState === "failed") this.fail(`connection failed (ICE ${this.pc.iceConnectionState})`);
    };
    const timeoutMs = feed.rtcConnectTimeoutMs ?? RTC_CONNECT_TIMEOUT_MS;
    this.timer = setTimeout(() => {
      const pc = this.pc;
      this.fail(`not connected within ${timeoutMs / 1000} s (ICE ${pc.iceConnectionState}, connection ${pc.connectionState})`);
    }, timeoutMs);
    this.negotiate();
  }

  async negotiate() {
    const { pc, feed } = this;
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await waitForGathering(pc);
      if (this.closed) return;
      const url = `/rtc/offer${query({ symbols: feed.symbols.join(",") })}`;
      const response = await feed.env.fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sdp: pc.localDescription.sdp, type: "offer" }),
        signal: this.abort.signal,
      });
      if (!response.ok) {
        let detail = "";
        try {
          const body = await response.json();
          detail = ` ${body.code}: ${body.message}`;
        } catch {
          // not the usual error JSON: the status says enough
        }
        throw new Error(`offer refused: HTTP ${response.status}${detail}`);
      }
      const answer = await response.json();
      if (this.closed) return;
      await pc.setRemoteDescription(answer);
    } catch (err) {
      this.fail(String(err?.message ?? err));
    }
  }

  subscribe(after = this.afterId) {
    if (this.closed || this.bookChannels.length === 0) return;
    this.reqId = (this.reqId ?? 0) + 1;
    const msg = { op: OPS.SUBSCRIBE, req_id: this.reqId, channels: this.bookChannels };
    if (this.feed.symbols.length) msg.symbols = this.feed.symbols;
    if (after) msg.after = after;
    this.book.send(JSON.stringify(msg));
  }

  /**
   * The server ended (or broke) the book subscription on a live channel: subscribe again after
   * the last book id delivered, on the same channel. A second error before any event arrives
   * means resuming does not help (e.g. the same message too large again): fail, so the feed
   * reconnects or falls back.
   */
  resubscribe(reason) {
    if (this.resubscribing) {
      this.fail(reason);
      return;
    }
    this.resubscribing = true;
    this.resubscribes += 1;
    this.feed.nativeReconnect?.(this); // the next event is a resume or a reset: count it so
    this.subscribe(this.lastBookId ?? this.afterId);
  }

  count(text) {
    this.feed.stats.rtc.bytes += text.length + SCTP_DATA_HEADER_BYTES;
  }

  onTicker(text) {
    if (this.closed) return;
    this.count(text);
    const msg = JSON.parse(text);
    switch (msg.type) {
      case "md.ticker":
        this.received.ticker.ticker = (this.received.ticker.ticker ?? 0) + 1;
        if (this.latest.accept(msg.data.symbol, msg.data.ts)) this.feed.deliver(this, msg.id, "ticker", msg.data, false);
        break;
      case "subscribed":
      case "unsubscribed":
      case "pong":
        break;
      case "error":
        this.feed.stats.rtc.lastError = `ticker: ${msg.code}: ${msg.message}`;
        break;
      default:
        throw new Error(`unexpected message type on the ticker channel: ${msg.type}`);
    }
  }

  onBook(text) {
    if (this.closed) return;
    this.count(text);
    const msg = JSON.parse(text);
    if (msg.type.startsWith(MD_PREFIX)) {
      const event = msg.type.slice(MD_PREFIX.length);
      this.received.book[event] = (this.received.book[event] ?? 0) + 1;
      this.markLive();
      this.resubscribing = false;
      if (msg.id) this.lastBookId = msg.id;
      this.feed.deliver(this, msg.id, event, msg.data);
      return;
    }
    switch (msg.type) {
      case "subscribed":
        this.markLive();
        break;
      case "unsubscribed":
      case "pong":
        break;
      case "error":
        this.feed.stats.rtc.lastError = `${msg.code}: ${msg.message}`;
        if (!this.live) this.fail(msg.code);
        // no req_id: the subscription ended (or lost a message); req_id of our resubscribe:
        // it was refused, and the channel would stay silent
        else if (msg.req_id === undefined || (this.resubscribing && msg.req_id === this.reqId)) {
          this.resubscribe(`${msg.code}: ${msg.message}`);
        }
        break;
      default:
        throw new Error(`unexpected message type on the book channel: ${msg.type}`);
    }
  }

  markLive() {
    if (this.live || this.closed) return;
    this.live = true;
    clearTimeout(this.timer);
    this.feed.transportLive(this);
  }

  fail(reason) {
    if (this.closed) return;
    this.close();
    this.feed.transportFailed(this, reason);
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.abort.abort();
    for (const channel of [this.ticker, this.book]) {
      channel.onclose = null;
      channel.onmessage = null;
      channel.close();
    }
    this.pc.onconnectionstatechange = null;
    this.pc.close();
  }
}
