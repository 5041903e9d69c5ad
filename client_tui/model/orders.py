"""The trader's own orders, fills and requests in flight; positions and P&L.

Exports ``OwnOrder``, ``OwnFill``, ``OrderTracker``, ``Position`` and ``Portfolio``.

``OrderTracker`` is the sans-I/O half of the order connection: it builds every request
(assigning the ``client_order_id`` *before* anything is sent), remembers which requests are
still unanswered, and applies the server's messages in ``exec_seq`` order. The connection
calls :meth:`OrderTracker.apply` for every server message and, after a reconnect and
``executions.resumed``, sends :meth:`OrderTracker.unanswered_requests` again unchanged, so a
retried order carries the same idempotency key and the server holds it once.

Quantities and prices stay decimal strings; arithmetic uses ``decimal.Decimal`` (exact for
decimal strings, never floats).
"""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = ["OrderTracker", "OwnFill", "OwnOrder", "Portfolio", "Position"]

OPEN_STATES = frozenset({"pending", "open", "partially_filled"})
#: Message types that answer a request carrying ``req_id``.
_ANSWERS = frozenset(
    {"order.ack", "order.reject", "order.canceled", "orders.canceled_all", "order.status", "error"}
)


@dataclass(slots=True)
class OwnOrder:
    """One of the trader's orders as the client knows it.

    ``status`` is the server's (``open``, ``partially_filled``, ``filled``, ``canceled``) or
    the client's ``pending`` (sent, not answered) / ``rejected`` (refused, never existed).
    """

    client_order_id: str
    symbol: str
    side: str
    order_type: str
    qty: str
    price: str | None
    tif: str = "gtc"
    post_only: bool = False
    status: str = "pending"
    order_id: str | None = None
    filled_qty: str = "0"
    leaves_qty: str = "0"
    reason: str | None = None
    ts: int = 0
    cancel_requested: bool = False
    #: stop and stop_limit orders: the stop price, and whether a trade has reached it
    stop_price: str | None = None
    triggered: bool = False
    #: the trade price that triggered it (from ``order.triggered``)
    trigger_price: str | None = None

    @property
    def is_open(self) -> bool:
        """Pending or resting on the book (or, for a stop, waiting for its stop price)."""
        return self.status in OPEN_STATES

    @property
    def is_stop(self) -> bool:
        """A stop or stop-limit order (the server refuses to replace one)."""
        return self.stop_price is not None or self.order_type in ("stop", "stop_limit")

    @property
    def waiting(self) -> bool:
        """A stop order still waiting for its stop price (not in the book)."""
        return self.is_stop and not self.triggered and self.is_open


@dataclass(frozen=True, slots=True)
class OwnFill:
    """One execution of an own order (an ``order.fill``)."""

    trade_id: Any
    client_order_id: str
    symbol: str
    side: str
    price: str
    qty: str
    liquidity: str
    fee: str
    ts: int


@dataclass
class OrderTracker:
    """Own orders, fills and unanswered requests; see the module docstring for the contract."""

    prefix: str = field(default_factory=lambda: "tui-" + secrets.token_hex(4))
    last_exec_seq: int = 0
    orders: dict[str, OwnOrder] = field(default_factory=dict)
    fills: deque[OwnFill] = field(default_factory=lambda: deque(maxlen=500))
    #: req_id -> the request exactly as sent (re-sent as is after a reconnect).
    unanswered: dict[int, dict[str, Any]] = field(default_factory=dict)
    rejects: deque[str] = field(default_factory=lambda: deque(maxlen=20))
    _next_req: int = 0
    _next_coid: int = 0

    # ------------------------------------------------------------------ requests
    def next_client_order_id(self) -> str:
        """The key the next order will carry (not consumed until an order is built)."""
        return f"{self.prefix}-{self._next_coid + 1}"

    def _req(self, msg: dict[str, Any]) -> dict[str, Any]:
        self._next_req += 1
        msg["req_id"] = self._next_req
        self.unanswered[self._next_req] = msg
        return msg

    def new_order(
        self,
        symbol: str,
        side: str,
        order_type: str,
        qty: str,
        price: str | None = None,
        tif: str = "gtc",
        post_only: bool = False,
        stop_price: str | None = None,
    ) -> dict[str, Any]:
        """Register a pending order and return its ``order.new`` request (key assigned).

        ``price`` goes out for limit and stop_limit orders, ``stop_price`` for stop and
        stop_limit orders (the others take none)."""
        coid = self.next_client_order_id()
        self._next_coid += 1
        msg: dict[str, Any] = {
            "op": "order.new",
            "client_order_id": coid,
            "symbol": symbol,
            "side": side,
            "order_type": order_type,
            "qty": qty,
            "tif": tif,
            "post_only": post_only,
        }
        if order_type in ("limit", "stop_limit") and price is not None:
            msg["price"] = price
        if order_type in ("stop", "stop_limit") and stop_price is not None:
            msg["stop_price"] = stop_price
        self.orders[coid] = OwnOrder(
            client_order_id=coid,
            symbol=symbol,
            side=side,
            order_type=order_type,
            qty=qty,
            price=msg.get("price"),
            tif=tif,
            post_only=post_only,
            leaves_qty=qty,
            stop_price=msg.get("stop_price"),
        )
        return self._req(msg)

    def cancel(self, client_order_id: str) -> dict[str, Any]:
        """The ``order.cancel`` request for one order."""
        order = self.orders.get(client_order_id)
        if order is not None:
            order.cancel_requested = True
        return self._req({"op": "order.cancel", "client_order_id": client_order_id})

    def cancel_all(self, symbol: str | None = None) -> dict[str, Any]:
        """The ``orders.cancel_all`` request (all symbols when ``symbol`` is None)."""
        msg: dict[str, Any] = {"op": "orders.cancel_all"}
        if symbol is not None:
            msg["symbol"] = symbol
        return self._req(msg)

    def replace(
        self, orig_client_order_id: str, price: str | None = None, qty: str | None = None
    ) -> dict[str, Any]:
        """The ``order.replace`` request; the replacement gets a fresh key, tracked as pending."""
        orig = self.orders[orig_client_order_id]
        coid = self.next_client_order_id()
        self._next_coid += 1
        msg: dict[str, Any] = {
            "op": "order.replace",
            "client_order_id": coid,
            "orig_client_order_id": orig_client_order_id,
        }
        if price is not None:
            msg["price"] = price
        if qty is not None:
            msg["qty"] = qty
        self.orders[coid] = OwnOrder(
            client_order_id=coid,
            symbol=orig.symbol,
            side=orig.side,
            order_type=orig.order_type,
            qty=qty or orig.qty,
            price=price or orig.price,
            tif=orig.tif,
            post_only=orig.post_only,
            leaves_qty=qty or orig.leaves_qty,
            reason=f"replaces {orig_client_order_id}",
        )
        return self._req(msg)

    def unanswered_requests(self) -> list[dict[str, Any]]:
        """Requests still unanswered, oldest first, to re-send unchanged after a reconnect."""
        return [self.unanswered[k] for k in sorted(self.unanswered)]

    def in_flight(self) -> int:
        """How many requests are unanswered."""
        return len(self.unanswered)

    # ------------------------------------------------------------------ server messages
    def needs_resume(self, msg: dict[str, Any]) -> bool:
        """True when ``msg`` skips ahead in the execution stream (a gap to fill by resume)."""
        seq = msg.get("exec_seq")
        return isinstance(seq, int) and seq > self.last_exec_seq + 1

    def apply(self, msg: dict[str, Any]) -> bool:
        """Apply one server message; returns True when own orders or fills changed.

        A message with an ``exec_seq`` at or below the last one applied is a replay already
        seen and is ignored; callers check :meth:`needs_resume` first and do not apply a
        message beyond a gap.
        """
        kind = msg.get("type")
        req_id = msg.get("req_id")
        if kind in _ANSWERS and isinstance(req_id, int):
            self.unanswered.pop(req_id, None)
        seq = msg.get("exec_seq")
        if isinstance(seq, int):
            if seq <= self.last_exec_seq:
                return False
            self.last_exec_seq = seq
        if kind in ("order.ack", "order.status"):
            self._resolve(msg.get("client_order_id"), "order.new", "order.replace")
            return self._on_state(msg)
        if kind == "order.fill":
            return self._on_fill(msg)
        if kind == "order.triggered":
            return self._on_triggered(msg)
        if kind == "order.canceled":
            self._resolve(msg.get("client_order_id"), "order.cancel")
            return self._on_canceled(msg)
        if kind == "order.reject":
            coid = msg.get("client_order_id")
            self.rejects.append(f"{coid}: {msg.get('code')} {msg.get('message', '')}".strip())
            order = self.orders.get(coid) if isinstance(coid, str) else None
            if order is not None and order.status == "pending":
                order.status = "rejected"
                order.reason = str(msg.get("code"))
                return True
            if order is not None:
                order.cancel_requested = False
            return order is not None
        if kind == "error":
            self.rejects.append(f"error: {msg.get('code')} {msg.get('message', '')}".strip())
        # Anything else (a type this client does not know) changes nothing here; its
        # exec_seq, if any, was taken above so the stream does not look gapped.
        return False

    def _resolve(self, coid: object, *ops: str) -> None:
        # A replayed message (no req_id) can answer a request sent before a drop.
        if not isinstance(coid, str):
            return
        for key, req in list(self.unanswered.items()):
            if req.get("client_order_id") == coid and req.get("op") in ops:
                del self.unanswered[key]

    def _on_state(self, msg: dict[str, Any]) -> bool:
        coid = msg["client_order_id"]
        order = self.orders.get(coid)
        if order is None:
            order = OwnOrder(
                client_order_id=coid,
                symbol=msg["symbol"],
                side=msg["side"],
                order_type=msg.get("order_type", "limit"),
                qty=msg["qty"],
                price=msg.get("price"),
            )
            self.orders[coid] = order
        order.order_id = msg.get("order_id", order.order_id)
        order.price = msg.get("price", order.price)
        order.qty = msg.get("qty", order.qty)
        order.tif = msg.get("tif", order.tif)
        order.post_only = bool(msg.get("post_only", order.post_only))
        order.status = msg.get("status", "open")
        order.filled_qty = msg.get("filled_qty", order.filled_qty)
        order.leaves_qty = msg.get("leaves_qty", order.leaves_qty)
        order.ts = msg.get("ts", order.ts)
        order.stop_price = msg.get("stop_price", order.stop_price)
        order.triggered = bool(msg.get("triggered", order.triggered))
        # A replace keeps the order id under a new key: the old key no longer rests.
        if order.order_id is not None:
            for other in self.orders.values():
                if (
                    other is not order
                    and other.order_id == order.order_id
                    and other.status in OPEN_STATES
                ):
                    other.status = "canceled"
                    other.reason = f"replaced by {coid}"
        return True

    def _on_fill(self, msg: dict[str, Any]) -> bool:
        coid = msg.get("client_order_id", "")
        self.fills.appendleft(
            OwnFill(
                trade_id=msg.get("trade_id"),
                client_order_id=coid,
                symbol=msg["symbol"],
                side=msg["side"],
                price=msg["price"],
                qty=msg["qty"],
                liquidity=msg.get("liquidity", ""),
                fee=msg.get("fee", "0"),
                ts=msg.get("ts", 0),
            )
        )
        order = self.orders.get(coid)
        if order is not None:
            order.leaves_qty = msg.get("leaves_qty", order.leaves_qty)
            order.filled_qty = str(Decimal(order.qty) - Decimal(order.leaves_qty))
            order.status = "filled" if Decimal(order.leaves_qty) == 0 else "partially_filled"
            order.ts = msg.get("ts", order.ts)
        return True

    def _on_triggered(self, msg: dict[str, Any]) -> bool:
        coid = msg.get("client_order_id")
        order = self.orders.get(coid) if isinstance(coid, str) else None
        if order is None:
            return False
        order.triggered = True
        order.stop_price = msg.get("stop_price", order.stop_price)
        order.trigger_price = msg.get("trigger_price")
        return True

    def _on_canceled(self, msg: dict[str, Any]) -> bool:
        coid = msg.get("client_order_id")
        order = self.orders.get(coid) if isinstance(coid, str) else None
        if order is None:
            return False
        order.status = "canceled"
        order.cancel_requested = False
        order.reason = msg.get("reason", order.reason)
        order.filled_qty = msg.get("filled_qty", order.filled_qty)
        order.leaves_qty = "0"
        return True

    # ------------------------------------------------------------------ views
    def open_orders(self, symbol: str | None = None) -> list[OwnOrder]:
        """Pending and resting orders, newest first."""
        return [
            o
            for o in reversed(self.orders.values())
            if o.is_open and (symbol is None or o.symbol == symbol)
        ]

    def resting_by_price(self, symbol: str, side: str) -> dict[str, Decimal]:
        """Own open quantity per price string on one side of one symbol (ladder marks)."""
        out: dict[str, Decimal] = {}
        for o in self.orders.values():
            if (
                o.symbol == symbol
                and o.side == side
                and o.is_open
                and o.price is not None
                and not o.waiting  # a waiting stop is not in the book
            ):
                out[o.price] = out.get(o.price, Decimal(0)) + Decimal(o.leaves_qty or o.qty)
        return out


@dataclass(frozen=True, slots=True)
class Position:
    """A position as ``GET /api/account`` reports it."""

    symbol: str
    qty: Decimal
    avg_price: Decimal
    realized_pnl: Decimal

    def unrealized(self, mark: Decimal | None) -> Decimal | None:
        """Mark-to-market P&L of the open quantity; ``None`` without a mark."""
        if mark is None or self.qty == 0:
            return None if mark is None else Decimal(0)
        return (mark - self.avg_price) * self.qty


@dataclass
class Portfolio:
    """Cash and positions from the last ``GET /api/account``."""

    #: currency -> (total, available), decimal strings.
    balances: dict[str, tuple[str, str]] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    latest_exec_seq: int = 0

    def load(self, body: dict[str, Any]) -> None:
        """Replace the contents with an ``/api/account`` answer."""
        bal = body.get("balances", {})
        self.balances = {}
        for name, value in bal.items() if isinstance(bal, dict) else ():
            if isinstance(value, dict):  # {"total": ..., "available": ...}
                self.balances[str(name)] = (str(value.get("total")), str(value.get("available")))
            else:
                self.balances[str(name)] = (str(value), str(value))
        self.positions = {}
        for p in body.get("positions", []):
            self.positions[p["symbol"]] = Position(
                symbol=p["symbol"],
                qty=Decimal(str(p.get("qty", "0"))),
                avg_price=Decimal(str(p.get("avg_price") or "0")),
                realized_pnl=Decimal(str(p.get("realized_pnl") or "0")),
            )
        self.latest_exec_seq = int(body.get("latest_exec_seq", 0) or 0)
