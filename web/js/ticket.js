/**
 * Order ticket: side, limit/market, price, quantity, time in force, post-only; shows the
 * idempotency key the next order will carry and a clear message for its outcome.
 * Exports createTicket(form, { onSubmit }) -> { setSymbol, setPrice, submit(side?), render(tracker), key }.
 * onSubmit(fields) receives order.new fields (without op/req_id) and sends them.
 */
import { isDecimal, rejectMessage } from "./protocol.js";
import { newClientOrderId } from "./orders.js";

export function createTicket(form, { onSubmit }) {
  const f = form.elements;
  const keyOut = form.querySelector("[data-key]");
  const result = form.querySelector("[data-result]");
  const symbolOut = form.querySelector("[data-symbol]");
  const state = { side: "buy", symbol: null, key: newClientOrderId(), lastKey: null, enabled: false };
  keyOut.textContent = state.key;

  function setSide(side) {
    state.side = side;
    for (const button of form.querySelectorAll("[data-side]")) button.classList.toggle("active", button.dataset.side === side);
    form.dataset.side = side;
    f.submit.textContent = `${side === "buy" ? "Buy" : "Sell"} ${state.symbol ?? ""}`;
  }

  function syncType() {
    const market = f.order_type.value === "market";
    f.price.disabled = market;
    f.post_only.disabled = market;
    for (const option of f.tif.options) option.disabled = market && option.value === "gtc";
    if (market && f.tif.value === "gtc") f.tif.value = "ioc";
  }

  function say(text, kind) {
    result.textContent = text;
    result.className = `ticket-result ${kind}`;
  }

  function submit(side = state.side) {
    setSide(side);
    if (!state.enabled) return say("Log in to trade.", "bad");
    const market = f.order_type.value === "market";
    const qty = f.qty.value.trim();
    const price = f.price.value.trim();
    if (!isDecimal(qty)) return say(`${rejectMessage("INVALID_QTY")} (e.g. 1.5)`, "bad");
    if (!market && !isDecimal(price)) return say(`${rejectMessage("INVALID_PRICE")} (e.g. 101.25)`, "bad");
    const fields = {
      client_order_id: state.key,
      symbol: state.symbol,
      side,
      order_type: f.order_type.value,
      qty,
      tif: f.tif.value,
      post_only: !market && f.post_only.checked,
    };
    if (!market) fields.price = price;
    state.lastKey = state.key;
    state.key = newClientOrderId();
    keyOut.textContent = state.key;
    say(`Sent ${side} ${qty} ${state.symbol}${market ? " at market" : ` @ ${price}`} · key ${fields.client_order_id}`, "pending");
    onSubmit(fields);
    return fields;
  }

  for (const button of form.querySelectorAll("[data-side]")) {
    button.addEventListener("click", () => setSide(button.dataset.side));
  }
  f.order_type.addEventListener("change", syncType);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    submit();
  });
  syncType();
  setSide("buy");

  return {
    state,
    setEnabled(enabled) {
      state.enabled = enabled;
      f.submit.disabled = !enabled;
      say(enabled ? "Ready. B buys, S sells, Enter sends." : "Log in to trade.", enabled ? "good" : "");
    },
    setSymbol(symbol, spec) {
      state.symbol = symbol;
      symbolOut.textContent = symbol;
      if (spec) {
        f.price.step = spec.tick_size;
        f.qty.step = spec.lot_size;
        f.qty.placeholder = `min ${spec.min_qty}`;
      }
      setSide(state.side);
    },
    setPrice(price, side) {
      f.price.value = price;
      if (f.order_type.value === "market") {
        f.order_type.value = "limit";
        syncType();
      }
      // Clicking an ask suggests buying there, clicking a bid suggests selling.
      if (side) setSide(side === "sell" ? "buy" : "sell");
    },
    submit,
    /** Show the outcome of the last order sent from this ticket. */
    render(tracker) {
      const order = state.lastKey ? tracker.orders.get(state.lastKey) : null;
      if (!order) return;
      if (order.status === "rejected") say(`Rejected: ${rejectMessage(order.reject.code, order.reject.message)} [${order.reject.code}]`, "bad");
      else if (order.status === "pending") say(`Sending… key ${order.client_order_id}`, "pending");
      else say(`${order.status.replace("_", " ")}: ${order.side} ${order.filled_qty}/${order.qty} ${order.symbol} · ${order.order_id ?? ""}`, "good");
    },
  };
}
