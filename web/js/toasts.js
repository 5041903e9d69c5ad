/**
 * Fill notifications: a stack of toasts at the top right, each gone after ~6 s.
 * Exports fillToastText(fill) (pure), TOAST_MS, and createToasts(root, { timeoutMs, max })
 * -> { show(text, kind), count() }.
 *
 * `root` is a live region (role=status), so a screen reader reads each toast once. The
 * newest toast is on top; beyond `max` the oldest goes at once. A toast is text only.
 */
import { el } from "./dom.js";

export const TOAST_MS = 6000;

/** "Bought 0.2500 BTC-USD @ 60000.00 · maker" from an `order.fill` message. */
export function fillToastText(fill) {
  const verb = fill.side === "buy" ? "Bought" : "Sold";
  const liquidity = fill.liquidity ? ` · ${fill.liquidity}` : "";
  return `${verb} ${fill.qty} ${fill.symbol} @ ${fill.price}${liquidity}`;
}

export function createToasts(root, { timeoutMs = TOAST_MS, max = 5 } = {}) {
  function dismiss(toast) {
    clearTimeout(toast.timer);
    toast.remove();
  }

  return {
    /** Show one toast; `kind` ("buy", "sell") colours it. Returns its element. */
    show(text, kind = "") {
      const toast = el("div", `toast ${kind}`.trim(), text);
      toast.title = "Click to dismiss";
      toast.addEventListener("click", () => dismiss(toast));
      root.prepend(toast);
      toast.timer = setTimeout(() => dismiss(toast), timeoutMs);
      while (root.children.length > max) dismiss(root.lastElementChild);
      return toast;
    },
    count() {
      return root.children.length;
    },
  };
}
