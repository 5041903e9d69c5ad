/**
 * Order ticket: side, limit/market/stop/stop-limit, price, stop price, quantity, time in
 * force, post-only; shows the idempotency key the next order will carry and a clear message
 * for its outcome. In modify mode (startModify(order), from the Open orders table) the same
 * form edits an open limit order's price and quantity and sends `order.replace`; Esc or the
 * banner's button leaves it.
 *
 * Exports createTicket(form, { onSubmit, onReplace, lastTrade }) -> { setSymbol, setPrice,
 * submit(side?), startModify(order), cancelModify(), render(tracker), state }.
 * onSubmit(fields) receives order.new fields (without op/req_id) and sends them;
 * onReplace(origKey, newKey, change) sends order.replace; lastTrade(symbol) is the symbol's
 * last trade price (or null), for the stop-price rule. Every field is checked against the
 * server's rules (order_rules.js) before anything is sent.
 */
import { rejectMessage, toUnits } from "./protocol.js";
import { newClientOrderId } from "./orders.js";
import { TRIGGERS_AS, checkNew, checkReplace, isStopType, placeholders } from "./order_rules.js";

/** The ticket's line for a reject: the page's message, the server's own words, the code. */
export function rejectLine(reject, what = "Rejected") {
  const human = rejectMessage(reject.code, reject.message);
  const detail = reject.message && !human.includes(reject.message) ? ` (${reject.message})` : "";
  return `${what}: ${human}${detail} [${reject.code}]`;
}

export function createTicket(form, { onSubmit, onReplace = () => {}, lastTrade = () => null }) {
  const f = form.elements;
  const keyOut = form.querySelector("[data-key]");
  const result = form.querySelector("[data-result]");
  const symbolOut = form.querySelector("[data-symbol]");
  const stopRow = form.querySelector("[data-stop-row]");
  const banner = form.querySelector("[data-modify]");
  const bannerKey = form.querySelector("[data-modify-key]");
  const title = form.querySelector("[data-title]");
  const state = { side: "buy", symbol: null, spec: null, key: newClientOrderId(), lastKey: null, enabled: false, modifying: null };
  keyOut.textContent = state.key;

  function submitLabel() {
    if (state.modifying) return `Modify ${state.modifying.side} ${state.symbol ?? ""}`;
    return `${state.side === "buy" ? "Buy" : "Sell"} ${state.symbol ?? ""}`;
  }

  function setSide(side) {
    state.side = side;
    for (const button of form.querySelectorAll("[data-side]")) button.classList.toggle("active", button.dataset.side === side);
    form.dataset.side = side;
    f.submit.textContent = submitLabel();
  }

  function syncType() {
    const type = f.order_type.value;
    const base = TRIGGERS_AS[type] ?? type;
    const modifying = state.modifying !== null;
    f.price.disabled = base === "market";
    f.post_only.disabled = type !== "limit" || modifying;
    if (type !== "limit") f.post_only.checked = false;
    stopRow.hidden = !isStopType(type);
    f.stop_price.disabled = !isStopType(type) || modifying;
    for (const option of f.tif.options) option.disabled = base === "market" && option.value === "gtc";
    if (base === "market" && f.tif.value === "gtc") f.tif.value = "ioc";
    f.order_type.disabled = modifying;
    f.tif.disabled = modifying;
    for (const button of form.querySelectorAll("[data-side]")) button.disabled = modifying;
  }

  function say(text, kind) {
    result.textContent = text;
    result.className = `ticket-result ${kind}`;
  }

  function newKey() {
    state.key = newClientOrderId();
    keyOut.textContent = state.key;
  }

  function submitNew(side) {
    const type = f.order_type.value;
    const base = TRIGGERS_AS[type] ?? type;
    const qty = f.qty.value.trim();
    const price = f.price.value.trim();
    const stop = f.stop_price.value.trim();
    const fields = {
      client_order_id: state.key,
      symbol: state.symbol,
      side,
      order_type: type,
      qty,
      tif: f.tif.value,
      post_only: type === "limit" && f.post_only.checked,
    };
    if (base === "limit") fields.price = price;
    if (isStopType(type)) fields.stop_price = stop;
    const problem = checkNew(fields, state.spec, lastTrade(state.symbol));
    if (problem) return say(`Not sent: ${problem.message} [${problem.code}]`, "bad");
    state.lastKey = state.key;
    newKey();
    const at = base === "limit" ? ` @ ${price}` : " at market";
    const when = isStopType(type) ? ` when ${stop} trades` : "";
    say(`Sent ${side} ${qty} ${state.symbol}${at}${when} · key ${fields.client_order_id}`, "pending");
    onSubmit(fields);
    return fields;
  }

  function submitReplace() {
    const order = state.modifying;
    const spec = state.spec;
    const price = f.price.value.trim();
    const qty = f.qty.value.trim();
    const change = {};
    // Only what differs (as a value: "100.5" is "100.50") goes in the request.
    const differs = (text, old, decimals) => {
      try {
        return toUnits(text, decimals) !== toUnits(old, decimals);
      } catch {
        return true; // not a decimal: checkReplace names the problem
      }
    };
    if (spec && differs(price, order.price, spec.price_decimals)) change.price = price;
    if (spec && differs(qty, order.qty, spec.qty_decimals)) change.qty = qty;
    const problem = checkReplace(order, change, spec);
    if (problem) return say(`Not sent: ${problem.message} [${problem.code}]`, "bad");
    const key = state.key;
    state.lastKey = key;
    newKey();
    const orig = order.client_order_id;
    leaveModify();
    say(`Sent modify of ${orig}:${change.price ? ` price ${change.price}` : ""}${change.qty ? ` qty ${change.qty}` : ""} · key ${key}`, "pending");
    onReplace(orig, key, change);
    return { orig_client_order_id: orig, client_order_id: key, ...change };
  }

  function submit(side = state.side) {
    if (!state.enabled) return say("Log in to trade.", "bad");
    if (state.modifying) return submitReplace();
    setSide(side);
    return submitNew(side);
  }

  function leaveModify() {
    const saved = state.saved;
    state.modifying = null;
    state.saved = null;
    form.classList.remove("modifying");
    banner.hidden = true;
    title.textContent = "Order ticket";
    if (saved) {
      f.order_type.value = saved.type;
      f.tif.value = saved.tif;
      setSide(saved.side);
    }
    syncType();
    setSide(state.side);
  }

  /** Edit `order` (an open limit order of the tracker): the form takes its price and qty. */
  function startModify(order) {
    if (!state.enabled) return;
    if (!state.modifying) state.saved = { type: f.order_type.value, tif: f.tif.value, side: state.side };
    state.modifying = { ...order };
    form.classList.add("modifying");
    banner.hidden = false;
    bannerKey.textContent = order.client_order_id;
    title.textContent = "Modify order";
    f.order_type.value = order.order_type;
    f.tif.value = order.tif ?? "gtc";
    f.price.value = order.price ?? "";
    f.qty.value = order.qty;
    form.dataset.side = order.side;
    syncType();
    f.submit.textContent = submitLabel();
    say(`Modifying ${order.side} ${order.qty} ${order.symbol} @ ${order.price} (${order.client_order_id}): change price and/or quantity, Enter sends, Esc leaves.`, "pending");
    f.price.focus();
    f.price.select();
  }

  for (const button of form.querySelectorAll("[data-side]")) {
    button.addEventListener("click", () => setSide(button.dataset.side));
  }
  f.order_type.addEventListener("change", syncType);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    submit();
  });
  form.querySelector("[data-modify-cancel]").addEventListener("click", () => {
    leaveModify();
    say("Modify left: nothing was sent.", "");
  });
  form.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && state.modifying) {
      ev.preventDefault();
      leaveModify();
      say("Modify left: nothing was sent.", "");
    }
  });
  syncType();
  setSide("buy");

  return {
    state,
    get modifying() {
      return state.modifying;
    },
    setEnabled(enabled) {
      state.enabled = enabled;
      f.submit.disabled = !enabled;
      say(enabled ? "Ready. B buys, S sells, Enter sends." : "Log in to trade.", enabled ? "good" : "");
    },
    setSymbol(symbol, spec) {
      if (state.modifying && state.modifying.symbol !== symbol) leaveModify();
      state.symbol = symbol;
      state.spec = spec ?? null;
      symbolOut.textContent = symbol;
      const hint = placeholders(spec);
      f.price.placeholder = hint.price;
      f.stop_price.placeholder = hint.stop;
      f.qty.placeholder = hint.qty;
      if (spec) {
        f.price.step = spec.tick_size;
        f.stop_price.step = spec.tick_size;
        f.qty.step = spec.lot_size;
      }
      setSide(state.side);
    },
    setPrice(price, side) {
      f.price.value = price;
      if (state.modifying) return; // a click on the ladder picks the new price, nothing else
      const base = TRIGGERS_AS[f.order_type.value] ?? f.order_type.value;
      if (base === "market") {
        f.order_type.value = f.order_type.value === "stop" ? "stop_limit" : "limit";
        syncType();
      }
      // Clicking an ask suggests buying there, clicking a bid suggests selling.
      if (side) setSide(side === "sell" ? "buy" : "sell");
    },
    submit,
    startModify,
    cancelModify: leaveModify,
    /** Show the outcome of the last order (or modify) sent from this ticket. */
    render(tracker) {
      const mod = state.modifying;
      if (mod) {
        const now = tracker.orders.get(mod.client_order_id);
        if (now && now.status !== "open" && now.status !== "partially_filled") {
          leaveModify();
          say(`${mod.client_order_id} is ${now.status.replace("_", " ")}: nothing to modify.`, "bad");
        }
        return;
      }
      const order = state.lastKey ? tracker.orders.get(state.lastKey) : null;
      if (!order) return;
      const replace = order.replaces ? `modify of ${order.replaces}` : null;
      if (order.status === "rejected") say(rejectLine(order.reject, replace ? `Modify rejected (${order.replaces} unchanged)` : "Rejected"), "bad");
      else if (order.status === "pending") say(`Sending… key ${order.client_order_id}`, "pending");
      else if (replace && (order.status === "open" || order.status === "partially_filled")) {
        say(`Replaced ${order.replaces}: ${order.side} ${order.qty} ${order.symbol} @ ${order.price} · ${order.status.replace("_", " ")} · key ${order.client_order_id}`, "good");
      } else {
        const stop = order.stop_price ? ` · stop ${order.stop_price} ${order.triggered ? "triggered" : "waiting"}` : "";
        say(`${order.status.replace("_", " ")}: ${order.side} ${order.filled_qty}/${order.qty} ${order.symbol}${stop} · ${order.order_id ?? ""}`, "good");
      }
    },
  };
}
