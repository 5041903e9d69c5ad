/**
 * Race bookkeeping: the same market feed over several transports at once, compared per event.
 * Pure (no DOM, no network, no clock: every time is passed in).
 *
 * Exports RaceBoard, RATE_WINDOW_MS.
 *
 * Contract of RaceBoard({ lanes, keep }):
 * - opened(lane, at) when a lane's stream is (re)opened, live(lane, at) when it is subscribed,
 *   failed(lane, reason, terminal) when it drops (terminal: it will not come back and leaves
 *   the race), addBytes(lane, n) for what it received.
 * - arrival(lane, id, event, tsNs, arrivalEpochMs, at): one market-data event. `at` is the
 *   page's monotonic clock (ms), `arrivalEpochMs` the same instant on the epoch clock, compared
 *   with the server's `ts` (ns) for latency. Answers the winner's name when this arrival decided
 *   an event, else null.
 * - Who won: for each event id, the lane that delivered it first. Only *contested* events
 *   count: live events (they carry `ts`; snapshots answer a subscription, they are not a
 *   delivery race) first seen while every lane still in the race was live, so a lane that is
 *   still connecting never loses events it could not have received. A lane seeing an id twice
 *   (a resume after a reconnect) counts once. Shares are wins / contested * 100 and sum to 100.
 * - summary(at) gives per-lane figures: state, messages, bytes, bytesPerEvent, latency
 *   {p50, p99, n} (event ts -> arrival, ms), rate (messages/s over the last RATE_WINDOW_MS),
 *   firstEventMs (first open -> first event), wins, share (%), lead {p50, n} (how far ahead of
 *   the runner-up the winner was, ms), lastError; plus `contested`.
 */
import { LatencyWindow } from "./stats.js";

export const RATE_WINDOW_MS = 5000;
// Events whose ts is this far from the page's clock come from a replayed market's simulated
// clock: they say nothing about latency (same guard as the live panel).
const MAX_SKEW_MS = 60000;

class LaneRecord {
  constructor(name, index) {
    this.name = name;
    this.index = index;
    this.state = "idle"; // idle | connecting | live | reconnecting | failed | closed
    this.out = false; // left the race for good
    this.messages = 0;
    this.bytes = 0;
    this.openedAt = null;
    this.firstEventAt = null;
    this.wins = 0;
    this.lastError = "";
    this.latency = new LatencyWindow();
    this.lead = new LatencyWindow();
    this.arrivals = []; // monotonic times of recent arrivals, for the rate
  }
}

export class RaceBoard {
  constructor({ lanes, keep = 8192 }) {
    if (!lanes.length) throw new Error("a race needs at least one lane");
    this.lanes = new Map(lanes.map((name, i) => [name, new LaneRecord(name, i)]));
    this.keep = keep;
    this.events = new Map(); // id -> { winner, at, seen (bit set of lanes), contested }
    this.contested = 0;
  }

  lane(name) {
    const rec = this.lanes.get(name);
    if (!rec) throw new Error(`not in this race: ${name}`);
    return rec;
  }

  opened(name, at) {
    const rec = this.lane(name);
    rec.state = rec.openedAt === null ? "connecting" : "reconnecting";
    if (rec.openedAt === null) rec.openedAt = at;
  }

  live(name) {
    const rec = this.lane(name);
    rec.state = "live";
    rec.out = false;
  }

  failed(name, reason, terminal = false) {
    const rec = this.lane(name);
    rec.state = terminal ? "failed" : "reconnecting";
    rec.out = terminal;
    rec.lastError = reason;
  }

  closed(name) {
    this.lane(name).state = "closed";
  }

  addBytes(name, n) {
    this.lane(name).bytes += n;
  }

  /** Whether every lane still in the race is live (then a new event is a fair race). */
  allLive() {
    for (const rec of this.lanes.values()) if (!rec.out && rec.state !== "live") return false;
    return true;
  }

  arrival(name, id, event, tsNs, arrivalEpochMs, at) {
    const rec = this.lane(name);
    rec.messages += 1;
    if (rec.firstEventAt === null) rec.firstEventAt = at;
    rec.arrivals.push(at);
    if (rec.arrivals.length > 4096 || rec.arrivals[0] < at - RATE_WINDOW_MS) this.trimRate(rec, at);
    if (typeof tsNs !== "number" || !id) return null;
    const latency = arrivalEpochMs - tsNs / 1e6;
    if (latency > -1000 && latency < MAX_SKEW_MS) rec.latency.add(Math.max(0, latency));
    const bit = 1 << rec.index;
    const known = this.events.get(id);
    if (known) {
      if (known.seen & bit) return null; // the same lane again: a resume, not a new arrival
      known.seen |= bit;
      if (known.contested && known.runnerUp === false) {
        known.runnerUp = true;
        this.lanes.get(known.winner).lead.add(at - known.at);
      }
      return null;
    }
    const contested = this.allLive();
    this.events.set(id, { winner: name, at, seen: bit, contested, runnerUp: false });
    if (this.events.size > this.keep) this.events.delete(this.events.keys().next().value);
    if (!contested) return null;
    this.contested += 1;
    rec.wins += 1;
    return name;
  }

  trimRate(rec, at) {
    const from = at - RATE_WINDOW_MS;
    let drop = 0;
    while (drop < rec.arrivals.length && rec.arrivals[drop] < from) drop += 1;
    rec.arrivals.splice(0, Math.max(drop, rec.arrivals.length - 4096));
  }

  summary(at) {
    const lanes = {};
    for (const rec of this.lanes.values()) {
      this.trimRate(rec, at);
      const span = rec.firstEventAt === null ? 0 : Math.min(RATE_WINDOW_MS, at - rec.firstEventAt);
      const recent = rec.arrivals.filter((t) => t > at - RATE_WINDOW_MS && t <= at).length;
      const lead = rec.lead.summary();
      lanes[rec.name] = {
        state: rec.state,
        inRace: !rec.out,
        messages: rec.messages,
        bytes: rec.bytes,
        bytesPerEvent: rec.messages ? rec.bytes / rec.messages : null,
        latency: rec.latency.summary(),
        rate: span > 0 ? (recent * 1000) / span : 0,
        firstEventMs: rec.firstEventAt === null ? null : rec.firstEventAt - rec.openedAt,
        wins: rec.wins,
        share: this.contested ? (rec.wins * 100) / this.contested : null,
        lead: { p50: lead.p50, n: lead.n },
        lastError: rec.lastError,
      };
    }
    return { contested: this.contested, lanes };
  }
}
