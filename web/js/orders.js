/**
 * Order entry over the WebSocket `/ws?token=` (PROTOCOL §3), exactly once.
 *
 * Exports OrderTracker (pure state: orders by client_order_id, fills, the execution stream
 * position, unanswered requests; replaces, stop orders and their triggers, live fills), OrderClient (the socket: reconnect with capped backoff,
 * `executions.resume` from the last exec_seq, then re-send of every unanswered request with
 * the SAME client_order_id; a lost `orders.cancel_all`, which has no key, is dropped with a
 * notice instead) and newClientOrderId().
 *
 * Exactly once: an order is keyed by its client_order_id; execution-stream messages are
 * applied only when their exec_seq is the next one (older ones are duplicates, newer ones
 * mean a gap that `executions.resume` fills); a re-sent order is answered by the server with
 * a duplicate ack of the same order, never a second order.
 */
import { backoffDelay } from "./fallback.js";
import { MESSAGE_TYPES, OPS, formatUnits, toUnits } from "./protocol.js";

/** A request unanswered this long on a live socket is sent again (same key: at most once). */
export const ACK_TIMEOUT_MS = 3000;

let keyCounter = 0;
const sessionTag = Math.floor(Math.random() * 36 ** 6).toString(36).padStart(6, "0");

/** A fresh idempotency key: `web-<session tag>-<time base36>-<counter>` (<= 64 chars, [A-Za-z0-9.-]). */
export function newClientOrderId(now = Date.now()) {
  keyCounter += 1;
  return `web-${sessionTag}-${now.toString(36)}-${keyCounter}`;
}

function decimalsOf(text) {
  const dot = text.indexOf(".");
  return dot < 0 ? 0 : text.length - dot - 1;
}

function isZero(text) {
  return /^0+(\.0+)?$/.test(text);
}

export class OrderTracker {
  constructor() {
    this.orders = new Map(); // client_order_id -> order state
    this.fills = []; // order.fill payloads, in exec_seq order
    this.lastExecSeq = 0;
    this.pending = new Map(); // request key -> message to re-send until answered
    this.keyByReq = new Map(); // req_id -> request key
    this.nextReqId = 1;
    this.resuming = false;
    // Fills applied after the first `executions.resumed`: the ones the user has not seen yet
    // (what the first resume replays happened before the page connected). takeLiveFills() drains.
    this.synced = false;
    this.liveFills = [];
  }

  request(key, msg) {
    const withId = { ...msg, req_id: this.nextReqId };
    this.nextReqId += 1;
    this.pending.set(key, withId);
    this.keyByReq.set(withId.req_id, key);
    return withId;
  }

  /** Record a new order (fields as order.new without op/req_id); returns the message to send. */
  newOrder(fields) {
    const coid = fields.client_order_id;
    if (this.orders.has(coid)) throw new Error(`client_order_id ${coid} already used on this page`);
    this.orders.set(coid, { ...fields, status: "pending", filled_qty: "0", leaves_qty: fields.qty, order_id: null });
    return this.request(`new:${coid}`, { op: OPS.ORDER_NEW, ...fields });
  }

  /**
   * Record an order.replace of the open order `origClientOrderId` under the new key
   * `clientOrderId` with `change` ({ price?, qty? }: the new price, the new total quantity);
   * returns the message to send. The replacement is "pending" until its ack, which keeps the
   * order id and retires the old key ("replaced"), or its reject, which leaves the order as it was.
   */
  replace(origClientOrderId, clientOrderId, change) {
    const orig = this.orders.get(origClientOrderId);
    if (!orig) throw new Error(`unknown order ${origClientOrderId}`);
    if (this.orders.has(clientOrderId)) throw new Error(`client_order_id ${clientOrderId} already used on this page`);
    const msg = { op: OPS.ORDER_REPLACE, client_order_id: clientOrderId, orig_client_order_id: origClientOrderId };
    if (change.price !== undefined) msg.price = change.price;
    if (change.qty !== undefined) msg.qty = change.qty;
    this.orders.set(clientOrderId, {
      ...orig,
      client_order_id: clientOrderId,
      price: change.price ?? orig.price,
      qty: change.qty ?? orig.qty,
      status: "pending",
      replaces: origClientOrderId,
      reject: null,
    });
    return this.request(`new:${clientOrderId}`, msg);
  }

  /** The fills applied live since the last call (for notifications), oldest first. */
  takeLiveFills() {
    const fills = this.liveFills;
    this.liveFills = [];
    return fills;
  }

  cancel(clientOrderId) {
    return this.request(`cancel:${clientOrderId}`, { op: OPS.ORDER_CANCEL, client_order_id: clientOrderId });
  }

  cancelAll(symbol = null) {
    const msg = { op: OPS.ORDERS_CANCEL_ALL };
    if (symbol) msg.symbol = symbol;
    return this.request(`cancel_all:${this.nextReqId}`, msg);
  }

  /** Requests sent but not answered, in the order they were made (re-send them after resume). */
  unanswered() {
    return [...this.pending.values()];
  }

  answered(reqId, key) {
    const byReq = reqId !== undefined && reqId !== null ? this.keyByReq.get(reqId) : undefined;
    if (byReq !== undefined) this.pending.delete(byReq);
    if (key) this.pending.delete(key);
  }

  openOrders() {
    return [...this.orders.values()].filter((o) => o.status === "open" || o.status === "partially_filled");
  }

  /**
   * Apply one server message. Returns an action for the socket: "resume" (ask for
   * executions after lastExecSeq), "resend" (send unanswered() now), or null.
   */
  handle(msg) {
    if (msg.exec_seq !== undefined && msg.exec_seq !== null) {
      if (msg.exec_seq <= this.lastExecSeq) {
        this.answeredBy(msg);
        return null; // already applied: a replay or a duplicate delivery
      }
      if (msg.exec_seq > this.lastExecSeq + 1) {
        if (this.resuming) return null;
        this.resuming = true;
        return "resume";
      }
      this.lastExecSeq = msg.exec_seq;
    }
    switch (msg.type) {
      case MESSAGE_TYPES.SESSION:
        this.resuming = true;
        return "resume";
      case MESSAGE_TYPES.EXECUTIONS_RESUMED:
        this.resuming = false;
        this.synced = true;
        return "resend";
      case MESSAGE_TYPES.ORDER_ACK:
      case MESSAGE_TYPES.ORDER_STATUS:
        this.applyAck(msg);
        break;
      case MESSAGE_TYPES.ORDER_REJECT:
        this.applyReject(msg);
        break;
      case MESSAGE_TYPES.ORDER_FILL:
        this.applyFill(msg);
        if (this.synced) this.liveFills.push(msg);
        break;
      case MESSAGE_TYPES.ORDER_TRIGGERED:
        this.applyTriggered(msg);
        break;
      case MESSAGE_TYPES.ORDER_CANCELED:
        this.applyCanceled(msg);
        break;
      case MESSAGE_TYPES.ORDERS_CANCELED_ALL:
        this.answered(msg.req_id, null);
        break;
      case MESSAGE_TYPES.ERROR:
        this.applyError(msg);
        break;
      case MESSAGE_TYPES.PONG:
      case MESSAGE_TYPES.DEADMAN_SET:
      case MESSAGE_TYPES.DRILL_SET:
      case MESSAGE_TYPES.SUBSCRIBED:
      case MESSAGE_TYPES.UNSUBSCRIBED:
        break;
      default:
        throw new Error(`unexpected message type on /ws: ${msg.type}`);
    }
    return null;
  }

  // A replayed message still answers the request that caused it.
  answeredBy(msg) {
    if (msg.type === MESSAGE_TYPES.ORDER_ACK) this.answered(msg.req_id, `new:${msg.client_order_id}`);
    if (msg.type === MESSAGE_TYPES.ORDER_CANCELED) this.answered(msg.req_id, `cancel:${msg.client_order_id}`);
  }

  applyAck(msg) {
    this.answered(msg.req_id, `new:${msg.client_order_id}`);
    const known = this.orders.get(msg.client_order_id) ?? {};
    // A fill can arrive in the stream before a duplicate ack with older state; keep the furthest.
    if (known.status === "filled" || known.status === "canceled" || known.status === "replaced") {
      if (msg.status === "open" || msg.status === "partially_filled") return;
    }
    this.orders.set(msg.client_order_id, {
      ...known,
      client_order_id: msg.client_order_id,
      order_id: msg.order_id,
      symbol: msg.symbol,
      side: msg.side,
      order_type: msg.order_type,
      price: msg.price,
      qty: msg.qty,
      tif: msg.tif,
      post_only: msg.post_only,
      status: msg.status,
      filled_qty: msg.filled_qty,
      leaves_qty: msg.leaves_qty,
      ts: msg.ts,
      reject: null,
      // stop orders only (absent on the others): the stop price, and whether it has traded
      stop_price: msg.stop_price ?? null,
      triggered: msg.triggered ?? null,
    });
    // A replace keeps the order id under the new key: the old key no longer names an open order.
    for (const other of this.orders.values()) {
      if (other.client_order_id !== msg.client_order_id && other.order_id === msg.order_id && (other.status === "open" || other.status === "partially_filled")) {
        other.status = "replaced";
        other.replacedBy = msg.client_order_id;
      }
    }
  }

  applyTriggered(msg) {
    const order = this.orders.get(msg.client_order_id);
    if (!order) return;
    order.triggered = true;
    order.trigger_price = msg.trigger_price;
    if (order.stop_price === null || order.stop_price === undefined) order.stop_price = msg.stop_price;
  }

  applyReject(msg) {
    const key = this.keyByReq.get(msg.req_id);
    this.answered(msg.req_id, null);
    const order = this.orders.get(msg.client_order_id);
    // Only a rejected *new* order becomes "rejected"; a refused cancel leaves the order alone.
    if (order && (key === undefined || key.startsWith("new:")) && order.status === "pending") {
      order.status = "rejected";
      order.reject = { code: msg.code, message: msg.message };
    }
  }

  applyFill(msg) {
    this.fills.push(msg);
    const order = this.orders.get(msg.client_order_id);
    if (!order) return;
    const decimals = Math.max(decimalsOf(msg.qty), decimalsOf(order.filled_qty ?? "0"));
    order.filled_qty = formatUnits(toUnits(order.filled_qty ?? "0", decimals) + toUnits(msg.qty, decimals), decimals);
    order.leaves_qty = msg.leaves_qty;
    order.status = isZero(msg.leaves_qty) ? "filled" : "partially_filled";
    if (!order.order_id) order.order_id = msg.order_id;
  }

  applyCanceled(msg) {
    this.answered(msg.req_id, `cancel:${msg.client_order_id}`);
    const order = this.orders.get(msg.client_order_id);
    if (!order) return;
    order.status = "canceled";
    order.reason = msg.reason;
    if (msg.filled_qty !== undefined) order.filled_qty = msg.filled_qty;
    order.leaves_qty = "0";
  }

  applyError(msg) {
    const key = this.keyByReq.get(msg.req_id);
    this.answered(msg.req_id, null);
    if (key && key.startsWith("new:")) {
      const order = this.orders.get(key.slice(4));
      if (order && order.status === "pending") {
        order.status = "rejected";
        order.reject = { code: msg.code, message: msg.message };
      }
    }
  }
}

/**
 * The order socket. Call connect(); submit()/cancel()/cancelAll() work at any time: requests
 * made while disconnected are sent after the next resume. onUpdate(tracker, msg) runs after
 * every message; onState(state) on connection changes ("connecting", "live", "down").
 * A request unanswered for ackTimeoutMs on a live socket is sent again with its key. The
 * dead-man's switch (armDeadman) is re-armed on each reconnect and kept alive with pings;
 * wireTaps see every frame; cut(holdMs) drops the connection for the fault drills.
 */
export class OrderClient {
  constructor({ token, env = globalThis, onUpdate = () => {}, onState = () => {}, ackTimeoutMs = ACK_TIMEOUT_MS }) {
    this.token = token;
    this.env = env;
    this.onUpdate = onUpdate;
    this.onState = onState;
    this.tracker = new OrderTracker();
    this.socket = null;
    this.ready = false;
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
    this.reconnects = 0;
    this.resent = 0;
    this.retried = 0; // requests sent again on a live socket after ackTimeoutMs without an answer
    this.connectedFresh = false;
    this.notice = "";
    // Every frame up (dir "up") and down ("down"), for the fault drills' timeline (js/drills.js).
    this.wireTaps = new Set();
    this.ackTimeoutMs = ackTimeoutMs;
    this.sentAt = new Map(); // req_id -> performance.now() when last sent, while unanswered
    this.ackTimer = null;
    this.holdUntil = 0; // a drill's cut: no reconnect before this (performance.now())
    // Dead-man's switch (PROTOCOL §3 `deadman`): armed here, re-armed on every reconnect, kept
    // alive by a ping whenever the socket has been quiet for a third of the timeout.
    this.deadmanMs = 0;
    this.lastSentAt = null; // performance.now() of the last frame sent: the server's timer runs from it
    this.heartbeat = null;
  }

  connect() {
    const loc = this.env.location;
    const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
    this.onState("connecting");
    const socket = new this.env.WebSocket(`${scheme}//${loc.host}/ws?token=${encodeURIComponent(this.token)}`);
    this.socket = socket;
    socket.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      this.tap("down", msg);
      this.onMessage(msg);
    };
    socket.onclose = () => {
      if (socket !== this.socket) return;
      this.ready = false;
      this.socket = null;
      clearInterval(this.ackTimer);
      this.ackTimer = null;
      this.onState("down");
      if (this.stopped) return;
      this.attempt += 1;
      this.reconnects += 1;
      const held = Math.max(0, this.holdUntil - performance.now());
      this.timer = setTimeout(() => this.connect(), Math.max(held, backoffDelay(this.attempt, { baseMs: 200, capMs: 5000 })));
    };
  }

  tap(dir, msg) {
    for (const fn of this.wireTaps) fn(dir, msg);
  }

  /**
   * A fault drill: drop the connection now, as a network failure would (the socket closes, the
   * client reconnects and resumes), and stay down at least `holdMs`.
   */
  cut(holdMs = 0) {
    this.holdUntil = performance.now() + holdMs;
    if (this.socket) this.socket.close();
  }

  /** Arm the server's dead-man's switch (`timeoutMs` 0 disarms); kept across reconnects. */
  armDeadman(timeoutMs) {
    this.deadmanMs = timeoutMs;
    clearInterval(this.heartbeat);
    this.heartbeat = null;
    if (timeoutMs > 0) {
      const every = Math.max(100, Math.min(5000, Math.floor(timeoutMs / 3)));
      this.heartbeat = setInterval(() => {
        const quietFor = performance.now() - (this.lastSentAt ?? 0);
        if (this.ready && quietFor >= every) this.rawSend({ op: OPS.PING });
      }, Math.min(every, 1000));
    }
    if (this.ready) this.rawSend({ op: OPS.DEADMAN, req_id: "deadman", timeout_ms: timeoutMs });
  }

  /**
   * The dead-man's switch as the server sees it: null when not armed; else { remainingMs } until
   * it fires counted from the last frame sent (negative: it has fired), and whether it is kept alive.
   */
  deadman() {
    if (this.deadmanMs <= 0) return null;
    const since = this.lastSentAt === null ? 0 : performance.now() - this.lastSentAt;
    return { timeoutMs: this.deadmanMs, remainingMs: this.deadmanMs - since, alive: this.ready };
  }

  // On a live socket, a request with no answer after ackTimeoutMs is sent again (its key makes
  // the server answer a repeat with the original order: `duplicate: true`).
  checkAcks() {
    if (!this.ready) return;
    const now = performance.now();
    if (this.sentAt.size > 2 * this.tracker.pending.size + 16) {
      const open = new Set(this.tracker.unanswered().map((r) => r.req_id));
      for (const reqId of this.sentAt.keys()) if (!open.has(reqId)) this.sentAt.delete(reqId);
    }
    for (const request of this.tracker.unanswered()) {
      const sent = this.sentAt.get(request.req_id);
      if (sent === undefined || now - sent < this.ackTimeoutMs || request.op === OPS.ORDERS_CANCEL_ALL) continue;
      this.retried += 1;
      this.rawSend(request);
    }
  }

  onMessage(msg) {
    // Only the resume that follows a (re)connect re-sends: a resume that fills a gap on a live
    // socket must not, since the unanswered requests are still in flight on that socket.
    if (msg.type === MESSAGE_TYPES.SESSION) this.connectedFresh = true;
    const action = this.tracker.handle(msg);
    if (action === "resume") {
      this.rawSend({ op: OPS.EXECUTIONS_RESUME, req_id: `resume-${this.tracker.lastExecSeq}`, after: this.tracker.lastExecSeq });
    } else if (action === "resend" && this.connectedFresh) {
      this.connectedFresh = false;
      this.ready = true;
      this.attempt = 0;
      this.onState("live");
      // a new connection has no dead-man's switch: arm it again before anything else
      if (this.deadmanMs > 0) this.rawSend({ op: OPS.DEADMAN, req_id: "deadman", timeout_ms: this.deadmanMs });
      clearInterval(this.ackTimer);
      this.ackTimer = setInterval(() => this.checkAcks(), Math.max(50, Math.floor(this.ackTimeoutMs / 4)));
      for (const request of this.tracker.unanswered()) {
        // cancel_all has no key: if the lost one ran, a repeat would also cancel newer orders.
        if (request.op === OPS.ORDERS_CANCEL_ALL) {
          this.tracker.answered(request.req_id, null);
          this.notice = "Cancel all was interrupted by a reconnect: check open orders and press again.";
          continue;
        }
        this.rawSend(request);
        this.resent += 1;
      }
    }
    this.onUpdate(this.tracker, msg);
  }

  rawSend(msg) {
    if (!this.socket || this.socket.readyState !== 1) return;
    this.socket.send(JSON.stringify(msg));
    const now = performance.now();
    this.lastSentAt = now;
    if (msg.req_id !== undefined && this.tracker.keyByReq.has(msg.req_id)) this.sentAt.set(msg.req_id, now);
    this.tap("up", msg);
  }

  // Requests made before the resume completes go out with the re-send batch, in order.
  send(msg) {
    if (this.ready) this.rawSend(msg);
    this.onUpdate(this.tracker, null);
    return msg;
  }

  submit(fields) {
    return this.send(this.tracker.newOrder(fields));
  }

  cancel(clientOrderId) {
    return this.send(this.tracker.cancel(clientOrderId));
  }

  replace(origClientOrderId, clientOrderId, change) {
    return this.send(this.tracker.replace(origClientOrderId, clientOrderId, change));
  }

  cancelAll(symbol = null) {
    return this.send(this.tracker.cancelAll(symbol));
  }

  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.ackTimer);
    clearInterval(this.heartbeat);
    if (this.socket) this.socket.close();
  }
}
