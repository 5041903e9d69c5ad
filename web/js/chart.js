/**
 * Candlestick chart of the active symbol (lightweight-charts v5, served from
 * /vendor/lightweight-charts/): candles plus volume, 1s or 1m, the last candle live.
 * Exports createChart(root, { fetchJson }) -> { show(symbol, interval), onCandle(data), updates }.
 *
 * History comes from `GET /api/candles/{symbol}?interval=&limit=`; live `candle` events update
 * the last bar (or append a new one). Prices become floats here for drawing only.
 */
import {
  CandlestickSeries,
  ColorType,
  HistogramSeries,
  createChart as createLwChart,
} from "/vendor/lightweight-charts/lightweight-charts.standalone.production.mjs";

const UP = "#26a69a";
const DOWN = "#ef5350";
const HISTORY = 300;

function toBar(c) {
  const time = Math.floor(c.t / 1e9);
  const o = Number(c.o);
  const close = Number(c.c);
  return {
    candle: { time, open: o, high: Number(c.h), low: Number(c.l), close },
    volume: { time, value: Number(c.v), color: close >= o ? "rgba(38,166,154,0.45)" : "rgba(239,83,80,0.45)" },
  };
}

export function createChart(root, { fetchJson }) {
  const chart = createLwChart(root, {
    autoSize: true,
    layout: { background: { type: ColorType.Solid, color: "#0b0f14" }, textColor: "#8b98a5", fontSize: 11, attributionLogo: false },
    grid: { vertLines: { color: "#161d26" }, horzLines: { color: "#161d26" } },
    rightPriceScale: { borderColor: "#222b36" },
    timeScale: { borderColor: "#222b36", timeVisible: true, secondsVisible: true },
    crosshair: { mode: 0 },
  });
  const candles = chart.addSeries(CandlestickSeries, {
    upColor: UP, downColor: DOWN, borderVisible: false, wickUpColor: UP, wickDownColor: DOWN,
  });
  const volume = chart.addSeries(HistogramSeries, { priceFormat: { type: "volume" }, priceScaleId: "vol", lastValueVisible: false, priceLineVisible: false });
  chart.priceScale("vol").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });

  const state = { symbol: null, interval: "1s", lastTime: 0, loading: false, queued: [], updates: 0 };

  function apply(c) {
    const bar = toBar(c);
    if (bar.candle.time < state.lastTime) return; // older than what is drawn: the history has it
    candles.update(bar.candle);
    volume.update(bar.volume);
    state.lastTime = bar.candle.time;
    state.updates += 1;
  }

  return {
    state,
    async show(symbol, interval) {
      state.symbol = symbol;
      state.interval = interval;
      state.loading = true;
      state.queued = [];
      state.lastTime = 0;
      const history = await fetchJson(`/api/candles/${encodeURIComponent(symbol)}?interval=${interval}&limit=${HISTORY}`);
      if (state.symbol !== symbol || state.interval !== interval) return;
      const bars = history.map(toBar);
      candles.setData(bars.map((b) => b.candle));
      volume.setData(bars.map((b) => b.volume));
      state.lastTime = bars.length ? bars[bars.length - 1].candle.time : 0;
      state.loading = false;
      for (const c of state.queued) apply(c);
      state.queued = [];
      // A young market has few bars: spread them out rather than leave the chart empty.
      if (bars.length < 80) chart.timeScale().fitContent();
      else chart.timeScale().scrollToRealTime();
    },
    /** A live `candle` event (any symbol/interval; others are ignored). */
    onCandle(c) {
      if (c.symbol !== state.symbol || c.interval !== state.interval) return;
      if (state.loading) state.queued.push(c);
      else apply(c);
    },
  };
}
