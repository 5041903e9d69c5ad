"""The order record and its lifecycle as a transition table.

Exports: ``Order``, ``PriceLevel`` (the FIFO of resting orders at one price; ``Book`` keeps
them, defined here because order and level link to each other), ``TRANSITIONS``, the states (``OPEN``, ``PARTIALLY_FILLED``, ``FILLED``,
``CANCELED``) and lifecycle events (``FILL``, ``FILL_ALL``, ``CANCEL``, ``AMEND``).

Contract: an order's ``status`` only changes through :meth:`Order.transition` (or
:meth:`Order.fill`, which uses it); an event that ``TRANSITIONS`` does not list for the
current state raises :class:`IllegalTransition` and leaves the order untouched.
"""

from __future__ import annotations

from typing import Any

from exchange.engine.errors import IllegalTransition
from exchange.engine.types import OrderView

__all__ = [
    "AMEND",
    "CANCEL",
    "CANCELED",
    "FILL",
    "FILLED",
    "FILL_ALL",
    "OPEN",
    "PARTIALLY_FILLED",
    "TRANSITIONS",
    "Order",
    "PriceLevel",
]

OPEN = "open"
PARTIALLY_FILLED = "partially_filled"
FILLED = "filled"
CANCELED = "canceled"

FILL = "fill"  # a partial execution: leaves stay > 0
FILL_ALL = "fill_all"  # the execution that brings leaves to 0
CANCEL = "cancel"
AMEND = "amend"  # replace: new price and/or quantity, same state

TRANSITIONS: dict[str, dict[str, str]] = {
    OPEN: {FILL: PARTIALLY_FILLED, FILL_ALL: FILLED, CANCEL: CANCELED, AMEND: OPEN},
    PARTIALLY_FILLED: {
        FILL: PARTIALLY_FILLED,
        FILL_ALL: FILLED,
        CANCEL: CANCELED,
        AMEND: PARTIALLY_FILLED,
    },
    FILLED: {},
    CANCELED: {},
}


class Order:
    """One order. ``price`` is None for a market order (and a ``stop`` one); quantities are
    integer units. A stop order (``stop_price`` set) waits outside the book until a trade
    prints at its stop price (``triggered``), then matches as a market or limit order.

    ``prev``/``next``/``level`` link a resting order into its price level's FIFO (the book
    owns them). ``reserved`` is the cash (buy) or inventory (sell) this order holds back.
    """

    __slots__ = (
        "account",
        "client_order_id",
        "filled",
        "is_buy",
        "leaves",
        "level",
        "next",
        "order_id",
        "order_type",
        "post_only",
        "prev",
        "price",
        "qty",
        "reserved",
        "seq",
        "status",
        "stop_price",
        "symbol",
        "tif",
        "triggered",
        "ts",
    )

    def __init__(
        self,
        seq: int,
        account: str,
        client_order_id: str,
        symbol: str,
        is_buy: bool,
        order_type: str,
        price: int | None,
        qty: int,
        tif: str,
        post_only: bool,
        ts: int,
        stop_price: int | None = None,
    ) -> None:
        self.seq = seq
        self.order_id = f"O{seq}"
        self.account = account
        self.client_order_id = client_order_id
        self.symbol = symbol
        self.is_buy = is_buy
        self.order_type = order_type
        self.price = price
        self.qty = qty
        self.filled = 0
        self.leaves = qty
        self.tif = tif
        self.post_only = post_only
        self.status = OPEN
        self.ts = ts
        self.reserved = 0
        self.stop_price = stop_price
        self.triggered = False
        self.prev: Order | None = None
        self.next: Order | None = None
        self.level: PriceLevel | None = None

    @property
    def waiting(self) -> bool:
        """A stop order still waiting for its trigger (open, outside the book)."""
        return self.stop_price is not None and not self.triggered and self.is_open

    @property
    def is_open(self) -> bool:
        return self.status is OPEN or self.status is PARTIALLY_FILLED

    def transition(self, event: str) -> None:
        """Apply a lifecycle event; raise :class:`IllegalTransition` (changing nothing) if illegal."""
        nxt = TRANSITIONS[self.status].get(event)
        if nxt is None:
            raise IllegalTransition(
                f"order {self.order_id}: {event!r} not allowed in {self.status!r}"
            )
        self.status = nxt

    def fill(self, qty: int) -> None:
        """Record an execution of ``qty`` (0 < qty <= leaves)."""
        if qty <= 0 or qty > self.leaves:
            raise IllegalTransition(f"order {self.order_id}: fill {qty} with leaves {self.leaves}")
        self.transition(FILL_ALL if qty == self.leaves else FILL)
        self.filled += qty
        self.leaves -= qty

    def view(self) -> OrderView:
        """The order's current state as an ``OrderView``."""
        return OrderView(
            self.order_id,
            self.client_order_id,
            self.account,
            self.symbol,
            "buy" if self.is_buy else "sell",
            self.order_type,  # type: ignore[arg-type]
            self.price,
            self.qty,
            self.tif,  # type: ignore[arg-type]
            self.post_only,
            self.status,  # type: ignore[arg-type]
            self.filled,
            self.leaves,
            self.ts,
            self.stop_price,
            self.triggered,
        )

    def to_record(self) -> list[Any]:
        """A JSON-able record of the order (for snapshots); see :meth:`from_record`. A stop
        order's two fields are appended, so other orders' records (and the state hash of an
        engine without stop orders) are what they were before stop orders existed."""
        rec = [
            self.seq,
            self.account,
            self.client_order_id,
            self.symbol,
            self.is_buy,
            self.order_type,
            self.price,
            self.qty,
            self.filled,
            self.tif,
            self.post_only,
            self.status,
            self.ts,
            self.reserved,
        ]
        if self.stop_price is not None:
            rec.append(self.stop_price)
            rec.append(self.triggered)
        return rec

    @classmethod
    def from_record(cls, rec: list[Any]) -> Order:
        stop = rec[14:]
        (
            seq,
            account,
            coid,
            symbol,
            is_buy,
            otype,
            price,
            qty,
            filled,
            tif,
            post,
            status,
            ts,
            res,
        ) = rec[:14]
        order = cls(seq, account, coid, symbol, is_buy, otype, price, qty, tif, post, ts)
        if stop:
            order.stop_price = int(stop[0])
            order.triggered = bool(stop[1])
        order.filled = filled
        order.leaves = qty - filled
        order.status = {OPEN: OPEN, PARTIALLY_FILLED: PARTIALLY_FILLED, FILLED: FILLED}.get(
            status, CANCELED
        )
        order.reserved = res
        return order


class PriceLevel:
    """A price level: FIFO of resting orders and their total ``qty`` (leaves)."""

    __slots__ = ("count", "head", "price", "qty", "tail")

    def __init__(self, price: int) -> None:
        self.price = price
        self.head: Order | None = None
        self.tail: Order | None = None
        self.qty = 0
        self.count = 0

    def orders(self) -> list[Order]:
        """The resting orders, oldest first."""
        out = []
        node = self.head
        while node is not None:
            out.append(node)
            node = node.next
        return out
