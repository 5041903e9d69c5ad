/**
 * The race runner: one extra stream per transport, in parallel to the page's live feed, all
 * scored on one RaceBoard (js/race.js). The page's own feed is not touched.
 *
 * Exports Race, RACE_LANES.
 *
 * Contract: new Race({ env, symbols, channels, lanes, classes, onChange }).start() opens one
 * lane per name in `lanes` (default: every transport `env` supports) using the same transport
 * classes as MarketFeed (`classes`: name -> constructor(feedLike, afterId)), each lane a
 * feed-like object for its one transport. A lane that drops reopens with backoff and resumes
 * after its last id; one that fails MAX_TRIES times in a row without going live leaves the
 * race (its row says why). stop() closes every stream and timer: after it, no lane has an
 * open socket, EventSource or request. snapshot() = board summary + { running, startedAt,
 * elapsedMs, extensions } where extensions is the race WebSocket's negotiated extensions
 * (permessage-deflate means the wire carries fewer bytes than the counted payload).
 */
import { backoffDelay } from "./fallback.js";
import { RaceBoard } from "./race.js";

export const RACE_LANES = Object.freeze(["ws", "sse", "poll", "rtc"]);
const MAX_TRIES = 3;
const RACE_RTC_CONNECT_TIMEOUT_MS = 15000;

/** What a transport class sees as its feed: counts into one lane of the board. */
class Lane {
  constructor(race, name) {
    this.race = race;
    this.name = name;
    this.env = race.env;
    this.symbols = race.symbols;
    this.channels = race.channels;
    // Transport classes write feed.stats[<their name>].{bytes,state,lastError}; bytes go to the board.
    const board = race.board;
    const counter = {
      state: "idle",
      lastError: "",
      get bytes() {
        return board.lane(name).bytes;
      },
      set bytes(value) {
        board.addBytes(name, value - board.lane(name).bytes);
      },
    };
    this.stats = { [name]: counter };
    // The race measures, it has nothing to fall back to: WebRTC gets longer to connect.
    this.rtcConnectTimeoutMs = RACE_RTC_CONNECT_TIMEOUT_MS;
    this.transport = null;
    this.lastId = null;
    this.tries = 0;
    this.timer = null;
  }

  open() {
    this.race.board.opened(this.name, this.env.performance.now());
    this.transport = new this.race.classes[this.name](this, this.lastId);
    this.transport.name = this.name;
  }

  close() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.transport) this.transport.close();
    this.transport = null;
    this.race.board.closed(this.name);
  }

  transportLive(transport) {
    if (transport !== this.transport) return;
    this.tries = 0;
    this.race.board.live(this.name);
    this.changed();
  }

  nativeReconnect(transport) {
    if (transport === this.transport) this.race.board.live(this.name);
  }

  transportFailed(transport, reason) {
    if (transport !== this.transport || !this.race.running) return;
    this.transport = null;
    this.tries += 1;
    const terminal = this.tries >= MAX_TRIES;
    this.race.board.failed(this.name, reason, terminal);
    if (!terminal) this.timer = setTimeout(() => this.open(), backoffDelay(this.tries));
    this.changed();
  }

  deliver(transport, id, event, data, resumable = true) {
    if (transport !== this.transport) return;
    if (id && resumable) this.lastId = id;
    const perf = this.env.performance;
    const at = perf.now();
    this.race.board.arrival(this.name, id, event, data.ts, perf.timeOrigin + at, at);
  }

  changed() {
    this.race.onChange();
  }
}

export class Race {
  constructor({ env = globalThis, symbols = [], channels, lanes = null, classes, onChange = () => {} }) {
    this.env = env;
    this.symbols = symbols;
    this.channels = channels;
    this.classes = classes;
    this.onChange = onChange;
    const wanted = lanes ?? RACE_LANES.filter((name) => name in classes);
    this.names = wanted.filter((name) => classes[name] && supported(env, name));
    this.board = new RaceBoard({ lanes: this.names });
    this.lanes = new Map(this.names.map((name) => [name, new Lane(this, name)]));
    this.running = false;
    this.startedAt = null;
  }

  start() {
    this.running = true;
    this.startedAt = this.env.performance.now();
    for (const lane of this.lanes.values()) lane.open();
    this.onChange();
  }

  stop() {
    this.running = false;
    for (const lane of this.lanes.values()) lane.close();
    this.onChange();
  }

  snapshot() {
    const now = this.env.performance.now();
    const ws = this.lanes.get("ws")?.transport?.socket;
    return {
      ...this.board.summary(now),
      running: this.running,
      elapsedMs: this.startedAt === null ? 0 : now - this.startedAt,
      extensions: ws ? ws.extensions ?? "" : "",
    };
  }
}

function supported(env, name) {
  const needs = { ws: "WebSocket", sse: "EventSource", poll: "fetch", rtc: "RTCPeerConnection" }[name];
  return !needs || typeof env[needs] === "function";
}
