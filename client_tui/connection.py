"""All network I/O of the terminal client: login, market data, order entry, ping.

Exports ``Connection``, ``Backoff`` and ``MD_TRANSPORTS``.

Contract:

* ``Connection`` owns one ``httpx.AsyncClient`` (REST, SSE, long poll) and the order
  WebSocket. Its coroutines :meth:`Connection.run_market` and :meth:`Connection.run_orders`
  run forever in Textual workers (or plain tasks), reconnecting with capped exponential
  backoff, until :meth:`Connection.close` is awaited.
* Everything received is applied to the pure models (``MarketState``, ``OrderTracker``,
  ``Portfolio``) first and then announced by calling ``post`` with a Textual ``Message``
  (``client_tui.messages``). Nothing here touches a widget.
* Market data resumes from the last applied event id after a drop (``Last-Event-ID`` on
  SSE, ``after`` on WebSocket, ``cursor`` on long poll). A gap or a checksum mismatch makes
  the feed reconnect *without* an id, i.e. take fresh snapshots (counted as a resync).
* Orders: the ``OrderTracker`` assigns every ``client_order_id`` before :meth:`send`. On
  every connect the client sends ``executions.resume`` from its last ``exec_seq`` (0 on the
  first, so the account's past orders and fills replay; those ``OrderUpdate``s carry
  ``replayed=True``), and once ``executions.resumed`` arrives (after the first one, also
  ``GET /api/orders``) re-sends every still unanswered request unchanged. On a live socket a
  request unanswered for ``ack_timeout_s`` is sent again unchanged (its key makes that safe;
  ``orders.cancel_all`` excepted), counted in ``retried``.
* Market data is de-duplicated by id: an event whose (id, event, symbol) was delivered in
  the last 1024 is discarded (counted in ``md_duplicates``); a resync forgets them.
* Liveness: a ``ping`` goes out whenever the order socket has been quiet for
  ``ping_interval`` (a third of the dead-man timeout when one is armed, so the switch never
  fires on a live connection). :meth:`Connection.arm_deadman` arms the server's dead-man's
  switch and re-arms it after every reconnect (a new connection starts without one).
* Fault drills (``client_tui.faults``, ``client_tui.drills``): ``faults`` cut, hold down,
  delay and duplicate; ``wire_taps`` see every order-socket frame (``"up"``/``"down"``) and
  ``md_taps`` every market event delivered (or discarded as a duplicate).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import websockets
from httpx_sse import aconnect_sse
from textual.message import Message
from websockets.asyncio.client import ClientConnection, connect

from client_tui.faults import Faults
from client_tui.messages import (
    AccountUpdate,
    ConnectionState,
    MarketEvent,
    MarketReset,
    OrderUpdate,
    PingResult,
    SymbolsLoaded,
    TradesLoaded,
)
from client_tui.model.market import MarketState
from client_tui.model.orders import OrderTracker, Portfolio

__all__ = ["MD_TRANSPORTS", "Backoff", "Connection"]

MD_TRANSPORTS = ("sse", "ws", "poll")
_NET_ERRORS = (httpx.HTTPError, OSError, websockets.WebSocketException, asyncio.TimeoutError)
#: Hook for tests and fault injection: sees every market event before it is applied.
MarketFilter = Callable[[str, dict[str, Any]], dict[str, Any]]
#: Sees every order-socket frame: direction ("up" sent, "down" received) and the message.
WireTap = Callable[[str, dict[str, Any]], None]
#: Sees every market event delivered: id, event, payload and whether it was a discarded copy.
MarketTap = Callable[[str | None, str, dict[str, Any], bool], None]
#: How many recent market-data ids are remembered to discard a duplicate.
SEEN_IDS = 1024


class _Resync(Exception):
    """The local book can no longer be trusted: restart the feed from fresh snapshots."""


class Backoff:
    """Capped exponential backoff: ``initial``, doubling, never above ``cap`` seconds."""

    def __init__(self, initial: float = 0.1, cap: float = 5.0) -> None:
        self.initial = initial
        self.cap = cap
        self.current = initial

    def next(self) -> float:
        """The delay to wait now; the following one doubles."""
        delay = self.current
        self.current = min(self.current * 2, self.cap)
        return delay

    def reset(self) -> None:
        """Back to ``initial`` (after a connection that went live)."""
        self.current = self.initial


class Connection:
    """The client's two connections to one exchange (see the module docstring)."""

    def __init__(
        self,
        base_url: str,
        account: str,
        *,
        market: MarketState,
        tracker: OrderTracker,
        portfolio: Portfolio,
        post: Callable[[Message], object],
        md_transport: str = "sse",
        backoff: tuple[float, float] = (0.1, 5.0),
        ping_interval: float = 2.0,
    ) -> None:
        if md_transport not in MD_TRANSPORTS:
            raise ValueError(f"md_transport must be one of {MD_TRANSPORTS}, not {md_transport!r}")
        self.base_url = base_url.rstrip("/")
        self.ws_url = "ws" + self.base_url.removeprefix("http")
        self.account = account
        self.market = market
        self.tracker = tracker
        self.portfolio = portfolio
        self.post = post
        self.md_transport = md_transport
        self.ping_interval = ping_interval
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=10.0, trust_env=False)
        self.token: str | None = None
        self.last_event_id: str | None = None
        self.md_filter: MarketFilter | None = None
        self.md_reconnects = 0
        self.order_reconnects = 0
        self.md_state = "connecting"
        self.order_state = "connecting"
        self.rtt_ms: float | None = None
        self._backoff = backoff
        self._closing = False
        self._ws: ClientConnection | None = None
        self._md_ws: ClientConnection | None = None
        self._md_response: httpx.Response | None = None
        self._synced = False  # a session was seen: later connects resume from exec_seq
        self._resuming = False
        #: True from the first connect's ``executions.resume`` (after 0) until it is answered:
        #: the messages in between are the account's history, not news (no notification).
        self._history = False
        self._session_exec_seq = 0
        self._generation = 0
        self._sent_on: dict[int, int] = {}  # req_id -> connection generation it went out on
        self._pings: dict[str, float] = {}
        self._account_task: asyncio.Task[None] | None = None
        self._trades_task: asyncio.Task[None] | None = None
        self.faults = Faults()
        self.wire_taps: list[WireTap] = []
        self.md_taps: list[MarketTap] = []
        self.md_duplicates = 0
        self._seen_md: deque[tuple[str, str, str]] = deque()
        self._seen_md_set: set[tuple[str, str, str]] = set()
        self._poll_cut = False
        self._poll_get: asyncio.Future[httpx.Response] | None = None
        #: seconds without an answer on a live socket before a request is sent again
        self.ack_timeout_s = 3.0
        self.retried = 0
        self._sent_at: dict[int, float] = {}  # req_id -> monotonic time it last went out
        #: the dead-man timeout armed by ``arm_deadman`` (0: off)
        self.deadman_ms = 0
        #: monotonic time of the last frame sent on the order socket (the server's dead-man
        #: timer restarts on every frame it receives)
        self.last_sent_mono: float | None = None

    # ------------------------------------------------------------------ REST
    async def login(self) -> str:
        """``POST /api/sessions`` for the account; stores and returns the bearer token."""
        resp = await self.http.post("/api/sessions", json={"account": self.account})
        resp.raise_for_status()
        self.token = str(resp.json()["token"])
        return self.token

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def load_symbols(self) -> None:
        """``GET /api/symbols`` into the market state (retried until it answers)."""
        backoff = Backoff(*self._backoff)
        while True:
            try:
                resp = await self.http.get("/api/symbols")
                resp.raise_for_status()
                self.market.load_symbols(resp.json())
                self.post(SymbolsLoaded())
                return
            except _NET_ERRORS:
                await asyncio.sleep(backoff.next())

    async def load_trades(self) -> None:
        """``GET /api/trades/{symbol}`` and ``GET /api/candles/{symbol}`` (1s, 1m) for every
        symbol into its tape and chart (once, after the symbols; what fails is left to the
        stream)."""
        for symbol in list(self.market.symbols):
            added = self.market.seed_trades(
                symbol, await self._get_json(f"/api/trades/{symbol}", limit=200)
            )
            for interval in ("1s", "1m"):
                candles = await self._get_json(
                    f"/api/candles/{symbol}", interval=interval, limit=300
                )
                added += self.market.seed_candles(symbol, interval, candles)
            if added:
                self.post(TradesLoaded(symbol))

    async def _get_json(self, path: str, **params: Any) -> Any:
        """The JSON of a ``GET``, or None (unreachable, not 200, not JSON)."""
        try:
            resp = await self.http.get(path, params=params)
            return resp.json() if resp.status_code == 200 else None
        except (*_NET_ERRORS, ValueError):
            return None

    async def refresh_account(self) -> None:
        """``GET /api/account`` into the portfolio, then post ``AccountUpdate``."""
        if self.token is None:
            return
        resp = await self.http.get("/api/account", headers=self._auth())
        if resp.status_code == 200:
            self.portfolio.load(resp.json())
            self.post(AccountUpdate())

    def _schedule_account_refresh(self) -> None:
        # Fills come in bursts; one refresh after the burst is enough.
        if self._account_task is None or self._account_task.done():
            self._account_task = asyncio.create_task(self._delayed_refresh())

    async def _delayed_refresh(self) -> None:
        await asyncio.sleep(0.05)
        with contextlib.suppress(*_NET_ERRORS):
            await self.refresh_account()

    # ------------------------------------------------------------------ market data
    def _state(self, channel: str, state: str, detail: str = "") -> None:
        if channel == "md":
            self.md_state = state
        else:
            self.order_state = state
        self.post(ConnectionState(channel, state, detail))

    async def run_market(self) -> None:
        """Receive market data forever over the chosen transport (see module docstring)."""
        if not self.market.symbols:
            await self.load_symbols()
            self._trades_task = asyncio.create_task(self.load_trades())
        backoff = Backoff(*self._backoff)
        runner = {"sse": self._sse_once, "ws": self._ws_md_once, "poll": self._poll_once}
        while not self._closing:
            held = self.faults.md_held()
            if held:
                self._state("md", "down", "cut by a drill")
                await asyncio.sleep(held)
            self._state("md", "connecting" if self.last_event_id is None else "reconnecting")
            if self.last_event_id is None:  # fresh snapshots reuse old ids: forget them
                self._seen_md.clear()
                self._seen_md_set.clear()
            try:
                await runner[self.md_transport](backoff)
                detail = "stream ended"
            except _Resync as exc:
                self.market.resyncs += 1
                self.market.reset_books()
                self.last_event_id = None
                self._state("md", "resyncing", str(exc))
                self.post(MarketReset(str(exc)))
                continue
            except _NET_ERRORS as exc:
                detail = type(exc).__name__
            except ValueError as exc:  # undecodable JSON from the feed: start afresh
                self.market.resyncs += 1
                self.market.reset_books()
                self.last_event_id = None
                detail = f"bad data: {exc}"
            if self._closing:
                break
            self.md_reconnects += 1
            self._state("md", "reconnecting", detail)
            await asyncio.sleep(backoff.next())
        self._state("md", "closed")

    async def _deliver(self, event: str, data: dict[str, Any], event_id: str | None) -> None:
        """One event read from the feed, through the drill faults (delay, duplicate)."""
        hold = self.faults.md_hold_s(data)
        if hold:
            await asyncio.sleep(hold)
        self._apply(event, data, event_id)
        if event_id and self.faults.take_duplicate():
            self._apply(event, data, event_id)  # the same frame again: discarded by its id

    def _apply(self, event: str, data: dict[str, Any], event_id: str | None) -> None:
        if event_id:
            key = (event_id, event, str(data.get("symbol", "")))
            if key in self._seen_md_set:
                self.md_duplicates += 1
                for tap in self.md_taps:
                    tap(event_id, event, data, True)
                return
            self._seen_md.append(key)
            self._seen_md_set.add(key)
            if len(self._seen_md) > SEEN_IDS:
                self._seen_md_set.discard(self._seen_md.popleft())
        if self.md_filter is not None:
            data = self.md_filter(event, data)
        clears = self.market.history_clears
        try:
            self._apply_event(event, data, event_id)
        finally:
            if self.market.history_clears != clears:
                self._reload_history()

    def _reload_history(self) -> None:
        """A replay seek cleared tape and candles: load them again from REST (what the
        server holds of the new time), instead of a load still running for the old one."""
        task = self._trades_task
        if task is not None and not task.done():
            task.cancel()
        if not self._closing:
            self._trades_task = asyncio.get_running_loop().create_task(self.load_trades())

    def _apply_event(self, event: str, data: dict[str, Any], event_id: str | None) -> None:
        if event == "reset":
            self.market.apply_reset(str(data.get("reason", "")))
            self.post(MarketReset(str(data.get("reason", "reset"))))
        else:
            problem = self.market.apply(event, data)
            if problem is not None:
                raise _Resync(problem)
        if event_id:
            self.last_event_id = event_id
        for tap in self.md_taps:
            tap(event_id, event, data, False)
        self.post(MarketEvent(event, data))

    async def _sse_once(self, backoff: Backoff) -> None:
        headers = {"Last-Event-ID": self.last_event_id} if self.last_event_id else {}
        timeout = httpx.Timeout(10.0, read=40.0)  # heartbeats come at least every 15 s
        async with aconnect_sse(
            self.http, "GET", "/md/stream", headers=headers, timeout=timeout
        ) as source:
            source.response.raise_for_status()
            self._md_response = source.response
            self._state("md", "live", "sse")
            backoff.reset()
            try:
                async for sse in source.aiter_sse():
                    if sse.event and sse.data:
                        await self._deliver(sse.event, orjson.loads(sse.data), sse.id or None)
            finally:
                self._md_response = None

    async def _ws_md_once(self, backoff: Backoff) -> None:
        async with connect(self.ws_url + "/ws/md", proxy=None, max_size=None) as ws:
            self._md_ws = ws
            sub: dict[str, Any] = {
                "op": "subscribe",
                "req_id": "md",
                "symbols": list(self.market.symbols),
            }
            if self.last_event_id:
                sub["after"] = self.last_event_id
            await ws.send(orjson.dumps(sub).decode())
            self._state("md", "live", "ws")
            backoff.reset()
            try:
                async for raw in ws:
                    msg = orjson.loads(raw)
                    kind = msg.get("type", "")
                    if kind.startswith("md."):
                        await self._deliver(kind[3:], msg["data"], msg.get("id"))
            finally:
                self._md_ws = None

    async def _poll_once(self, backoff: Backoff) -> None:
        self._state("md", "live", "poll")
        while not self._closing:
            params = {"timeout": "10"}
            if self.last_event_id:
                params["cursor"] = self.last_event_id
            self._poll_get = asyncio.ensure_future(
                self.http.get("/md/poll", params=params, timeout=20.0)
            )
            try:
                resp = await self._poll_get
            except asyncio.CancelledError:
                if not self._poll_cut:
                    raise
                self._poll_cut = False
                raise ConnectionResetError("long poll cut") from None
            finally:
                self._poll_get = None
            resp.raise_for_status()
            backoff.reset()
            body = resp.json()
            for item in body.get("events", []):
                await self._deliver(item["event"], item["data"], item.get("id"))
            if body.get("cursor"):
                self.last_event_id = body["cursor"]

    async def drop_market(self) -> None:
        """Cut the market-data connection now (the feed then resumes from its last id)."""
        if self._md_response is not None:
            await self._md_response.aclose()
        if self._md_ws is not None:
            await self._md_ws.close()
        if self._poll_get is not None and not self._poll_get.done():
            self._poll_cut = True
            self._poll_get.cancel()

    async def cut_market(self, hold_s: float = 0.0) -> None:
        """Cut the market-data connection as a network drop would and keep it down
        ``hold_s`` seconds; it then resumes from the last id applied."""
        self.faults.md_down_until = time.monotonic() + hold_s
        if self._md_ws is not None:
            self._md_ws.transport.abort()
        await self.drop_market()

    # ------------------------------------------------------------------ orders
    async def run_orders(self) -> None:
        """Keep the order WebSocket connected forever (see module docstring)."""
        backoff = Backoff(*self._backoff)
        while not self._closing:
            held = self.faults.orders_held()
            if held:
                self._state("orders", "down", "cut by a drill")
                await asyncio.sleep(held)
            self._state("orders", "connecting" if not self._synced else "reconnecting")
            try:
                if self.token is None:
                    await self.login()
                await self._orders_once(backoff)
                detail = "closed by server"
            except websockets.InvalidStatus as exc:
                if exc.response.status_code == 401:
                    self.token = None  # expired: log in again
                detail = f"HTTP {exc.response.status_code}"
            except _NET_ERRORS as exc:
                detail = type(exc).__name__
            finally:
                self._ws = None
            if self._closing:
                break
            self.order_reconnects += 1
            self._state("orders", "reconnecting", detail)
            await asyncio.sleep(backoff.next())
        self._state("orders", "closed")

    async def _orders_once(self, backoff: Backoff) -> None:
        url = f"{self.ws_url}/ws?token={self.token}"
        async with connect(url, proxy=None, max_size=None, ping_interval=None) as ws:
            session = orjson.loads(await ws.recv())
            if session.get("type") != "session":
                raise websockets.InvalidMessage(f"expected session, got {session.get('type')}")
            for tap in self.wire_taps:
                tap("down", session)
            self._ws = ws
            self._generation += 1
            self._session_exec_seq = int(session.get("latest_exec_seq", 0))
            # Every connect resumes the execution stream from the last exec_seq applied: on
            # the first one that is 0, so the account's past acks, fills and cancels replay
            # (the Fills panel of a restarted client is the account's, as in the browser).
            # The tracker drops what it has seen (exec_seq), so nothing counts twice.
            self._history = not self._synced
            self._resuming = True
            if self.deadman_ms > 0:  # a new connection has no switch: arm it first
                await self._send_raw(
                    {"op": "deadman", "req_id": "deadman", "timeout_ms": self.deadman_ms}
                )
            await self._send_raw(
                {
                    "op": "executions.resume",
                    "req_id": "resume",
                    "after": self.tracker.last_exec_seq,
                }
            )
            self._state("orders", "live", self.account)
            backoff.reset()
            pinger = asyncio.create_task(self._keepalive(ws))
            try:
                async for raw in ws:
                    msg = orjson.loads(raw)
                    rule = self.faults.cut_orders_on
                    cut = rule(msg) if rule is not None else None
                    if cut == "lose":
                        self.faults.cut_orders_on = None
                        ws.transport.abort()
                        raise ConnectionResetError("cut by a drill: the answer was lost")
                    for tap in self.wire_taps:
                        tap("down", msg)
                    await self._on_order_message(msg)
                    if cut == "after":
                        self.faults.cut_orders_on = None
                        ws.transport.abort()
                        raise ConnectionResetError("cut by a drill")
            finally:
                pinger.cancel()

    async def _history_loaded(self) -> None:
        # The start-up replay is done: what follows is live. The open orders' current state
        # comes from GET /api/orders (read while the socket waits, so later messages apply
        # after it).
        self._history = False
        self._synced = True
        await self._load_open_orders()

    async def _load_open_orders(self) -> None:
        resp = await self.http.get("/api/orders", headers=self._auth())
        if resp.status_code == 200:
            for item in resp.json():
                self.tracker.apply({"type": "order.status", **item})
            self.post(OrderUpdate({"type": "orders.loaded"}))
        await self.refresh_account()

    async def _on_order_message(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "pong":
            sent = self._pings.pop(str(msg.get("req_id")), None)
            if sent is not None:
                self.rtt_ms = (time.perf_counter() - sent) * 1000
                self.post(PingResult(self.rtt_ms))
            return
        if kind == "executions.resumed":
            self._resuming = False
            if self._history:
                await self._history_loaded()
            await self._resend_unanswered()
            return
        if kind == "error" and msg.get("req_id") == "resume" and self._history:
            # The server no longer keeps the oldest executions: start from the session's
            # exec_seq instead; GET /api/orders still brings the open orders.
            self.tracker.last_exec_seq = max(self.tracker.last_exec_seq, self._session_exec_seq)
            self._resuming = False
            await self._history_loaded()
            await self._resend_unanswered()
            return
        if self.tracker.needs_resume(msg):
            if not self._resuming:
                self._resuming = True
                await self._send_raw(
                    {
                        "op": "executions.resume",
                        "req_id": "resume",
                        "after": self.tracker.last_exec_seq,
                    }
                )
            return  # the replay brings this message again, in order
        if self.tracker.apply(msg):
            self.post(OrderUpdate(msg, replayed=self._history))
        if kind == "order.fill":
            self._schedule_account_refresh()

    async def _resend_unanswered(self) -> None:
        for req in self.tracker.unanswered_requests():
            if self._sent_on.get(req["req_id"]) != self._generation:
                await self._send_raw(req)
                self._sent_on[req["req_id"]] = self._generation
                self._sent_at[req["req_id"]] = time.monotonic()

    async def _send_raw(self, msg: dict[str, Any]) -> None:
        if self._ws is not None:
            await self._ws.send(orjson.dumps(msg).decode())
            self.last_sent_mono = time.monotonic()
            for tap in self.wire_taps:
                tap("up", msg)

    async def send_extra(self, msg: dict[str, Any]) -> bool:
        """Send a message the ``OrderTracker`` does not track (a drill's op, a deliberate
        resend) when the socket is live; True when it went out."""
        if self._ws is None or self._resuming:
            return False
        try:
            await self._send_raw(msg)
        except _NET_ERRORS:
            return False
        return True

    async def send(self, request: dict[str, Any]) -> bool:
        """Send a request built by the ``OrderTracker``; True when it went out now.

        When the socket is down (or a resume is under way) the request stays unanswered in
        the tracker and goes out after the next ``executions.resumed``.
        """
        if self._ws is None or self._resuming:
            return False
        try:
            await self._send_raw(request)
        except _NET_ERRORS:
            return False
        self._sent_on[request["req_id"]] = self._generation
        self._sent_at[request["req_id"]] = time.monotonic()
        return True

    def heartbeat_s(self) -> float:
        """The longest the order socket stays quiet before a ping goes out."""
        if self.deadman_ms > 0:
            return min(self.ping_interval, self.deadman_ms / 3000)
        return self.ping_interval

    async def _keepalive(self, ws: ClientConnection) -> None:
        """Pings (round trip, heartbeat) and the ack timeout, for one connection."""
        n = 0
        while True:
            now = time.monotonic()
            quiet = now - (self.last_sent_mono or 0.0)
            if n == 0 or quiet >= self.heartbeat_s():
                n += 1
                key = f"ping-{n}"
                self._pings = {key: time.perf_counter()}  # an unanswered older ping is moot
                with contextlib.suppress(*_NET_ERRORS):
                    await self._send_raw({"op": "ping", "req_id": key})
            with contextlib.suppress(*_NET_ERRORS):
                await self._retry_unanswered(now)
            wait = self.heartbeat_s() - (time.monotonic() - (self.last_sent_mono or 0.0))
            await asyncio.sleep(max(0.01, min(wait, 0.25, self.ack_timeout_s / 4)))

    async def _retry_unanswered(self, now: float) -> None:
        # On a live socket an answer can still be lost (the server withheld it, a proxy
        # dropped it): after ack_timeout_s the request goes again, unchanged, with its key.
        if self._ws is None or self._resuming:
            return
        for answered in [k for k in self._sent_at if k not in self.tracker.unanswered]:
            del self._sent_at[answered]
        for req in self.tracker.unanswered_requests():
            req_id = req["req_id"]
            sent = self._sent_at.get(req_id)
            if req.get("op") == "orders.cancel_all" or sent is None:
                continue
            if self._sent_on.get(req_id) == self._generation and now - sent >= self.ack_timeout_s:
                self.retried += 1
                self._sent_at[req_id] = now
                await self._send_raw(req)

    async def arm_deadman(self, timeout_ms: int) -> bool:
        """Arm the server's dead-man's switch (0 disarms); kept and re-armed on every
        reconnect. True when the ``deadman`` op went out now (else on the next connect)."""
        self.deadman_ms = max(0, int(timeout_ms))
        return await self.send_extra(
            {"op": "deadman", "req_id": "deadman", "timeout_ms": self.deadman_ms}
        )

    def deadman_left_s(self, now: float | None = None) -> float | None:
        """Seconds before the server's switch fires if nothing more is sent (None: off)."""
        if self.deadman_ms <= 0:
            return None
        now = time.monotonic() if now is None else now
        since = 0.0 if self.last_sent_mono is None else now - self.last_sent_mono
        return self.deadman_ms / 1000 - since

    async def drop_orders(self) -> None:
        """Cut the order socket now (it reconnects and resumes)."""
        if self._ws is not None:
            await self._ws.close()

    def cut_orders(self, hold_s: float = 0.0) -> bool:
        """Cut the order socket as a network drop would (no close frame) and keep it down
        ``hold_s`` seconds; True when there was a socket to cut."""
        self.faults.orders_down_until = time.monotonic() + hold_s
        if self._ws is None:
            return False
        self._ws.transport.abort()
        self._ws = None  # nothing more goes out on it (the reader then sees it closed)
        return True

    @property
    def orders_live(self) -> bool:
        """The order socket is up and not resuming (a request sent now goes out now)."""
        return self._ws is not None and not self._resuming and self.order_state == "live"

    async def rest_get(self, path: str, token: str | None = None, **params: Any) -> Any:
        """``GET path`` with the account's token (or ``token``): the JSON, or raises
        ``httpx.HTTPStatusError``."""
        headers = {"Authorization": f"Bearer {token}"} if token else self._auth()
        resp = await self.http.get(path, params=params, headers=headers)
        resp.raise_for_status()
        return resp.json()

    # ------------------------------------------------------------------ shutdown
    async def close(self) -> None:
        """Close both connections and the HTTP client; the run loops then return.

        Idempotent: a second call does nothing.
        """
        if self._closing:
            return
        self._closing = True
        for task in (self._trades_task, self._account_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, *_NET_ERRORS):
                    await task
        await self.drop_market()
        if self._ws is not None:
            with contextlib.suppress(*_NET_ERRORS):
                await self._ws.close()
        await self.http.aclose()
