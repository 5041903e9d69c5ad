/**
 * Connection panel: which transport carries market data, per-transport stats (latency from
 * event time to render p50/p99, arrival-to-render p99, bytes, messages, reconnects, resumes, resets, checksum
 * resyncs), the order socket's state, and the switch that forces a transport (WebRTC is a
 * preference: when it cannot connect, the heading names the transport used and why).
 * Exports createConnectionPanel({ table, current, badge, switchForm, orderState }, { onForce })
 * -> { render(feedSnapshot, orderInfo) }.
 */
import { el } from "./dom.js";

const LABELS = { ws: "WebSocket", sse: "SSE", poll: "Long poll", rtc: "WebRTC" };

function ms(value) {
  return value === null || value === undefined ? "—" : value < 10 ? value.toFixed(1) : value.toFixed(0);
}

function kb(bytes) {
  return bytes < 1024 ? `${bytes} B` : bytes < 1048576 ? `${(bytes / 1024).toFixed(1)} kB` : `${(bytes / 1048576).toFixed(2)} MB`;
}

export function createConnectionPanel({ table, current, badge, switchForm, orderState }, { onForce }) {
  switchForm.addEventListener("change", () => {
    const mode = switchForm.elements.force.value;
    onForce(mode === "auto" ? null : mode);
  });

  const rows = new Map(); // transport -> its table row, created once
  return {
    render(snap, orderInfo) {
      const name = snap.current ? LABELS[snap.current] : "connecting…";
      const rtcError = snap.stats.rtc?.lastError;
      if (snap.forced === "rtc" && snap.current && snap.current !== "rtc") {
        // WebRTC was asked for but could not connect: say so, and why.
        current.textContent = `${name} (WebRTC unavailable${rtcError ? `: ${rtcError}` : ""})`;
      } else {
        current.textContent = snap.forced ? `${name} (forced)` : name;
      }
      if (!snap.current && snap.downForMs >= 1000) current.textContent = `down for ${Math.round(snap.downForMs / 1000)} s, reconnecting…`;
      else if (snap.nextUpgrade?.mode) current.textContent += ` · trying ${LABELS[snap.nextUpgrade.mode]} again in ${Math.ceil(snap.nextUpgrade.inMs / 1000)} s`;
      current.title = rtcError ? `WebRTC: ${rtcError}` : "";
      // The switch shows what is in force, also when it came from the URL (?transport=).
      const chosen = snap.forced ?? "auto";
      if (switchForm.elements.force.value !== chosen) switchForm.elements.force.value = chosen;
      current.dataset.transport = snap.current ?? "";
      badge.textContent = snap.current ? LABELS[snap.current] : "offline";
      badge.dataset.transport = snap.current ?? "";
      badge.classList.toggle("down", !snap.current);
      for (const [mode, s] of Object.entries(snap.stats)) {
        let row = rows.get(mode);
        if (!row) {
          row = el("tr");
          row.dataset.transport = mode;
          for (let i = 0; i < 12; i += 1) row.append(el("td"));
          rows.set(mode, row);
          table.append(row);
        }
        row.className = mode === snap.current ? "current" : "";
        const values = [
          [LABELS[mode], ""],
          [s.state, `state ${s.state}`],
          [ms(s.latency.p50), "num"],
          [ms(s.latency.p99), "num"],
          [ms(s.renderDelay.p99), "num"],
          [String(s.messages), "num"],
          [kb(s.bytes), "num"],
          [String(s.reconnects), "num"],
          [String(s.resumes), "num"],
          [String(s.resets), "num"],
          [String(s.resyncs), "num"],
          [s.lastError, "err"],
        ];
        values.forEach(([text, cls], i) => {
          const cell = row.cells[i];
          if (cell.textContent !== text) cell.textContent = text;
          if (cell.className !== cls) cell.className = cls;
        });
        row.cells[11].title = s.lastError; // the cell is cut short; the whole reason on hover
      }
      const unsupported = Object.entries(snap.supported).filter(([, ok]) => !ok).map(([mode]) => LABELS[mode]);
      switchForm.title = unsupported.length ? `Not available in this browser: ${unsupported.join(", ")}` : "";
      orderState.textContent = orderInfo;
    },
  };
}
