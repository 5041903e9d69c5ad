/**
 * Tiny DOM helpers shared by the views. Exports el(tag, className, text), clear(node),
 * setText(node, text), formatTime(ns), formatChange(last, open), sideClass(side).
 * Everything writes text with textContent; nothing here parses HTML.
 */

/** Create an element with an optional class and text. */
export function el(tag, className = "", text = "") {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== "") node.textContent = text;
  return node;
}

/** Write text only when it changed: an unchanged write still costs a layout. */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

/** hh:mm:ss (UTC) of a nanosecond timestamp. */
export function formatTime(ns) {
  if (typeof ns !== "number") return "";
  return new Date(ns / 1e6).toISOString().slice(11, 19);
}

/** "+1.23%" from two decimal strings (display only, floats are fine here). */
export function formatChange(last, open) {
  const l = Number(last);
  const o = Number(open);
  if (!last || !open || !Number.isFinite(l) || !Number.isFinite(o) || o === 0) return "";
  const pct = ((l - o) / o) * 100;
  return `${pct >= 0 ? "+" : ""}${pct.toFixed(2)}%`;
}

export function sideClass(side) {
  return side === "buy" ? "buy" : "sell";
}
