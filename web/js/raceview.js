/**
 * The race table in the connection panel: one row per transport racing the same feed in this
 * browser, with latency, rate, bytes per event, time to first event and the share of events
 * each transport delivered first (a bar and a percentage).
 * Exports createRaceView({ toggle, section, table, note }, { onToggle }) -> { render(snap | null) }.
 * onToggle(wanted: boolean) is called by the Race button; render(null) shows the race stopped.
 */
import { el, setText } from "./dom.js";

const LABELS = { ws: "WebSocket", sse: "SSE", poll: "Long poll", rtc: "WebRTC" };
const COLUMNS = 10;

function ms(value) {
  return value === null || value === undefined ? "—" : value < 10 ? value.toFixed(1) : value.toFixed(0);
}

export function createRaceView({ toggle, section, table, note }, { onToggle }) {
  toggle.addEventListener("click", () => onToggle(toggle.getAttribute("aria-pressed") !== "true"));
  const rows = new Map();

  function row(mode) {
    let tr = rows.get(mode);
    if (!tr) {
      tr = el("tr");
      tr.dataset.transport = mode;
      for (let i = 0; i < COLUMNS; i += 1) tr.append(el("td"));
      const share = el("div", "race-share");
      const bar = el("div", "race-bar");
      bar.append(el("span", "race-fill"));
      share.append(bar, el("span", "race-pct num"));
      tr.cells[8].append(share);
      tr.cells[8].className = "share";
      rows.set(mode, tr);
      table.append(tr);
    }
    return tr;
  }

  return {
    render(snap) {
      const running = Boolean(snap && snap.running);
      toggle.setAttribute("aria-pressed", String(running));
      setText(toggle, running ? "■ Stop race" : "▶ Race");
      toggle.classList.toggle("racing", running);
      section.hidden = !snap;
      if (!snap) return;
      let leader = null;
      for (const [mode, s] of Object.entries(snap.lanes)) {
        if (s.share !== null && (leader === null || s.share > snap.lanes[leader].share)) leader = mode;
      }
      for (const [mode, s] of Object.entries(snap.lanes)) {
        const tr = row(mode);
        tr.className = mode === leader ? "leader" : "";
        tr.classList.toggle("out", !s.inRace);
        const values = [
          [LABELS[mode] ?? mode, ""],
          [s.state, `state ${s.state}`],
          [ms(s.latency.p50), "num"],
          [ms(s.latency.p99), "num"],
          [s.rate.toFixed(1), "num"],
          [s.bytesPerEvent === null ? "—" : s.bytesPerEvent.toFixed(0), "num"],
          [ms(s.firstEventMs), "num"],
          [s.lead.n ? ms(s.lead.p50) : "—", "num"],
          null,
          [s.lastError, "err"],
        ];
        values.forEach((value, i) => {
          if (!value) return;
          const cell = tr.cells[i];
          setText(cell, value[0]);
          if (cell.className !== value[1]) cell.className = value[1];
        });
        const share = s.share;
        const fill = tr.cells[8].querySelector(".race-fill");
        fill.style.width = `${share ?? 0}%`;
        tr.cells[8].dataset.share = share === null ? "" : share.toFixed(3);
        tr.cells[8].title = share === null ? "no contested event yet" : `${s.wins} of ${snap.contested} events first`;
        setText(tr.cells[8].querySelector(".race-pct"), share === null ? "—" : `${share.toFixed(1)} %`);
      }
      const seconds = (snap.elapsedMs / 1000).toFixed(0);
      const deflate = snap.extensions.includes("permessage-deflate") ? " · WS permessage-deflate on" : "";
      setText(note, `${running ? "racing" : "stopped"} · ${seconds} s · ${snap.contested} events raced${deflate}`);
      note.title = deflate ? "The WebSocket is compressed on the wire (permessage-deflate); its B/event counts the payload before compression." : "";
    },
  };
}
