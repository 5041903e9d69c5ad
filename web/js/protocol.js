/**
 * The wire contract (PROTOCOL.md, tickwire/1) as plain data, plus exact decimal helpers.
 *
 * Exports plain frozen objects/arrays so a Python test can load this module with node and
 * compare them with the server's models: PROTOCOL_VERSION, OPS, MESSAGE_TYPES, MD_EVENTS,
 * MD_PREFIX, CHANNELS, CHANNEL_EVENTS, SIDES, ORDER_TYPES, TIFS, ORDER_STATUSES, LIQUIDITY,
 * INTERVALS, SYMBOL_STATES, REJECT_CODES (code -> human message), TRANSPORTS, DECIMAL_PATTERN.
 * Helpers (functions, no state): isDecimal, toUnits, formatUnits, canonical, checksumToken,
 * rejectMessage.
 *
 * Decimals are never parsed into floats: toUnits returns a BigInt of units of 10**-decimals.
 */

export const PROTOCOL_VERSION = "tickwire/1";

/** Client -> server `op` values (PROTOCOL §3). */
export const OPS = Object.freeze({
  ORDER_NEW: "order.new",
  ORDER_CANCEL: "order.cancel",
  ORDER_REPLACE: "order.replace",
  ORDERS_CANCEL_ALL: "orders.cancel_all",
  ORDER_STATUS: "order.status",
  EXECUTIONS_RESUME: "executions.resume",
  DEADMAN: "deadman",
  DRILL: "drill", // extension: fault drills, servers run with --drills only
  SUBSCRIBE: "subscribe",
  UNSUBSCRIBE: "unsubscribe",
  PING: "ping",
});

/** Server -> client `type` values on the order socket (PROTOCOL §3), md.* excluded. */
export const MESSAGE_TYPES = Object.freeze({
  SESSION: "session",
  EXECUTIONS_RESUMED: "executions.resumed",
  ORDER_ACK: "order.ack",
  ORDER_REJECT: "order.reject",
  ORDER_FILL: "order.fill",
  ORDER_CANCELED: "order.canceled",
  ORDER_TRIGGERED: "order.triggered",
  ORDERS_CANCELED_ALL: "orders.canceled_all",
  DEADMAN_SET: "deadman.set",
  DRILL_SET: "drill.set",
  SUBSCRIBED: "subscribed",
  UNSUBSCRIBED: "unsubscribed",
  ORDER_STATUS: "order.status",
  ERROR: "error",
  PONG: "pong",
});

/** Market-data event names (PROTOCOL §4); over WebSocket the type is MD_PREFIX + event. */
export const MD_EVENTS = Object.freeze({
  SNAPSHOT: "snapshot",
  BOOK: "book",
  TRADE: "trade",
  TICKER: "ticker",
  CANDLE: "candle",
  STATUS: "status",
  RESET: "reset",
});
export const MD_PREFIX = "md.";

/** Subscription channels and the events each carries (`reset` passes every filter). */
export const CHANNELS = Object.freeze(["book", "trades", "ticker", "candles", "status"]);
export const CHANNEL_EVENTS = Object.freeze({
  book: Object.freeze(["snapshot", "book"]),
  trades: Object.freeze(["trade"]),
  ticker: Object.freeze(["ticker"]),
  candles: Object.freeze(["candle"]),
  status: Object.freeze(["status"]),
});

export const SIDES = Object.freeze(["buy", "sell"]);
export const ORDER_TYPES = Object.freeze(["limit", "market", "stop", "stop_limit"]);
export const TIFS = Object.freeze(["gtc", "ioc", "fok"]);
export const ORDER_STATUSES = Object.freeze(["open", "partially_filled", "filled", "canceled"]);
export const LIQUIDITY = Object.freeze(["maker", "taker"]);
export const INTERVALS = Object.freeze(["1s", "1m"]);
export const SYMBOL_STATES = Object.freeze(["open", "halted", "replay"]);

/** Market-data transports, in the browser's fallback order (PROTOCOL §5). */
export const TRANSPORTS = Object.freeze(["ws", "sse", "poll"]);

/** Every reject/error code (PROTOCOL §3, plus the server's SLOW_CONSUMER, NOT_EXECUTED, UNCONFIRMED) with the message the page shows. */
export const REJECT_CODES = Object.freeze({
  INVALID_SYMBOL: "Unknown symbol.",
  INVALID_PRICE: "Invalid price: use a positive decimal on the symbol's tick grid.",
  INVALID_QTY: "Invalid quantity: use the lot grid and at least the minimum quantity.",
  INVALID_SIDE: "Side must be buy or sell.",
  INVALID_TYPE: "Order type not allowed here (limit, market, stop, stop-limit; a stop order cannot be modified).",
  INVALID_TIF: "Time in force not allowed here (a market or stop order is IOC or FOK).",
  INSUFFICIENT_FUNDS: "Not enough balance for this order.",
  POST_ONLY_WOULD_TAKE: "Post-only order would take liquidity, so it was not placed.",
  FOK_NOT_FILLABLE: "Fill-or-kill order cannot be filled completely; nothing executed.",
  NO_LIQUIDITY: "No liquidity on the other side of the book for a market order.",
  DUPLICATE_CLIENT_ORDER_ID: "This order key was already used for a different order.",
  UNKNOWN_ORDER: "Order not found.",
  ORDER_NOT_OPEN: "Order is no longer open (already filled or canceled).",
  MARKET_HALTED: "Trading in this symbol is halted.",
  RATE_LIMITED: "Too many requests: slow down and retry.",
  BAD_REQUEST: "The request was malformed.",
  UNKNOWN_OP: "The server did not recognise the request.",
  SLOW_CONSUMER: "This connection fell too far behind the market and was dropped; reconnecting.",
  NOT_EXECUTED: "Not executed: the exchange lost this request in a restart; nothing changed, send it again.",
  UNCONFIRMED: "No confirmation yet (the exchange is recovering); resending the same order is safe.",
  SUBSCRIPTION_ENDED: "The server restarted its market data; resubscribing.",
});

/** Accepted decimal syntax on the wire (PROTOCOL §1), as a source string and a RegExp. */
export const DECIMAL_PATTERN = "^[0-9]+(\\.[0-9]+)?$";
const DECIMAL_RE = new RegExp(DECIMAL_PATTERN);
const MAX_DIGITS = 40;

/** Human message for a reject/error code; unknown codes still produce a readable line. */
export function rejectMessage(code, serverMessage) {
  const known = Object.hasOwn(REJECT_CODES, code) ? REJECT_CODES[code] : null;
  if (known) return known;
  return serverMessage ? `${code}: ${serverMessage}` : `Rejected (${code}).`;
}

/** True when `text` is a string in the accepted decimal syntax. */
export function isDecimal(text) {
  return typeof text === "string" && text.length <= MAX_DIGITS && DECIMAL_RE.test(text);
}

/**
 * Exact units of 10**-decimals as a BigInt ("101.250", 2 -> 10125n).
 * Throws RangeError when the syntax is wrong or non-zero digits go past `decimals` places.
 */
export function toUnits(text, decimals) {
  if (!isDecimal(text)) throw new RangeError(`not a decimal string: ${JSON.stringify(text)}`);
  const dot = text.indexOf(".");
  const whole = dot < 0 ? text : text.slice(0, dot);
  let frac = dot < 0 ? "" : text.slice(dot + 1);
  if (frac.length > decimals) {
    if (/[^0]/.test(frac.slice(decimals))) {
      throw new RangeError(`${text} has more than ${decimals} decimal places`);
    }
    frac = frac.slice(0, decimals);
  }
  return BigInt(whole + frac.padEnd(decimals, "0"));
}

/** Canonical decimal string of `units` (BigInt or safe integer) at `decimals` places. */
export function formatUnits(units, decimals) {
  const big = BigInt(units);
  if (decimals === 0) return big.toString();
  const sign = big < 0n ? "-" : "";
  const digits = (big < 0n ? -big : big).toString().padStart(decimals + 1, "0");
  return `${sign}${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
}

/** The symbol's canonical form of a decimal string ("101.5", 2 -> "101.50"). */
export function canonical(text, decimals) {
  return formatUnits(toUnits(text, decimals), decimals);
}

/** A level value's contribution to the book checksum: '.' removed, leading zeros stripped. */
export function checksumToken(text) {
  return text.replace(".", "").replace(/^0+/, "");
}
