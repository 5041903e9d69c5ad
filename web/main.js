// tickwire browser UI: wiring only. Models and views live in /js/*.js, one module each.
import { createBookView } from "./js/bookview.js";
import { createChart } from "./js/chart.js";
import { createConnectionPanel } from "./js/connection.js";
import { createDepthChart } from "./js/depth.js";
import { createLogin } from "./js/login.js";
import { MarketStore } from "./js/market.js";
import { OrderClient, OrderTracker } from "./js/orders.js";
import { createOrdersView } from "./js/orders_view.js";
import { createPositions } from "./js/positions.js";
import { createReplayBar } from "./js/replay.js";
import { createTape } from "./js/tape.js";
import { createTicker } from "./js/ticker.js";
import { createTicket } from "./js/ticket.js";
import { createToasts, fillToastText } from "./js/toasts.js";
import { TransportStats } from "./js/stats.js";
import { MarketFeed, TRANSPORT_CLASSES } from "./js/transports.js";
import { Race } from "./js/race_lanes.js";
import { createRaceView } from "./js/raceview.js";
import { Timeline, runDrill } from "./js/drills.js";
import { createDrillsView, deadmanText } from "./js/drills_view.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const session = { account: null, token: null };
const STALE_AFTER_MS = 1500; // market data silent this long (no transport live): prices dim
const TAPE_HISTORY = 80; // trades loaded over REST when a symbol is shown
// Replay formats that carry the book only (as the TUI's BOOK_ONLY_FORMATS): tape and chart say why they are empty.
const BOOK_ONLY_FORMATS = new Set(["kraken"]);

async function fetchJson(path, options = {}) {
  const headers = { ...(options.headers ?? {}) };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  const response = await fetch(path, { ...options, headers });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

async function main() {
  const symbolList = await fetchJson("/api/symbols");
  const specs = new Map(symbolList.map((s) => [s.symbol, s]));
  const symbols = symbolList.map((s) => s.symbol);
  const ui = { symbol: params.get("symbol") && specs.has(params.get("symbol")) ? params.get("symbol") : symbols[0], interval: "1s" };
  let account = null;
  let orders = null;
  let frameRequested = false;
  let ordersDirty = true;
  let panelDue = true;
  let depthDirty = false;
  let lastDepth = 0;
  const frameCost = new TransportStats("frame"); // our own work per frame, in ms

  const chart = createChart($("chart"), { fetchJson });
  let replayBar = null; // created below; status events may name a replay before it exists
  const store = new MarketStore({
    specs,
    fetchJson,
    onCandle: (c) => chart.onCandle(c),
    onResync: () => feed.countResync(),
    onRestart: () => feed.restartFresh(),
    // a replay seek: the chart reloads its history (else it would drop every candle older
    // than the last one drawn, and freeze after a seek backwards)
    onReplay: (status) => replayBar?.onStatus(status),
    onSeek: () => {
      chart.show(ui.symbol, ui.interval).catch((err) => ($("chart-stats").textContent = err.message));
      loadTrades(ui.symbol);
      schedule();
    },
  });
  // ?transport= forces one; an unknown name is said so, not silently replaced
  const asked = params.get("transport");
  const forced = asked && Object.hasOwn(TRANSPORT_CLASSES, asked) ? asked : null;
  if (asked && !forced) {
    const note = $("url-notice");
    note.textContent = `unknown transport "${asked}" in the URL (use ${Object.keys(TRANSPORT_CLASSES).join(", ")}): choosing automatically`;
    note.hidden = false;
  }
  const feed = new MarketFeed({
    forced,
    onEvent: (event, data) => {
      store.handle(event, data);
      schedule();
    },
    onChange: schedule,
  });

  const ticker = createTicker($("ticker"), { symbols, onSelect: selectSymbol });
  const ticket = createTicket($("ticket"), {
    onSubmit: (fields) => orders?.submit(fields),
    onReplace: (orig, key, change) => orders?.replace(orig, key, change),
    lastTrade: (symbol) => store.lastPrice(symbol),
  });
  const toasts = createToasts($("toasts"));
  const bookView = createBookView($("book"), { depth: 12, specs, onPrice: (price, side) => ticket.setPrice(price, side) });
  const depth = createDepthChart($("depth"));
  const tape = createTape($("tape"), { rows: 40 });
  const ordersView = createOrdersView(
    { openBody: $("open-orders"), fillsBody: $("fills"), cancelAllButton: $("cancel-all"), counts: { open: $("count-open"), fills: $("count-fills") } },
    {
      onCancel: (key) => orders?.cancel(key),
      onCancelAll: () => orders?.cancelAll(),
      onModify: (order) => {
        ticket.startModify(order);
        ordersDirty = true;
        schedule();
      },
    },
  );
  const positions = createPositions({ body: $("positions"), balances: $("balances"), total: $("pnl-total") });
  const connection = createConnectionPanel(
    { table: $("conn-table"), current: $("conn-current"), badge: $("conn-badge"), switchForm: $("force"), orderState: $("order-state") },
    { onForce: (mode) => feed.force(mode) },
  );

  // Race mode: extra streams beside the live feed, one per transport; the feed is not touched.
  let race = null;
  const raceView = createRaceView(
    { toggle: $("race-toggle"), section: $("race"), table: $("race-table"), note: $("race-note") },
    {
      onToggle: (wanted) => {
        // A stopped race keeps its table on screen until the next one starts.
        if (race?.running) race.stop();
        if (wanted) {
          // ?race=ws,sse picks the lanes (default: every transport this browser has).
          const lanes = params.get("race")?.split(",").filter((name) => name in TRANSPORT_CLASSES) || null;
          race = new Race({ symbols: feed.symbols, channels: feed.channels, lanes, classes: TRANSPORT_CLASSES, onChange: schedule });
          race.start();
        }
        panelDue = true;
        schedule();
      },
    },
  );

  // Fault drills: the switchboard acts on this page's own order socket and market feed.
  const drillTimeline = new Timeline();
  let drillOutcome = null;
  let drillRunning = null;
  const drillsToggle = $("drills-toggle");
  const drills = createDrillsView($("drills"), {
    onRun: async (name) => {
      if (drillRunning) return;
      drillRunning = name;
      drillOutcome = null;
      drills.setBusy(name);
      const ctx = {
        orders,
        feed,
        store,
        symbol: ui.symbol,
        spec: specs.get(ui.symbol),
        fetchJson,
        env: globalThis,
        openSession: async () => {
          const account = `drill-${Math.random().toString(36).slice(2, 10)}`;
          const response = await fetch("/api/sessions", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ account }) });
          if (!response.ok) throw new Error(`a throwaway account could not log in: HTTP ${response.status}`);
          return { account, token: (await response.json()).token };
        },
      };
      drillOutcome = await runDrill(name, ctx, drillTimeline);
      drillRunning = null;
      drills.setBusy(null);
      drills.renderTimeline(drillTimeline, drillOutcome);
      ordersDirty = true;
      schedule();
    },
    onClose: () => drillsToggle.setAttribute("aria-pressed", "false"),
  });
  drillTimeline.onChange = () => drills.renderTimeline(drillTimeline, drillOutcome);
  function toggleDrills() {
    drills.toggle();
    drillsToggle.setAttribute("aria-pressed", String(drills.isOpen));
    panelDue = true;
    schedule();
  }
  drillsToggle.addEventListener("click", toggleDrills);
  const deadmanRow = $("deadman");
  let deadmanNote = null; // a refusal of the typed timeout, shown for a moment
  deadmanRow.querySelector("[data-deadman-arm]").addEventListener("click", () => {
    if (!orders) return;
    const seconds = Number(deadmanRow.querySelector("input").value);
    if (!Number.isFinite(seconds) || seconds < 0 || seconds > 3600) {
      deadmanNote = { text: "0–3600 s (0 disarms)", until: performance.now() + 2500 };
      panelDue = true;
      schedule();
      return;
    }
    orders.armDeadman(Math.round(seconds * 1000));
    panelDue = true;
    schedule();
  });
  function renderDeadman() {
    const state = orders?.deadman() ?? null;
    const button = deadmanRow.querySelector("[data-deadman-arm]");
    button.disabled = !orders;
    button.textContent = state ? "Re-arm" : "Arm";
    deadmanRow.classList.toggle("armed", Boolean(state) && state.remainingMs >= 0);
    deadmanRow.classList.toggle("expired", Boolean(state) && state.remainingMs < 0);
    if (deadmanNote && performance.now() > deadmanNote.until) deadmanNote = null;
    const text = deadmanNote?.text ?? (state ? deadmanText(state) : "off");
    const count = deadmanRow.querySelector("[data-deadman-count]");
    if (count.textContent !== text) count.textContent = text;
    return state;
  }

  const replay = createReplayBar($("replay"), { fetchJson });
  replayBar = replay;

  let accountTimer = null;
  function refreshAccount() {
    clearTimeout(accountTimer);
    accountTimer = setTimeout(async () => {
      try {
        account = await fetchJson("/api/account");
        ordersDirty = true;
        schedule();
      } catch (err) {
        $("order-state").textContent = `account: ${err.message}`;
      }
    }, 150);
  }

  const login = createLogin($("login-form"), {
    who: $("login-who"),
    logoutButton: $("logout"),
    onLogin: ({ account: name, token }) => {
      orders?.close();
      session.account = name;
      session.token = token;
      orders = new OrderClient({
        token,
        onUpdate: (tracker, msg) => {
          ordersDirty = true;
          // A toast per fill the user has not seen: live ones, and those a reconnect's resume
          // brings back (the first resume's history happened before this page connected).
          for (const fill of tracker.takeLiveFills()) toasts.show(fillToastText(fill), fill.side);
          if (msg && (msg.type === "order.fill" || msg.type === "executions.resumed")) refreshAccount();
          schedule();
        },
        onState: () => {
          ordersDirty = true;
          schedule();
        },
      });
      orders.connect();
      ticket.setEnabled(true);
      refreshAccount();
    },
    onLogout: () => {
      orders?.close();
      orders = null;
      account = null;
      session.account = null;
      session.token = null;
      ticket.cancelModify();
      ticket.setEnabled(false);
      ordersView.render(new OrderTracker());
      positions.render(null, store.tickers);
      panelDue = true;
      schedule();
    },
  });

  function schedule() {
    if (frameRequested) return;
    frameRequested = true;
    requestAnimationFrame(frame);
  }

  // One render per animation frame, whatever the event rate: views read the store's dirty sets.
  function frame() {
    frameRequested = false;
    const started = performance.now();
    ticker.render(store);
    store.dirty.ticker.clear();
    if (store.dirty.book.has(ui.symbol)) {
      bookView.render(store.books.get(ui.symbol));
      depthDirty = true;
    }
    // The depth chart is an aggregate picture drawn on a canvas: 10 redraws a second suffice.
    if (depthDirty) {
      if (started - lastDepth >= 100) {
        depthDirty = false;
        lastDepth = started;
        depth.render(store.books.get(ui.symbol));
      } else {
        schedule();
      }
    }
    store.dirty.book.clear();
    if (store.dirty.trades.has(ui.symbol)) tape.render(store.trades.get(ui.symbol), store.tradesLoaded.has(ui.symbol) ? noTradesNote() : "loading trades…");
    store.dirty.trades.clear();
    if (ordersDirty && orders) {
      ordersDirty = false;
      ticket.render(orders.tracker);
      ordersView.render(orders.tracker, ticket.modifying?.client_order_id ?? null);
      positions.render(account, store.tickers);
    }
    // The panel is text-heavy and changes slowly: a timer marks it due 4 times a second.
    if (panelDue) {
      panelDue = false;
      const orderInfo = orders
        ? `orders: ${orders.ready ? "live" : "reconnecting"} · exec_seq ${orders.tracker.lastExecSeq} · reconnects ${orders.reconnects} · re-sent ${orders.resent}${orders.notice ? ` · ${orders.notice}` : ""}`
        : "orders: not logged in";
      const snap = feed.snapshot();
      connection.render(snap, orderInfo);
      // Market data down for more than a moment: every price on the page is dimmed, so nobody
      // trades on a frozen book thinking it live.
      document.body.classList.toggle("md-down", !snap.current && snap.downForMs >= STALE_AFTER_MS);
      raceView.render(race ? race.snapshot() : null);
      const deadman = renderDeadman();
      if (drills.isOpen) drills.renderStatus({ orders: orders ? (orders.ready ? "live" : "reconnecting") : null, deadman, transport: snap.current });
      if (account) positions.render(account, store.tickers); // P&L follows the last prices
      $("chart-stats").textContent = chart.state.updates === 0 && (store.trades.get(ui.symbol)?.length ?? 0) === 0 ? noTradesNote() : `${chart.state.updates} updates`;
    }
    feed.noteRender();
    frameCost.addLatency(performance.now() - started);
  }

  /** Why a symbol's tape and chart are empty. */
  function noTradesNote() {
    return BOOK_ONLY_FORMATS.has(replay.state.status?.format) ? "this recording has no trades (book only)" : "no trades yet";
  }

  /** The trades printed before the page connected (the stream only brings new ones). */
  function loadTrades(symbol) {
    fetchJson(`/api/trades/${encodeURIComponent(symbol)}?limit=${TAPE_HISTORY}`)
      .then((trades) => {
        store.seedTrades(symbol, trades);
        schedule();
      })
      .catch((err) => ($("chart-stats").textContent = `trades: ${err.message}`));
  }

  function selectSymbol(symbol) {
    ui.symbol = symbol;
    ticker.select(symbol);
    ticket.setSymbol(symbol, specs.get(symbol));
    $("chart-title").textContent = symbol;
    $("book-symbol").textContent = symbol;
    store.dirty.book.add(symbol);
    store.dirty.trades.add(symbol);
    chart.show(symbol, ui.interval).catch((err) => ($("chart-stats").textContent = err.message));
    if (!store.tradesLoaded.has(symbol)) loadTrades(symbol);
    schedule();
  }

  for (const button of document.querySelectorAll("#interval [data-interval]")) {
    button.addEventListener("click", () => {
      ui.interval = button.dataset.interval;
      for (const b of document.querySelectorAll("#interval [data-interval]")) b.classList.toggle("active", b === button);
      selectSymbol(ui.symbol);
    });
  }
  for (const tab of document.querySelectorAll("[data-tab]")) {
    tab.addEventListener("click", () => {
      for (const t of document.querySelectorAll("[data-tab]")) t.classList.toggle("active", t === tab);
      for (const body of document.querySelectorAll("[data-tab-body]")) body.hidden = body.dataset.tabBody !== tab.dataset.tab;
      ordersDirty = true;
      schedule();
    });
  }
  $("conn-badge").addEventListener("click", () => $("connection").scrollIntoView({ behavior: "smooth" }));

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.target instanceof HTMLElement && ev.target.closest("input, select, textarea")) return;
    const key = ev.key.toLowerCase();
    if (key === "b" || key === "s") ticket.submit(key === "b" ? "buy" : "sell");
    else if (key === "c" && orders) {
      const newest = orders.tracker.openOrders().at(-1);
      if (newest) orders.cancel(newest.client_order_id);
    } else if (key === "x" && orders) orders.cancelAll();
    else if (key === "/") $("ticket").elements.qty.focus();
    else if (key === "d") toggleDrills();
    else if (/^[1-9]$/.test(key) && symbols[Number(key) - 1]) selectSymbol(symbols[Number(key) - 1]);
    else return;
    ev.preventDefault();
  });

  // A handle for tests and curious people: read-only views of the page's state.
  window.tickwire = {
    store,
    feed,
    ui,
    get orders() {
      return orders;
    },
    get account() {
      return account;
    },
    ticket,
    toasts,
    chart,
    depth: depth.state,
    frameCost: () => frameCost.latency(),
    checksum: (symbol = ui.symbol) => store.books.get(symbol)?.checksum() ?? null,
    selectSymbol,
    replay,
    get race() {
      return race;
    },
    drills: {
      timeline: drillTimeline,
      get outcome() {
        return drillOutcome;
      },
      get running() {
        return drillRunning;
      },
    },
  };

  // Closing the tab: end every stream now. A WebRTC peer left to the server's consent timeout
  // would stay allocated there for ~30 s; closing it here lets the server free it at once.
  addEventListener("pagehide", () => {
    if (race?.running) race.stop();
    feed.stop();
  });
  addEventListener("pageshow", (ev) => {
    if (ev.persisted) feed.start(); // back from the page cache: reconnect (and resume)
  });

  setInterval(() => {
    panelDue = true;
    schedule();
  }, 250);
  selectSymbol(ui.symbol);
  feed.start();
  await login.restore(); // a reload keeps the session until its token expires
}

main().catch((err) => {
  document.body.dataset.error = String(err.message ?? err);
  $("conn-badge").textContent = "error";
  throw err;
});
