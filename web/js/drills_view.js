/**
 * The fault switchboard: a side sheet listing the drills (js/drills.js), the live state they
 * act on (order socket, dead-man countdown, market-data transport), the running drill's
 * timeline and its outcome, and a Copy button for the timeline.
 *
 * Exports createDrillsView(sheet, { onRun, onClose }) -> { open(), close(), toggle(), isOpen,
 * renderTimeline(timeline, outcome), renderStatus(status), setBusy(name | null) }, and
 * deadmanText(deadman) for the ticket's countdown.
 * onRun(name) starts a drill; status is { orders: "live"|"down"|null, deadman, transport }.
 */
import { el, setText } from "./dom.js";
import { DRILLS, outcomeLabel } from "./drills.js";

const GROUPS = { orders: "Order entry", market: "Market data (on the current transport)", liveness: "Liveness" };

/** The dead-man countdown as text: "off", "4.2 s", "fired 1.3 s ago". */
export function deadmanText(deadman) {
  if (!deadman) return "off";
  const s = deadman.remainingMs / 1000;
  if (s < 0) return `expired ${(-s).toFixed(1)} s ago: the server cancels your orders`;
  return `${s.toFixed(1)} s${deadman.alive ? " (heartbeats keep it armed)" : " left: no connection, nothing refreshes it"}`;
}

export function createDrillsView(sheet, { onRun, onClose = () => {} }) {
  const list = sheet.querySelector("[data-drill-list]");
  const status = sheet.querySelector("[data-drill-status]");
  const title = sheet.querySelector("[data-drill-title]");
  const outcomeLine = sheet.querySelector("[data-drill-outcome]");
  const body = sheet.querySelector("[data-drill-timeline]");
  const copyButton = sheet.querySelector("[data-drill-copy]");
  const copyText = sheet.querySelector("[data-drill-text]");
  const buttons = new Map();
  let last = { timeline: null, outcome: null };
  let renderedStart = null;

  for (const [group, label] of Object.entries(GROUPS)) {
    const box = el("div", "drill-group");
    box.append(el("h3", "", label));
    for (const [name, drill] of Object.entries(DRILLS)) {
      if (drill.group !== group) continue;
      const button = el("button", "drill-run", drill.title);
      button.type = "button";
      button.dataset.drill = name;
      button.addEventListener("click", () => onRun(name));
      buttons.set(name, button);
      box.append(button);
    }
    list.append(box);
  }
  sheet.querySelector("[data-drill-close]").addEventListener("click", () => view.close());
  copyButton.addEventListener("click", async () => {
    if (!last.timeline) return;
    const text = last.timeline.toText(last.outcome);
    copyText.value = text;
    copyText.hidden = false;
    try {
      await navigator.clipboard.writeText(text);
      copyButton.textContent = "Copied";
    } catch {
      copyText.select(); // no clipboard permission: the text is selected for Ctrl+C
      copyButton.textContent = "Select + Ctrl+C";
    }
    setTimeout(() => (copyButton.textContent = "Copy timeline"), 1500);
  });

  const view = {
    get isOpen() {
      return !sheet.hidden;
    },
    open() {
      sheet.hidden = false;
      document.body.classList.add("drills-open");
    },
    close() {
      sheet.hidden = true;
      document.body.classList.remove("drills-open");
      onClose();
    },
    toggle() {
      if (sheet.hidden) view.open();
      else view.close();
    },
    setBusy(name) {
      sheet.dataset.running = name ?? "";
      for (const [drill, button] of buttons) {
        button.disabled = name !== null;
        button.classList.toggle("running", drill === name);
      }
    },
    renderStatus({ orders, deadman, transport }) {
      const parts = [
        `orders: ${orders ?? "not logged in"}`,
        `dead-man: ${deadmanText(deadman)}`,
        `market data: ${transport ?? "down"}`,
      ];
      setText(status, parts.join(" · "));
    },
    renderTimeline(timeline, outcome = null) {
      last = { timeline, outcome };
      setText(title, timeline.title || "Pick a drill");
      const verdict = outcomeLabel(outcome);
      outcomeLine.className = `drill-outcome ${outcome ? (outcome.ok ? "pass" : "fail") : ""}`;
      setText(outcomeLine, outcome ? `${verdict} · ${outcome.summary}` : timeline.rows.length ? "running…" : "");
      outcomeLine.dataset.ok = outcome ? String(outcome.ok) : "";
      if (renderedStart !== timeline.t0) {
        renderedStart = timeline.t0; // a new drill: its rows from the first
        while (body.rows.length) body.deleteRow(-1);
      }
      for (let i = body.rows.length; i < timeline.rows.length; i += 1) {
        const row = timeline.rows[i];
        const tr = el("tr");
        tr.dataset.source = row.source;
        tr.append(el("td", "num", row.t.toFixed(0)), el("td", "src", row.source), el("td", "", row.text));
        body.append(tr);
      }
      while (body.rows.length > timeline.rows.length) body.deleteRow(-1);
      copyButton.disabled = timeline.rows.length === 0;
    },
  };
  return view;
}
