/**
 * The server's order rules, checked in the page before anything is sent (pure, no DOM).
 *
 * Exports STOP_TYPES, TRIGGERS_AS, checkNew(fields, spec, lastTrade), checkReplace(order,
 * change, spec), placeholders(spec), isStopType(type).
 *
 * checkNew and checkReplace return null when the request passes, else `{ code, message }`
 * with the reject code the server would answer (exchange/engine/validation.py parse_new,
 * engine.py _new_stop, replace.py _check_replace) and a line saying what to fix. The server
 * still decides: a stale last trade or a balance are only known there.
 * `spec` is a `GET /api/symbols` entry (tick_size, lot_size, min_qty, price_decimals,
 * qty_decimals); decimals are compared as exact integers, never floats.
 */
import { ORDER_TYPES, TIFS, formatUnits, isDecimal, toUnits } from "./protocol.js";

/** Order types that wait for a stop price before they trade. */
export const STOP_TYPES = Object.freeze(["stop", "stop_limit"]);
/** What a stop type becomes when triggered (so which price and tif rules it follows). */
export const TRIGGERS_AS = Object.freeze({ stop: "market", stop_limit: "limit" });

export function isStopType(type) {
  return STOP_TYPES.includes(type);
}

const bad = (code, message) => ({ code, message });

/** Units of `text` at `decimals`, or null when it is not a decimal with that many places. */
function units(text, decimals) {
  if (!isDecimal(text)) return null;
  try {
    return toUnits(text, decimals);
  } catch {
    return null;
  }
}

/** The INVALID_PRICE problem of a price string for `spec`, or null ("Price", "Stop price"). */
function priceProblem(text, spec, what = "Price") {
  const code = "INVALID_PRICE";
  const value = units(text, spec.price_decimals);
  if (value === null) return bad(code, `${what}: a decimal with at most ${spec.price_decimals} decimals (e.g. ${spec.tick_size})`);
  if (value <= 0n) return bad(code, `${what} must be above 0`);
  const tick = toUnits(spec.tick_size, spec.price_decimals);
  if (value % tick !== 0n) return bad(code, `${what} must be a multiple of the tick size ${spec.tick_size}`);
  return null;
}

/** The INVALID_QTY problem of a quantity string for `spec`, or null. */
function qtyProblem(text, spec) {
  const code = "INVALID_QTY";
  const value = units(text, spec.qty_decimals);
  if (value === null) return bad(code, `Quantity: a decimal with at most ${spec.qty_decimals} decimals (e.g. ${spec.min_qty})`);
  if (value <= 0n) return bad(code, "Quantity must be above 0");
  const lot = toUnits(spec.lot_size, spec.qty_decimals);
  if (value % lot !== 0n) return bad(code, `Quantity must be a multiple of the lot size ${spec.lot_size}`);
  if (value < toUnits(spec.min_qty, spec.qty_decimals)) return bad(code, `Quantity must be at least ${spec.min_qty}`);
  return null;
}

/**
 * The first rule an order.new's fields break (in the server's order of checks), or null.
 * `lastTrade` is the symbol's last trade price (a decimal string) when known: a stop whose
 * stop price that trade already reached would trigger at once, and the server refuses it.
 */
export function checkNew(fields, spec, lastTrade = null) {
  if (!spec) return bad("INVALID_SYMBOL", "Pick a symbol first");
  const type = fields.order_type;
  if (!ORDER_TYPES.includes(type)) return bad("INVALID_TYPE", `Order type must be one of ${ORDER_TYPES.join(", ")}`);
  const base = TRIGGERS_AS[type] ?? type;
  const tif = fields.tif ?? (base === "limit" ? "gtc" : "ioc");
  if (!TIFS.includes(tif)) return bad("INVALID_TIF", `Time in force must be one of ${TIFS.join(", ")}`);
  if (base === "market" && tif === "gtc") return bad("INVALID_TIF", `A ${type.replace("_", "-")} order is IOC or FOK`);
  if (fields.post_only && type !== "limit") return bad("INVALID_TYPE", "Post-only is for limit orders");
  if (fields.post_only && tif !== "gtc") return bad("INVALID_TIF", "Post-only needs GTC");
  if (base === "limit") {
    if (fields.price === undefined || fields.price === null || fields.price === "") return bad("INVALID_PRICE", `A ${type.replace("_", "-")} order needs a price`);
    const problem = priceProblem(fields.price, spec);
    if (problem) return problem;
  } else if (fields.price !== undefined && fields.price !== null) {
    return bad("INVALID_PRICE", `A ${type} order takes no price`);
  }
  const qty = qtyProblem(fields.qty, spec);
  if (qty) return qty;
  const stop = fields.stop_price;
  if (!isStopType(type)) {
    if (stop !== undefined && stop !== null) return bad("INVALID_PRICE", "A stop price is for stop and stop-limit orders");
    return null;
  }
  if (stop === undefined || stop === null || stop === "") return bad("INVALID_PRICE", `A ${type.replace("_", "-")} order needs a stop price`);
  const stopProblem = priceProblem(stop, spec, "Stop price");
  if (stopProblem) return stopProblem;
  const last = lastTrade ? units(lastTrade, spec.price_decimals) : null;
  if (last !== null) {
    const s = toUnits(stop, spec.price_decimals);
    const buy = fields.side === "buy";
    if (buy ? s <= last : s >= last) {
      return bad("INVALID_PRICE", `A ${fields.side} stop's stop price must be ${buy ? "above" : "below"} the last trade (${formatUnits(last, spec.price_decimals)}), else it triggers at once`);
    }
  }
  return null;
}

/**
 * The first rule an order.replace of `order` (the tracker's open order) with `change`
 * (`{ price?, qty? }`, strings; a missing or unchanged one is not sent) breaks, or null.
 */
export function checkReplace(order, change, spec) {
  if (!spec) return bad("INVALID_SYMBOL", "Unknown symbol");
  if (isStopType(order.order_type)) return bad("INVALID_TYPE", "A stop order cannot be modified: cancel it and send a new one");
  if (order.order_type !== "limit") return bad("INVALID_TYPE", "Only a resting limit order can be modified");
  if (change.price === undefined && change.qty === undefined) return bad("BAD_REQUEST", "Change the price or the quantity");
  if (change.price !== undefined) {
    const problem = priceProblem(change.price, spec);
    if (problem) return problem;
  }
  if (change.qty !== undefined) {
    const problem = qtyProblem(change.qty, spec);
    if (problem) return problem;
    const filled = units(order.filled_qty ?? "0", spec.qty_decimals) ?? 0n;
    if (toUnits(change.qty, spec.qty_decimals) <= filled) {
      return bad("INVALID_QTY", `The new quantity is the order's total and must exceed what is filled (${order.filled_qty})`);
    }
  }
  return null;
}

/** Input placeholders in the symbol's own decimals: price "0.00000000", qty "min 0.0001". */
export function placeholders(spec) {
  if (!spec) return { price: "0.00", qty: "0", stop: "0.00" };
  const price = formatUnits(0n, spec.price_decimals);
  return { price, stop: price, qty: `min ${formatUnits(toUnits(spec.min_qty, spec.qty_decimals), spec.qty_decimals)}` };
}
