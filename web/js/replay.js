/**
 * Replay controls: pause/resume, slower/faster, and a scrubber showing the replay clock.
 * Exports createReplayBar(root, { fetchJson, fetchImpl }) -> { refresh(), onStatus(replay), state }.
 *
 * The bar stays hidden unless the server replays. It asks GET /api/replay once at load (a
 * server that is not replaying answers `{"replaying": false}`, and is never asked again),
 * then follows the replay's `status` events on the market-data stream (`data.replay`, the
 * same status, sent on every change and every second: `onStatus`) and each action's answer;
 * nothing polls. The scrubber's range is the recording (milliseconds after its start) and a
 * release seeks there (`to: "+s"`).
 */
import { el, setText } from "./dom.js";

export const SPEEDS = ["1", "2", "5", "10", "25", "100", "1000", "max"];

/** The next faster (step 1) or slower (step -1) speed of SPEEDS, from any current speed. */
export function nextSpeed(current, step) {
  const i = SPEEDS.indexOf(String(current));
  if (i >= 0) return SPEEDS[Math.max(0, Math.min(SPEEDS.length - 1, i + step))];
  const value = Number(current);
  const numeric = SPEEDS.filter((s) => s !== "max").map(Number);
  if (step > 0) return String(numeric.find((s) => s > value) ?? "max");
  return String([...numeric].reverse().find((s) => s < value) ?? current);
}

export function createReplayBar(root, { fetchJson, fetchImpl = fetch }) {
  const state = { status: null, dragging: false, error: "", probes: 0, updates: 0 };
  const toggle = el("button", "replay-toggle", "Pause");
  const slower = el("button", "replay-slower", "«");
  const speed = el("span", "replay-speed muted", "");
  const faster = el("button", "replay-faster", "»");
  const scrub = el("input", "replay-scrub", "");
  const clock = el("span", "replay-clock", "");
  const note = el("span", "replay-note muted", "");
  for (const b of [toggle, slower, faster]) b.type = "button";
  slower.title = "Slower";
  faster.title = "Faster";
  scrub.type = "range";
  scrub.min = "0";
  scrub.step = "1000";
  scrub.setAttribute("aria-label", "Replay position");
  root.append(el("span", "replay-label", "REPLAY"), toggle, slower, speed, faster, scrub, clock, note);

  function render() {
    const st = state.status;
    root.hidden = !st;
    if (!st) return;
    const span = Math.max(0, (st.end - st.start) / 1e6);
    const at = Math.min(span, Math.max(0, (st.clock - st.start) / 1e6));
    setText(toggle, st.paused ? "Resume" : "Pause");
    setText(speed, `${st.speed}×`);
    setText(clock, st.clock_iso.replace("T", " ").replace("Z", ""));
    setText(note, state.error || (st.finished ? "end of recording" : ""));
    scrub.max = String(Math.round(span));
    if (!state.dragging) scrub.value = String(Math.round(at));
    root.classList.toggle("paused", st.paused);
  }

  async function refresh() {
    try {
      const status = await fetchJson("/api/replay");
      state.status = status.replaying ? status : null;
    } catch {
      state.status = null; // the server is gone
    }
    state.probes += 1;
    render();
  }

  async function control(body) {
    const response = await fetchImpl("/api/replay", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await response.json();
    if (response.ok) {
      state.status = data;
      state.error = "";
    } else {
      state.error = data.message ?? `HTTP ${response.status}`;
    }
    render();
  }

  toggle.addEventListener("click", () => control({ action: state.status?.paused ? "resume" : "pause" }));
  slower.addEventListener("click", () => control({ action: "speed", speed: nextSpeed(state.status?.speed, -1) }));
  faster.addEventListener("click", () => control({ action: "speed", speed: nextSpeed(state.status?.speed, 1) }));
  scrub.addEventListener("input", () => {
    state.dragging = true;
    const st = state.status;
    if (st) setText(clock, new Date(Math.floor(st.start / 1e6) + Number(scrub.value)).toISOString().replace("T", " ").replace("Z", ""));
  });
  scrub.addEventListener("change", async () => {
    try {
      await control({ action: "seek", to: `+${Number(scrub.value) / 1000}` });
    } finally {
      state.dragging = false;
    }
  });

  /** A `status` event's `data.replay` (the GET /api/replay status) from the stream. */
  function onStatus(replay) {
    if (!replay || typeof replay !== "object") return;
    state.status = { replaying: true, ...replay };
    state.updates += 1;
    render();
  }

  root.hidden = true;
  refresh();
  return { refresh, onStatus, state };
}
