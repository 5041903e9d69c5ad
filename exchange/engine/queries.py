"""Read-only queries over the engine state.

Exports: ``EngineQueries``.

The engine is one class split over four files, as one chain (not mixins): ``EngineCore``
(state and matching, ``core.py``) <- ``EngineQueries`` (here) <- ``EngineReplace``
(``replace.py``) <- ``Engine`` (command dispatch, ``engine.py``). Each layer only adds
methods over the state ``EngineCore`` holds; mypyc compiles the chain as plain classes.

None of these methods changes state; they may be called between any two ``handle`` calls.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from exchange.engine.core import EngineCore
from exchange.engine.types import AccountView, BookSnapshot, Event, OrderView

if TYPE_CHECKING:
    from typing import Self

__all__ = ["EngineQueries"]


class EngineQueries(EngineCore):
    """Queries: books, orders, accounts, execution stream, state hash and snapshots."""

    def book_snapshot(self, symbol: str, depth: int | None = None) -> BookSnapshot:
        """The book of ``symbol`` (best ``depth`` levels a side, all if None), best first.

        ``checksum`` is always over the 10 best levels a side, whatever ``depth`` is.
        Raises ``KeyError`` for an unknown symbol.
        """
        book = self.books[symbol]
        market = self.markets[symbol]
        return BookSnapshot(
            symbol,
            market.seq,
            book.levels(True, depth),
            book.levels(False, depth),
            market.trade_id,
            book.checksum(),
        )

    def find_order(
        self, account: str, client_order_id: str | None = None, order_id: str | None = None
    ) -> OrderView | None:
        """The account's order by either key (any state, while remembered), else None."""
        acct = self.accounts.get(account)
        if acct is None:
            return None
        if client_order_id is not None:
            entry = acct.keys.get(client_order_id)
            order = None if entry is None else self.orders.get(entry[1])
        elif order_id is not None:
            order = self.orders.get(order_id)
            if order is not None and order.account != account:
                order = None
        else:
            return None
        return None if order is None else order.view()

    def open_orders(self, account: str, symbol: str | None = None) -> list[OrderView]:
        """The account's open orders in acceptance order, optionally of one symbol."""
        acct = self.accounts.get(account)
        if acct is None:
            return []
        return [o.view() for o in acct.open_orders.values() if symbol is None or o.symbol == symbol]

    def account_view(self, account: str) -> AccountView | None:
        acct = self.accounts.get(account)
        if acct is None:
            return None
        return AccountView(
            acct.name,
            acct.cash,
            acct.cash - acct.reserved_cash,
            tuple(p.view(s, self.scale[s]) for s, p in acct.positions.items()),
            acct.fees_paid,
            acct.exec_seq,
        )

    def latest_exec_seq(self, account: str) -> int:
        """The account's last ``exec_seq`` (0 before its first execution or if unknown)."""
        acct = self.accounts.get(account)
        return 0 if acct is None else acct.exec_seq

    def earliest_exec_seq(self, account: str) -> int:
        """The oldest ``exec_seq`` still retained (``latest + 1`` when none is)."""
        acct = self.accounts.get(account)
        if acct is None:
            return 1
        return acct.exec_seq - len(acct.exec_history) + 1

    def executions_after(self, account: str, after: int) -> list[Event]:
        """The account's execution-stream events with ``exec_seq > after``, oldest first.

        Only the last ``exec_history`` events are retained: if ``after + 1`` is older than
        :meth:`earliest_exec_seq`, the result starts later (the caller must notice the gap).
        """
        acct = self.accounts.get(account)
        if acct is None:
            return []
        history = acct.exec_history
        first = acct.exec_seq - len(history) + 1
        start = max(0, after + 1 - first)
        if start >= len(history):
            return []
        return list(history)[start:]

    def state_hash(self) -> str:
        """SHA-256 (hex) of the canonical snapshot without the clock.

        Equal states give equal hashes. The engine clock (the latest command ``ts``) is left
        out, so a refused command changes nothing the hash sees.
        """
        from exchange.engine.snapshot import encode

        return hashlib.sha256(encode(self, with_clock=False)).hexdigest()

    def to_snapshot(self) -> bytes:
        """The whole state (keys and execution history included) as bytes; see ``snapshot``."""
        from exchange.engine.snapshot import encode

        return encode(self)

    @classmethod
    def from_snapshot(cls, data: bytes) -> Self:
        """An engine restored from :meth:`to_snapshot` bytes (same ``state_hash``)."""
        from exchange.engine.snapshot import decode

        return decode(cls, data)
