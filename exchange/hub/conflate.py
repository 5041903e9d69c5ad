"""Conflation: fewer events carrying the same final state (the slow-consumer path).

Exports: ``conflate``, ``merge_book_deltas``.

* Book deltas of one symbol are merged into one ``book`` event: ``first_seq`` of the first,
  ``seq``/``checksum``/``ts`` of the last, changed levels merged with the last change of a
  price winning (so applying the merged delta to a book gives the same book, and checksum, as
  applying the originals one by one). A ``snapshot`` of the symbol or a ``reset`` ends a run.
* Unless ``books_only``, a ``ticker`` superseded by a later one of the same symbol and a
  ``candle`` superseded by a later one of the same (symbol, interval, t) are dropped.
* Trades, statuses, snapshots and resets are never dropped, and order is kept: a merged or
  surviving event sits at the position (and has the ``id``) of the last event it stands for,
  so ids still rise and resuming from the last delivered id stays exact.

Merged events are encoded here, per caller (the rare path); untouched events keep their
shared bytes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from exchange.hub.events import MdEvent

__all__ = ["conflate", "merge_book_deltas"]


def merge_book_deltas(payloads: list[dict[str, Any]]) -> dict[str, Any]:
    """One delta payload equivalent to applying ``payloads`` in order (same symbol, in seq order).

    Levels are listed best first (bids descending, asks ascending by price).
    """
    first, last = payloads[0], payloads[-1]
    bids: dict[str, str] = {}
    asks: dict[str, str] = {}
    for p in payloads:
        for price, qty in p["bids"]:
            bids[price] = qty
        for price, qty in p["asks"]:
            asks[price] = qty
    merged = dict(last)
    merged["first_seq"] = first["first_seq"]
    merged["bids"] = [[p, q] for p, q in sorted(bids.items(), key=_price_key, reverse=True)]
    merged["asks"] = [[p, q] for p, q in sorted(asks.items(), key=_price_key)]
    return merged


def _price_key(item: tuple[str, str]) -> Decimal:
    return Decimal(item[0])


def conflate(events: list[MdEvent], *, books_only: bool = False) -> list[MdEvent]:
    """Return a conflated copy of ``events`` (see the module docstring)."""
    # key -> indices of the events it merges; the key includes a generation that a
    # snapshot (per symbol) or a reset (global) bumps, so runs never cross them.
    groups: dict[tuple[Any, ...], list[int]] = {}
    member_of: dict[int, tuple[Any, ...]] = {}
    generation: dict[str | None, int] = {}
    barrier = 0
    for i, ev in enumerate(events):
        name = ev.event
        key: tuple[Any, ...] | None = None
        if name == "book":
            key = ("book", ev.symbol, barrier, generation.get(ev.symbol, 0))
        elif name == "snapshot":
            generation[ev.symbol] = generation.get(ev.symbol, 0) + 1
        elif name == "reset":
            barrier += 1
        elif not books_only and name == "ticker":
            key = ("ticker", ev.symbol, barrier)
        elif not books_only and name == "candle":
            p = ev.payload()
            key = ("candle", ev.symbol, barrier, p.get("interval"), p.get("t"))
        if key is not None:
            groups.setdefault(key, []).append(i)
            member_of[i] = key
    if all(len(members) == 1 for members in groups.values()):
        return list(events)
    out: list[MdEvent] = []
    for i, ev in enumerate(events):
        gkey = member_of.get(i)
        if gkey is None:
            out.append(ev)
            continue
        members = groups[gkey]
        if members[-1] != i:
            continue  # superseded by a later member of its group
        if len(members) > 1 and ev.event == "book":
            merged = merge_book_deltas([events[j].payload() for j in members])
            ev = MdEvent(
                ev.offset, ev.id, ev.event, ev.symbol, ev.channel, ev.ts, orjson.dumps(merged)
            )
        out.append(ev)
    return out
