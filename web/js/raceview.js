/**
 * The race table in the connection panel: one row per transport racing the same feed in this
 * browser, with latency, rate, bytes per event, time to first event and the share of events
 * each transport delivered first (a bar and a percentage).
 * Exports createRaceView({ toggle, section, table, note }, { onToggle }) -> { render(snap | null) },
 * and laneNote(mode, protocol): the sentence under the table that says what a lane is.
 * onToggle(wanted: boolean) is called by the Race button; render(null) shows the race stopped.
 */
import { el, setText } from "./dom.js";

const LABELS = { ws: "WebSocket", sse: "SSE", poll: "Long poll", rtc: "WebRTC" };

/**
 * One sentence per lane: what the user is watching. `protocol` is the page's own HTTP
 * version (`nextHopProtocol`): an SSE lane rides this page's connection over HTTP/2.
 */
export function laneNote(mode, protocol = "") {
  const h2 = protocol === "h2" || protocol === "h3";
  switch (mode) {
    case "ws":
      return "WebSocket: one socket down which the server pushes a JSON frame per event, uncompressed here (compress=0) like the page's own feed.";
    case "sse":
      return h2
        ? "SSE over HTTP/2: a stream multiplexed on this page's one TLS connection (no six-connection cap), gzip on the wire, resumed by the browser with Last-Event-ID."
        : "SSE over HTTP/1.1: a connection of its own (a browser allows six per origin), gzip on the wire, resumed by the browser with Last-Event-ID.";
    case "poll":
      return "Long polling: one held request at a time, answered with every event since its cursor; each answer pays a request and its headers.";
    case "rtc":
      return "WebRTC data channels: the book on a reliable ordered channel, the ticker on an unordered one that never retransmits (a lost ticker is replaced by the next).";
    default:
      return "";
  }
}

function pageProtocol() {
  return globalThis.performance?.getEntriesByType?.("navigation")?.[0]?.nextHopProtocol ?? "";
}
const COLUMNS = 10;

function ms(value) {
  return value === null || value === undefined ? "—" : value < 10 ? value.toFixed(1) : value.toFixed(0);
}

export function createRaceView({ toggle, section, table, note }, { onToggle }) {
  toggle.addEventListener("click", () => onToggle(toggle.getAttribute("aria-pressed") !== "true"));
  const rows = new Map();
  const notes = section.querySelector("[data-race-lanes]");
  const noted = new Set();

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
      const protocol = pageProtocol();
      let leader = null;
      for (const [mode, s] of Object.entries(snap.lanes)) {
        if (s.share !== null && (leader === null || s.share > snap.lanes[leader].share)) leader = mode;
      }
      for (const mode of Object.keys(snap.lanes)) {
        if (!notes || noted.has(mode)) continue;
        noted.add(mode);
        const item = el("li", "", laneNote(mode, protocol));
        item.dataset.transport = mode;
        notes.append(item);
      }
      for (const [mode, s] of Object.entries(snap.lanes)) {
        const tr = row(mode);
        tr.className = mode === leader ? "leader" : "";
        tr.classList.toggle("out", !s.inRace);
        const values = [
          [mode === "sse" && /^h[23]$/.test(protocol) ? "SSE (h2)" : (LABELS[mode] ?? mode), ""],
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
