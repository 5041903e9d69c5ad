/**
 * Fault drills: faults injected into the page's own connections, and what each protocol does
 * about them, step by step (issue 21; docs/drills.md). No DOM (js/drills_view.js draws).
 *
 * Exports Timeline, DRILLS (name -> { title, group, run(ctx, timeline) -> outcome }),
 * runDrill(name, ctx, timeline), outcomeLabel, waitFor, marketablePrice, passivePrice, SOURCES.
 *
 * ctx: { orders: OrderClient, feed: MarketFeed, store: MarketStore, symbol, spec (the
 * symbol's grid from /api/symbols), fetchJson(path, options) (the user's token),
 * openSession(): Promise<{ account, token }> (a fresh demo account), env (globalThis) }.
 * An outcome is { ok, summary, facts }: `ok` is decided from what the server says (REST,
 * the execution stream), not from the page's own belief.
 *
 * Faults are the client's (a socket closed as a network drop would, a frame delayed, doubled
 * or corrupted before the page reads it), except the withheld ack, which only the server can
 * withhold: the `drill` op, answered only by a server run with --drills.
 */
import { MESSAGE_TYPES, OPS, formatUnits, toUnits } from "./protocol.js";
import { newClientOrderId } from "./orders.js";

export const SOURCES = Object.freeze({ CLIENT: "client", UP: "wire ↑", DOWN: "wire ↓", SERVER: "server" });
const WAIT_MS = 8000;

/** The drill's log: rows of { t (ms since start), source, text }; toText() for the clipboard. */
export class Timeline {
  constructor(now = () => performance.now()) {
    this.now = now;
    this.rows = [];
    this.title = "";
    this.t0 = now();
    this.onChange = () => {};
  }

  start(title) {
    this.title = title;
    this.rows = [];
    this.t0 = this.now();
    this.onChange();
  }

  log(source, text) {
    this.rows.push({ t: this.now() - this.t0, source, text });
    this.onChange();
  }

  toText(outcome = null) {
    const lines = [`tickwire drill: ${this.title}`];
    for (const row of this.rows) lines.push(`${row.t.toFixed(1).padStart(8)} ms  ${row.source.padEnd(6)}  ${row.text}`);
    if (outcome) lines.push(`outcome: ${outcomeLabel(outcome)}: ${outcome.summary}`);
    return lines.join("\n");
  }
}

/** PASS, FAIL, or NOT RUN (the drill could not start: not logged in, the hook is off ...). */
export function outcomeLabel(outcome) {
  if (!outcome) return "";
  if (outcome.ok) return "PASS";
  return outcome.facts?.refused || outcome.facts?.error ? "NOT RUN" : "FAIL";
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolve once pred() is truthy (checked every 20 ms); reject with `what` after timeoutMs. */
export async function waitFor(pred, what, timeoutMs = WAIT_MS) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = pred();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function shift(price, ticks, spec) {
  const d = spec.price_decimals;
  return formatUnits(toUnits(price, d) + BigInt(ticks) * toUnits(spec.tick_size, d), d);
}

/**
 * A buy limit through the best ask by 20 ticks or 0.5 %, whichever is more (it trades at once
 * even when the page's book lags the engine's by a few moves), or null (no ask).
 */
export function marketablePrice(book, spec) {
  const ask = book?.bestAsk();
  if (!ask) return null;
  const d = spec.price_decimals;
  const tick = toUnits(spec.tick_size, d);
  const halfPercent = (toUnits(ask[0], d) + 199n) / 200n;
  const ticks = (halfPercent + tick - 1n) / tick;
  return shift(ask[0], ticks > 20n ? ticks : 20n, spec);
}

/** A buy limit well under the best bid (it rests), or null (empty book). */
export function passivePrice(book, spec) {
  const bid = book?.bestBid() ?? book?.bestAsk();
  if (!bid) return null;
  const d = spec.price_decimals;
  const units = (toUnits(bid[0], d) * 9n) / 10n;
  const tick = toUnits(spec.tick_size, d);
  return formatUnits(units - (units % tick) || tick, d);
}

function describe(msg) {
  const parts = [msg.type ?? msg.op];
  for (const key of ["client_order_id", "status", "qty", "price", "leaves_qty", "exec_seq", "after", "latest_exec_seq", "reason", "timeout_ms", "fault", "count", "code"]) {
    if (msg[key] !== undefined && msg[key] !== null) parts.push(`${key}=${msg[key]}`);
  }
  if (msg.duplicate) parts.push("duplicate=true");
  return parts.join(" ");
}

/** Log every frame of `orders` to the timeline while fn runs (pings and pongs left out). */
async function tapped(orders, timeline, fn) {
  const tap = (dir, msg) => {
    const kind = msg.type ?? msg.op;
    if (kind === OPS.PING || kind === MESSAGE_TYPES.PONG) return;
    timeline.log(dir === "up" ? SOURCES.UP : SOURCES.DOWN, describe(msg));
  };
  const state = (s) => timeline.log(SOURCES.CLIENT, `order socket ${s}`);
  orders.wireTaps.add(tap);
  const before = orders.onState;
  orders.onState = (s) => {
    state(s);
    before(s);
  };
  try {
    return await fn();
  } finally {
    orders.wireTaps.delete(tap);
    orders.onState = before;
  }
}

function signedQty(fill, decimals) {
  const units = toUnits(fill.qty, decimals);
  return fill.side === "sell" ? -units : units;
}

async function positionUnits(fetchJson, symbol, decimals) {
  const account = await fetchJson("/api/account");
  const pos = account.positions.find((p) => p.symbol === symbol);
  return pos ? toUnits(pos.qty, decimals) : 0n;
}

/**
 * The check behind "traded once": the server's order `key` (one order, the quantity asked),
 * its filled quantity equal to the fills the page applied (none lost, none twice, unique trade
 * ids), and the position moved by exactly the fills of the drill's window.
 */
async function tradedOnce(ctx, timeline, key, qty, fillsBefore, positionBefore) {
  const { spec, symbol, fetchJson, orders } = ctx;
  const d = spec.qty_decimals;
  await waitFor(() => orders.ready && orders.tracker.synced && orders.tracker.pending.size === 0, "every request answered");
  const server = await fetchJson(`/api/orders/${encodeURIComponent(key)}`);
  timeline.log(SOURCES.SERVER, `GET /api/orders/${key}: status=${server.status} qty=${server.qty} filled_qty=${server.filled_qty}`);
  const window = orders.tracker.fills.slice(fillsBefore);
  const mine = window.filter((f) => f.client_order_id === key);
  const tradeIds = new Set(mine.map((f) => f.trade_id));
  const pageFilled = mine.reduce((sum, f) => sum + toUnits(f.qty, d), 0n);
  const moved = (await positionUnits(fetchJson, symbol, d)) - positionBefore;
  const expected = window.filter((f) => f.symbol === symbol).reduce((sum, f) => sum + signedQty(f, d), 0n);
  timeline.log(SOURCES.SERVER, `GET /api/account: ${symbol} position moved ${formatUnits(moved, d)} (fills in the window: ${formatUnits(expected, d)})`);
  const facts = {
    serverFilled: server.filled_qty,
    pageFilled: formatUnits(pageFilled, d),
    fills: mine.length,
    positionMoved: formatUnits(moved, d),
  };
  const ok =
    toUnits(server.qty, d) === toUnits(qty, d) &&
    toUnits(server.filled_qty, d) === pageFilled &&
    tradeIds.size === mine.length &&
    moved === expected &&
    pageFilled > 0n;
  const summary = ok
    ? `traded once: one order ${key}, filled ${server.filled_qty} in ${mine.length} fill(s), position +${formatUnits(moved, d)}`
    : `NOT once: server filled ${server.filled_qty}, page applied ${formatUnits(pageFilled, d)} in ${mine.length} fill(s) (${tradeIds.size} trade ids), position moved ${formatUnits(moved, d)}`;
  return { ok, summary, facts };
}

function orderFields(ctx, price, tif = "ioc") {
  return {
    client_order_id: newClientOrderId(),
    symbol: ctx.symbol,
    side: "buy",
    order_type: "limit",
    qty: ctx.spec.min_qty,
    price,
    tif,
    post_only: false,
  };
}

async function prepareOrder(ctx, timeline, passive = false) {
  const { orders, store, symbol, spec } = ctx;
  if (!orders) throw new Error("log in first: the order drills trade on your account");
  await waitFor(() => orders.ready, "the order socket to be live");
  const book = store.books.get(symbol);
  const price = passive ? passivePrice(book, spec) : marketablePrice(book, spec);
  if (!price) throw new Error(`no ${passive ? "bid" : "ask"} in the ${symbol} book to trade against`);
  const fields = orderFields(ctx, price, passive ? "gtc" : "ioc");
  timeline.log(SOURCES.CLIENT, `order ${fields.client_order_id}: buy ${fields.qty} ${symbol} @ ${price} ${fields.tif.toUpperCase()}`);
  const fillsBefore = orders.tracker.fills.length;
  const positionBefore = await positionUnits(ctx.fetchJson, symbol, spec.qty_decimals);
  return { fields, fillsBefore, positionBefore };
}

const ackOf = (orders, key) => () => {
  const o = orders.tracker.orders.get(key);
  return o && o.status !== "pending" ? o : null;
};

function onceDown(orders, pred) {
  return new Promise((resolve) => {
    const tap = (dir, msg) => {
      if (dir === "down" && pred(msg)) {
        orders.wireTaps.delete(tap);
        resolve(msg);
      }
    };
    orders.wireTaps.add(tap);
  });
}

async function dropBeforeSend(ctx, timeline) {
  const { orders } = ctx;
  return tapped(orders, timeline, async () => {
    const { fields, fillsBefore, positionBefore } = await prepareOrder(ctx, timeline);
    timeline.log(SOURCES.CLIENT, "cut the order connection (held down 1 s)");
    orders.cut(1000);
    await waitFor(() => !orders.ready, "the socket to close");
    orders.submit(fields);
    timeline.log(SOURCES.CLIENT, `order ${fields.client_order_id} queued while down: it goes out after the resume, with its key`);
    await waitFor(ackOf(orders, fields.client_order_id), "the order's answer");
    return tradedOnce(ctx, timeline, fields.client_order_id, fields.qty, fillsBefore, positionBefore);
  });
}

/** Send the same order.new again (same key) and wait for the server's duplicate answer. */
async function resendSameKey(ctx, timeline, fields) {
  const { orders } = ctx;
  timeline.log(SOURCES.CLIENT, `resend order.new with the same key ${fields.client_order_id}`);
  const answer = onceDown(orders, (m) => m.req_id === "drill-resend");
  orders.rawSend({ op: OPS.ORDER_NEW, req_id: "drill-resend", ...fields });
  const ack = await Promise.race([answer, sleep(WAIT_MS).then(() => null)]);
  if (!ack) throw new Error("no answer to the resend");
  return ack;
}

async function dropAfterSend(ctx, timeline) {
  const { orders } = ctx;
  return tapped(orders, timeline, async () => {
    const { fields, fillsBefore, positionBefore } = await prepareOrder(ctx, timeline);
    orders.submit(fields);
    orders.cut(500); // same turn: the frame is on the wire, the ack will not be read
    timeline.log(SOURCES.CLIENT, "cut the order connection right after sending, before the ack");
    await waitFor(ackOf(orders, fields.client_order_id), "the order's state after the reconnect");
    const order = orders.tracker.orders.get(fields.client_order_id);
    timeline.log(SOURCES.CLIENT, `after the resume the page knows ${fields.client_order_id}: ${order.status} (from the execution stream)`);
    const dup = await resendSameKey(ctx, timeline, fields);
    const result = await tradedOnce(ctx, timeline, fields.client_order_id, fields.qty, fillsBefore, positionBefore);
    const sameOrder = dup.type === MESSAGE_TYPES.ORDER_ACK && dup.duplicate === true && dup.order_id === order.order_id;
    return {
      ok: result.ok && sameOrder,
      summary: sameOrder ? `${result.summary}; the resend was answered duplicate:true, status ${dup.status}` : `the resend was not a duplicate of the same order: ${describe(dup)}`,
      facts: { ...result.facts, duplicate: dup.duplicate === true },
    };
  });
}

async function dropAfterFill(ctx, timeline) {
  const { orders } = ctx;
  return tapped(orders, timeline, async () => {
    const { fields, fillsBefore, positionBefore } = await prepareOrder(ctx, timeline);
    const filled = onceDown(orders, (m) => m.type === MESSAGE_TYPES.ORDER_FILL && m.client_order_id === fields.client_order_id);
    orders.submit(fields);
    const fill = await Promise.race([filled, sleep(WAIT_MS).then(() => null)]);
    if (!fill) throw new Error("the order did not fill (the book moved away?): run it again");
    orders.cut(500);
    timeline.log(SOURCES.CLIENT, `cut the order connection right after the fill (exec_seq ${fill.exec_seq})`);
    await waitFor(() => !orders.ready, "the socket to close");
    await waitFor(() => orders.ready, "the reconnect and resume");
    return tradedOnce(ctx, timeline, fields.client_order_id, fields.qty, fillsBefore, positionBefore);
  });
}

/** A raw socket on `token` (no idempotent client around it), for the keyless demonstration. */
function rawSocket(env, token) {
  const loc = env.location;
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  const socket = new env.WebSocket(`${scheme}//${loc.host}/ws?token=${encodeURIComponent(token)}`);
  const inbox = [];
  socket.onmessage = (ev) => inbox.push(JSON.parse(ev.data));
  const opened = new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error("the drill's socket could not connect"));
  });
  return { socket, inbox, opened };
}

async function noKey(ctx, timeline) {
  const { store, symbol, spec, env } = ctx;
  const { account, token } = await ctx.openSession();
  timeline.log(SOURCES.CLIENT, `throwaway demo account ${account} (yours is not touched)`);
  const authed = (path) => fetch(path, { headers: { Authorization: `Bearer ${token}` } }).then((r) => r.json());
  const d = spec.qty_decimals;
  const positionOf = async () => {
    const acct = await authed("/api/account");
    const pos = acct.positions.find((p) => p.symbol === symbol);
    return pos ? toUnits(pos.qty, d) : 0n;
  };
  const before = await positionOf();
  const price = marketablePrice(store.books.get(symbol), spec);
  if (!price) throw new Error(`no ask in the ${symbol} book to trade against`);
  const send = async (label) => {
    const conn = rawSocket(env, token);
    await conn.opened;
    const fields = orderFields(ctx, price);
    conn.socket.send(JSON.stringify({ op: OPS.ORDER_NEW, req_id: 1, ...fields }));
    timeline.log(SOURCES.UP, `${label}: order.new client_order_id=${fields.client_order_id} (a fresh key each time, as a client without idempotency makes)`);
    return { conn, fields };
  };
  const first = await send("first send");
  first.conn.socket.close();
  timeline.log(SOURCES.CLIENT, "cut before the ack: the client does not know whether it traded");
  const second = await send("resend after reconnect");
  await waitFor(() => second.conn.inbox.some((m) => m.type === MESSAGE_TYPES.ORDER_ACK || m.type === MESSAGE_TYPES.ORDER_REJECT), "the resend's answer");
  await sleep(200);
  for (const m of second.conn.inbox.filter((x) => x.type !== MESSAGE_TYPES.SESSION)) timeline.log(SOURCES.DOWN, describe(m));
  second.conn.socket.close();
  const orders = [];
  for (const f of [first.fields, second.fields]) {
    const order = await authed(`/api/orders/${encodeURIComponent(f.client_order_id)}`);
    orders.push(order);
    timeline.log(SOURCES.SERVER, `GET /api/orders/${f.client_order_id}: ${order.status ?? order.code} filled_qty=${order.filled_qty ?? "—"}`);
  }
  const moved = (await positionOf()) - before;
  const traded = orders.filter((o) => o.filled_qty && toUnits(o.filled_qty, d) > 0n).length;
  timeline.log(SOURCES.SERVER, `${account}: ${symbol} position moved ${formatUnits(moved, d)} (one order was ${spec.min_qty})`);
  const ok = traded === 2 && moved === 2n * toUnits(spec.min_qty, d);
  return {
    ok,
    summary: ok ? `without a key the one intended order traded twice: 2 orders, position +${formatUnits(moved, d)}` : `expected two trades, saw ${traded} (position moved ${formatUnits(moved, d)})`,
    facts: { traded, positionMoved: formatUnits(moved, d) },
  };
}

/** Arm the server's withheld ack on the order socket; null when armed, else the refusal. */
async function armWithheldAck(orders, timeline) {
  const armed = onceDown(orders, (m) => m.req_id === "drill");
  orders.rawSend({ op: OPS.DRILL, req_id: "drill", fault: "withhold_ack", count: 1 });
  const reply = await Promise.race([armed, sleep(WAIT_MS).then(() => null)]);
  if (!reply || reply.type !== MESSAGE_TYPES.DRILL_SET) {
    return { ok: false, summary: `the server refused the fault hook: ${reply?.message ?? "no answer"}`, facts: { refused: true } };
  }
  timeline.log(SOURCES.SERVER, "armed: this connection's next ack will be withheld");
  return null;
}

/** A resting order whose ack is withheld: nothing follows it, so only the ack timeout finds it. */
async function ackWithheldResting(ctx, timeline) {
  const { orders } = ctx;
  return tapped(orders, timeline, async () => {
    const { fields } = await prepareOrder(ctx, timeline, true);
    const refused = await armWithheldAck(orders, timeline);
    if (refused) return refused;
    const retriedBefore = orders.retried;
    const dup = onceDown(orders, (m) => m.type === MESSAGE_TYPES.ORDER_ACK && m.client_order_id === fields.client_order_id);
    const sentAt = performance.now();
    orders.submit(fields);
    const ack = await Promise.race([dup, sleep(WAIT_MS + orders.ackTimeoutMs).then(() => null)]);
    const waited = performance.now() - sentAt;
    if (!ack) throw new Error("no answer after the retry");
    timeline.log(SOURCES.CLIENT, `no ack for ${waited.toFixed(0)} ms: sent again with the same key, answered duplicate:${ack.duplicate === true}`);
    const server = await ctx.fetchJson(`/api/orders/${encodeURIComponent(fields.client_order_id)}`);
    timeline.log(SOURCES.SERVER, `GET /api/orders/${fields.client_order_id}: status=${server.status} qty=${server.qty}`);
    const open = (await ctx.fetchJson("/api/orders")).filter((o) => o.client_order_id === fields.client_order_id);
    orders.cancel(fields.client_order_id); // the drill's order does not stay on the book
    const ok = ack.duplicate === true && orders.retried > retriedBefore && server.status === "open" && open.length === 1 && ack.order_id === server.order_id;
    return {
      ok,
      summary: ok
        ? `the ack timed out after ${waited.toFixed(0)} ms; the retry with the same key was answered duplicate:true with the original order (one order on the server, then cancelled)`
        : `expected a duplicate answer to a retry: ${describe(ack)}, server ${server.status}, ${open.length} open`,
      facts: { duplicate: ack.duplicate === true, waitedMs: waited, retried: orders.retried - retriedBefore },
    };
  });
}

async function ackWithheld(ctx, timeline) {
  const { orders } = ctx;
  return tapped(orders, timeline, async () => {
    const { fields, fillsBefore, positionBefore } = await prepareOrder(ctx, timeline);
    const refused = await armWithheldAck(orders, timeline);
    if (refused) return refused;
    const resumed = onceDown(orders, (m) => m.type === MESSAGE_TYPES.EXECUTIONS_RESUMED);
    const retriedBefore = orders.retried;
    orders.submit(fields);
    await waitFor(ackOf(orders, fields.client_order_id), "the order's state (resume or retry)", WAIT_MS + orders.ackTimeoutMs);
    const how = orders.retried > retriedBefore ? "the ack timed out and the retry with the same key was answered duplicate:true" : "the fill's exec_seq showed a gap: executions.resume replayed the withheld ack";
    timeline.log(SOURCES.CLIENT, how);
    await Promise.race([resumed, sleep(500)]);
    const result = await tradedOnce(ctx, timeline, fields.client_order_id, fields.qty, fillsBefore, positionBefore);
    return { ...result, summary: `${result.summary}; ${how}` };
  });
}

async function deadmanDrill(ctx, timeline) {
  const { orders } = ctx;
  return tapped(orders, timeline, async () => {
    const { fields } = await prepareOrder(ctx, timeline, true);
    const previous = orders.deadmanMs;
    const timeoutMs = previous > 0 && previous <= 10000 ? previous : 2000;
    orders.submit(fields);
    await waitFor(() => orders.tracker.orders.get(fields.client_order_id)?.status === "open", "the resting order's ack");
    if (orders.deadmanMs !== timeoutMs) {
      const set = onceDown(orders, (m) => m.type === MESSAGE_TYPES.DEADMAN_SET);
      orders.armDeadman(timeoutMs);
      await Promise.race([set, sleep(WAIT_MS)]);
    }
    timeline.log(SOURCES.CLIENT, `dead-man's switch armed: ${timeoutMs} ms; heartbeats keep it alive while connected`);
    const cutAt = Date.now();
    const lastSent = orders.lastSentAt;
    orders.cut(timeoutMs + 1500);
    timeline.log(SOURCES.CLIENT, `cut the order connection and keep it down ${(timeoutMs + 1500) / 1000} s: no heartbeat reaches the server`);
    const canceled = onceDown(orders, (m) => m.type === MESSAGE_TYPES.ORDER_CANCELED && m.client_order_id === fields.client_order_id);
    const msg = await Promise.race([canceled, sleep(timeoutMs + WAIT_MS).then(() => null)]);
    if (previous !== timeoutMs) orders.armDeadman(previous);
    const server = await ctx.fetchJson(`/api/orders/${encodeURIComponent(fields.client_order_id)}`);
    timeline.log(SOURCES.SERVER, `GET /api/orders/${fields.client_order_id}: status=${server.status}${server.reason ? ` reason=${server.reason}` : ""}`);
    const firedAfter = msg?.ts ? msg.ts / 1e6 - (performance.timeOrigin + lastSent) : null;
    if (firedAfter !== null) timeline.log(SOURCES.SERVER, `cancelled ${firedAfter.toFixed(0)} ms after the last frame the server got (timeout ${timeoutMs} ms)`);
    const ok = msg?.reason === "deadman" && server.status === "canceled" && (firedAfter === null || firedAfter >= timeoutMs - 50);
    return {
      ok,
      summary: ok
        ? `the server cancelled ${fields.client_order_id} (reason deadman) ${firedAfter === null ? "" : `${firedAfter.toFixed(0)} ms after the last frame, `}${((Date.now() - cutAt) / 1000).toFixed(1)} s after the cut; the cancel arrived through the resume`
        : `the order was not cancelled by the dead-man's switch: ${server.status} ${msg ? describe(msg) : "(no cancel seen)"}`,
      facts: { reason: msg?.reason ?? null, status: server.status, firedAfter },
    };
  });
}

/** The offset of an `<epoch>-<offset>` id, for the timeline only (ids are opaque otherwise). */
function offsetOf(id) {
  const n = Number(String(id).split("-").pop());
  return Number.isFinite(n) ? n : null;
}

/** Every event id the server holds after `cursor`, up to (and with) `lastId`, via /md/poll. */
async function serverIdsAfter(fetchJson, cursor, lastId) {
  const ids = [];
  let at = cursor;
  for (let page = 0; page < 50; page += 1) {
    const body = await fetchJson(`/md/poll?cursor=${encodeURIComponent(at)}&timeout=0`);
    for (const ev of body.events) {
      ids.push(ev.id);
      if (ev.id === lastId) return ids;
    }
    if (!body.events.length || body.cursor === at) return ids;
    at = body.cursor;
  }
  return ids;
}

function recordFeed(feed) {
  const seen = { ids: [], dupes: 0, latencies: [] };
  const tap = (id, event, data, duplicate) => {
    if (duplicate) {
      seen.dupes += 1;
      return;
    }
    if (id) seen.ids.push(id);
    if (typeof data.ts === "number") seen.latencies.push({ at: performance.now(), ms: Date.now() - data.ts / 1e6, ts: data.ts / 1e6 });
  };
  feed.taps.add(tap);
  return { seen, stop: () => feed.taps.delete(tap) };
}

function median(values) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function mdDrop(ctx, timeline) {
  const { feed, fetchJson } = ctx;
  await waitFor(() => feed.current && feed.lastId, "market data to be live");
  const mode = feed.current;
  const cutId = feed.lastId;
  const rec = recordFeed(feed);
  const cutAt = Date.now();
  feed.cut();
  timeline.log(SOURCES.CLIENT, `cut the ${mode} stream at id ${cutId}`);
  await waitFor(() => feed.current, "the stream to come back", 15000);
  const liveAt = Date.now();
  timeline.log(SOURCES.CLIENT, `${feed.current} live again after ${liveAt - cutAt} ms, resuming after ${cutId}`);
  await sleep(1200);
  rec.stop();
  const { seen } = rec;
  const replayed = seen.latencies.filter((l) => l.ts < liveAt).length;
  const lastId = seen.ids.at(-1);
  if (!lastId) throw new Error("no event after the reconnect (is the market quiet?)");
  timeline.log(SOURCES.CLIENT, `received ${seen.ids.length} events after the cut (${replayed} published while the stream was down)`);
  const server = await serverIdsAfter(fetchJson, cutId, lastId);
  const got = new Set(seen.ids);
  const lost = server.filter((id) => !got.has(id));
  const doubled = seen.ids.length - got.size;
  timeline.log(SOURCES.SERVER, `GET /md/poll?cursor=${cutId}: the server holds ${server.length} events up to ${lastId} (offsets ${offsetOf(cutId)}–${offsetOf(lastId)})`);
  const ok = lost.length === 0 && doubled === 0 && server.length > 0;
  return {
    ok,
    summary: `${mode} resumed from its last id: ${replayed} events replayed, ${lost.length} lost, ${doubled} twice (${server.length} checked against the server)`,
    facts: { mode, replayed, lost: lost.length, doubled, checked: server.length },
  };
}

async function mdDelay(ctx, timeline, delayMs = 400, forMs = 3000) {
  const { feed } = ctx;
  await waitFor(() => feed.current, "market data to be live");
  const rec = recordFeed(feed);
  await sleep(1000);
  const start = performance.now();
  feed.faults.delayMs = delayMs;
  feed.faults.delayUntil = start + forMs;
  timeline.log(SOURCES.CLIENT, `delay every ${feed.current} event by ${delayMs} ms for ${forMs / 1000} s`);
  await sleep(forMs + delayMs + 1000);
  rec.stop();
  const end = start + forMs + delayMs;
  const { latencies } = rec.seen;
  const before = median(latencies.filter((l) => l.at < start).map((l) => l.ms));
  const during = median(latencies.filter((l) => l.at >= start + delayMs && l.at < end).map((l) => l.ms));
  const after = median(latencies.filter((l) => l.at >= end + 200).map((l) => l.ms));
  const fmt = (v) => (v === null ? "—" : `${v.toFixed(0)} ms`);
  timeline.log(SOURCES.CLIENT, `latency (event time → page) median: before ${fmt(before)}, delayed ${fmt(during)}, after ${fmt(after)}`);
  const ok = before !== null && during !== null && during - before >= delayMs * 0.8 && (after === null || after < during);
  return { ok, summary: `latency rose from ${fmt(before)} to ${fmt(during)} while delayed, then ${fmt(after)}`, facts: { before, during, after } };
}

async function mdDuplicate(ctx, timeline) {
  const { feed, store } = ctx;
  await waitFor(() => feed.current, "market data to be live");
  const stats = feed.stats[feed.current];
  const dupesBefore = stats.duplicates;
  const eventsBefore = store.counters.events;
  feed.faults.duplicate = 1;
  timeline.log(SOURCES.CLIENT, `deliver the next ${feed.current} frame twice`);
  await waitFor(() => stats.duplicates > dupesBefore, "the duplicate");
  timeline.log(SOURCES.CLIENT, "the second copy had an id already delivered: discarded");
  const handled = store.counters.events - eventsBefore;
  const books = [...store.books.values()].filter((b) => b.synced !== false);
  const ok = stats.duplicates === dupesBefore + 1;
  return { ok, summary: `1 duplicate frame discarded by id (${handled} events handled meanwhile, ${books.length} books in sync)`, facts: { discarded: stats.duplicates - dupesBefore } };
}

async function mdCorrupt(ctx, timeline) {
  const { feed, store, symbol } = ctx;
  await waitFor(() => feed.current && store.books.get(symbol)?.bestBid(), `a live ${symbol} book`);
  const resyncsBefore = store.counters.resyncs;
  const badBefore = store.counters.checksumBad;
  feed.faults.corruptLevel = (sym) => store.books.get(sym)?.bestBid() ?? null;
  feed.faults.corrupt = 1;
  const started = performance.now();
  timeline.log(SOURCES.CLIENT, "corrupt the next book delta: its best bid's quantity is changed");
  await waitFor(() => store.counters.checksumBad > badBefore, "the checksum mismatch");
  timeline.log(SOURCES.CLIENT, "checksum mismatch: the book is resynced from GET /api/book");
  await waitFor(() => store.counters.resyncs > resyncsBefore && store.syncing.size === 0, "the resync");
  const ms = performance.now() - started;
  const resynced = [...store.books.values()].every((b) => b.synced);
  timeline.log(SOURCES.CLIENT, `resynced in ${ms.toFixed(0)} ms; every book's checksum matches the server's`);
  return { ok: resynced, summary: `checksum mismatch → resync in ${ms.toFixed(0)} ms; books in sync again: ${resynced}`, facts: { resyncMs: ms } };
}

export const DRILLS = Object.freeze({
  "drop-before-send": { group: "orders", title: "Drop the order connection before the order is sent", run: dropBeforeSend },
  "drop-after-send": { group: "orders", title: "Drop it after the order is sent, before the ack", run: dropAfterSend },
  "drop-after-fill": { group: "orders", title: "Drop it right after a fill", run: dropAfterFill },
  "no-key": { group: "orders", title: "Resend without idempotency key (throwaway account)", run: noKey },
  "ack-withheld": { group: "orders", title: "Ack lost after fill (server withholds it)", run: ackWithheld },
  "ack-withheld-resting": { group: "orders", title: "Ack lost, order resting: the client times out and retries", run: ackWithheldResting },
  "md-drop": { group: "market", title: "Drop the market-data stream", run: mdDrop },
  "md-delay": { group: "market", title: "Delay market data 400 ms for 3 s", run: mdDelay },
  "md-duplicate": { group: "market", title: "Duplicate a frame", run: mdDuplicate },
  "md-corrupt": { group: "market", title: "Corrupt the book", run: mdCorrupt },
  deadman: { group: "liveness", title: "Dead-man's switch: cut and wait for expiry (cancels all your open orders)", run: deadmanDrill },
});

/** Run one drill; a drill that cannot run (not logged in, no liquidity) fails with the reason. */
export async function runDrill(name, ctx, timeline) {
  const drill = DRILLS[name];
  if (!drill) throw new Error(`unknown drill ${name}`);
  timeline.start(drill.title);
  try {
    const outcome = await drill.run(ctx, timeline);
    timeline.log(SOURCES.CLIENT, `outcome: ${outcomeLabel(outcome)}: ${outcome.summary}`);
    return outcome;
  } catch (err) {
    const outcome = { ok: false, summary: String(err.message ?? err), facts: { error: true } };
    timeline.log(SOURCES.CLIENT, `could not run: ${outcome.summary}`);
    return outcome;
  }
}

