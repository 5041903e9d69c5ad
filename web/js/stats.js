/**
 * Per-transport counters and latency windows for the connection panel. Pure (no DOM).
 *
 * Exports TransportStats, LatencyWindow, percentile(sortedValues, p), and the byte counts of
 * received frames: wsFrameBytes(payloadLength), sseFrameBytes(id, event, dataLength),
 * httpResponseBytes(status, statusText, headers, bodyLength).
 * Two latencies are sampled when the frame that shows an event is painted: `latency` is
 * event time (`ts`, ns, the server's clock) to render, in ms; `renderDelay` is arrival in
 * the page to render (the page's own share). Each keeps its last SAMPLES values.
 */
const SAMPLES = 2048;

/** Bytes of a server-to-client WebSocket frame: payload plus the 2/4/10-byte unmasked header. */
export function wsFrameBytes(payloadLength) {
  return payloadLength + (payloadLength < 126 ? 2 : payloadLength < 65536 ? 4 : 10);
}

/** Bytes of the server's SSE frame `id:<id>\nevent:<event>\ndata:<data>\n\n`. */
export function sseFrameBytes(id, event, dataLength) {
  return 3 + id.length + 7 + event.length + 6 + dataLength + 2;
}

/** Bytes of an HTTP/1.1 response: status line, `name: value` header lines, blank line, body. */
export function httpResponseBytes(status, statusText, headers, bodyLength) {
  let total = `HTTP/1.1 ${status} ${statusText}\r\n`.length + 2 + bodyLength;
  for (const [name, value] of headers) total += name.length + 2 + String(value).length + 2;
  return total;
}

/** Nearest-rank percentile of an ascending array (p in 0..100); null when empty. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** A ring of the last SAMPLES values with p50/p99 over them. */
export class LatencyWindow {
  constructor() {
    this.samples = new Float64Array(SAMPLES);
    this.count = 0;
  }

  add(ms) {
    this.samples[this.count % SAMPLES] = ms;
    this.count += 1;
  }

  reset() {
    this.count = 0;
  }

  /** { p50, p99, n } over the kept samples (n counts every sample ever added). */
  summary() {
    const kept = Math.min(this.count, SAMPLES);
    const sorted = Array.from(this.samples.subarray(0, kept)).sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), n: this.count };
  }
}

export class TransportStats {
  constructor(name) {
    this.name = name;
    this.state = "idle"; // idle | connecting | live | reconnecting | failed | closed
    this.messages = 0;
    this.bytes = 0;
    this.connects = 0;
    this.reconnects = 0;
    this.resumes = 0;
    this.resets = 0;
    this.resyncs = 0;
    this.duplicates = 0; // events delivered twice (same id, event and symbol), discarded
    this.failures = 0;
    this.lastError = "";
    this.openedAt = null; // page clock (ms) of the last open, for tests and the curious
    this.eventToRender = new LatencyWindow();
    this.arrivalToRender = new LatencyWindow();
  }

  received(bytes) {
    this.messages += 1;
    this.bytes += bytes;
  }

  addLatency(ms) {
    this.eventToRender.add(ms);
  }

  addRenderDelay(ms) {
    this.arrivalToRender.add(ms);
  }

  /** Forget the latency samples (start a measurement window). */
  resetLatency() {
    this.eventToRender.reset();
    this.arrivalToRender.reset();
  }

  latency() {
    return this.eventToRender.summary();
  }

  renderDelay() {
    return this.arrivalToRender.summary();
  }

  toJSON() {
    const { eventToRender, arrivalToRender, ...rest } = this;
    return { ...rest, latency: this.latency(), renderDelay: this.renderDelay() };
  }
}
