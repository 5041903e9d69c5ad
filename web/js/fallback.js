/**
 * Pure decision logic for the market-data transports: which transport to use next and when.
 *
 * Exports FallbackPolicy, backoffDelay(attempt, options, random), detectSupport(globalObj).
 *
 * Contract: the feed asks first() for the initial mode, reports failure(mode, everConnected)
 * whenever a transport fails or drops, and success(mode) when it delivers. failure() answers
 * { mode, delayMs }: the mode to (re)open after delayMs. A transport that never connected in
 * this session falls back after one failure (feature gone or refused by the server); one that
 * worked before gets `maxRetries` reconnects before falling back (a server restart should not
 * push the page to long polling). A forced mode never falls back, except an opt-in one
 * (PREFERRED_ONLY: WebRTC, which needs an ICE path the network may not give): forcing it puts
 * it first in the order, and its failures fall back along the usual chain. No clock, no I/O.
 *
 * Also exports PREFERRED_ONLY.
 */
import { TRANSPORTS } from "./protocol.js";

/** Opt-in transports that, when forced, are preferred rather than pinned. */
export const PREFERRED_ONLY = Object.freeze(["rtc"]);

/** Capped exponential backoff with +-20% jitter: 250, 500, 1000, ... <= cap ms. */
export function backoffDelay(attempt, { baseMs = 250, capMs = 5000 } = {}, random = Math.random) {
  const raw = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(raw * (0.8 + 0.4 * random()));
}

/** Which transports this environment can run at all (feature detection). */
export function detectSupport(globalObj) {
  return {
    ws: typeof globalObj.WebSocket === "function",
    sse: typeof globalObj.EventSource === "function",
    poll: typeof globalObj.fetch === "function",
    rtc: typeof globalObj.RTCPeerConnection === "function",
  };
}

export class FallbackPolicy {
  constructor({ order = TRANSPORTS, supported = { ws: true, sse: true, poll: true }, forced = null, maxRetries = 3, random = Math.random } = {}) {
    const usable = forced && supported[forced] ? forced : null;
    this.preferred = usable && PREFERRED_ONLY.includes(usable) ? usable : null;
    if (this.preferred) order = [this.preferred, ...order.filter((mode) => mode !== this.preferred)];
    this.order = order.filter((mode) => supported[mode]);
    if (this.order.length === 0) throw new Error("no market-data transport is supported here");
    this.forced = this.preferred ? null : usable;
    this.maxRetries = maxRetries;
    this.random = random;
    this.failures = Object.fromEntries(this.order.map((mode) => [mode, 0]));
  }

  first() {
    return this.forced ?? this.order[0];
  }

  success(mode) {
    this.failures[mode] = 0;
  }

  failure(mode, everConnected) {
    this.failures[mode] += 1;
    const attempts = this.failures[mode];
    const delayMs = backoffDelay(attempts, {}, this.random);
    if (this.forced) return { mode: this.forced, delayMs };
    const index = this.order.indexOf(mode);
    const last = index === this.order.length - 1;
    const giveUp = everConnected ? attempts > this.maxRetries : true;
    if (!giveUp || last) return { mode, delayMs };
    // Falling back is immediate: the next transport has not failed yet.
    return { mode: this.order[index + 1], delayMs: 0 };
  }
}
