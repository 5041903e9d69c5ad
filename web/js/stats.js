/**
 * Per-transport counters and latency samples for the connection panel. Pure (no DOM).
 *
 * Exports TransportStats, percentile(sortedValues, p).
 * Latency is "event time (`ts`, ns) to render" in ms, sampled when the frame that shows the
 * event is painted; the last SAMPLES values are kept.
 */
const SAMPLES = 2048;

/** Nearest-rank percentile of an ascending array (p in 0..100); null when empty. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export class TransportStats {
  constructor(name) {
    this.name = name;
    this.state = "idle"; // idle | connecting | live | failed | closed
    this.messages = 0;
    this.bytes = 0;
    this.connects = 0;
    this.reconnects = 0;
    this.resumes = 0;
    this.resets = 0;
    this.resyncs = 0;
    this.failures = 0;
    this.lastError = "";
    this.samples = new Float64Array(SAMPLES);
    this.sampleCount = 0;
  }

  received(bytes) {
    this.messages += 1;
    this.bytes += bytes;
  }

  addLatency(ms) {
    this.samples[this.sampleCount % SAMPLES] = ms;
    this.sampleCount += 1;
  }

  /** { p50, p99, n } over the kept samples, in ms. */
  latency() {
    const n = Math.min(this.sampleCount, SAMPLES);
    const sorted = Array.from(this.samples.subarray(0, n)).sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), n: this.sampleCount };
  }

  toJSON() {
    const { samples, sampleCount, ...rest } = this;
    return { ...rest, latency: this.latency() };
  }
}
