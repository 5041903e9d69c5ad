"""Field validation for commands: raw client values in, integers out, ``Rejection`` on error.

Exports: ``COID_RE``, ``check_coid``, ``parse_price``, ``parse_qty``, ``parse_new``,
``NewFields``.

Order of checks for a new order (the first failure decides the code):
``client_order_id`` (BAD_REQUEST), symbol, side, order_type, tif, post_only, price, qty,
stop_price. ``stop`` (a market order once triggered: ``ioc``/``fok``, no price) and
``stop_limit`` (a limit order at ``price`` once triggered) need a ``stop_price``; no other
type takes one.
A value of the wrong Python type (a number where a decimal string belongs, a non-bool
``post_only``) is BAD_REQUEST, like a wrong-typed JSON field on the wire.
"""

from __future__ import annotations

import re
from typing import Any

from exchange.engine import errors as E
from exchange.engine.errors import Rejection
from exchange.engine.types import SymbolSpec
from shared.values import InvalidDecimal, to_units

__all__ = ["COID_RE", "NewFields", "check_coid", "parse_new", "parse_price", "parse_qty"]

COID_RE = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
_SIDES = {"buy": True, "sell": False}
_TYPES = {"limit": "limit", "market": "market", "stop": "stop", "stop_limit": "stop_limit"}
#: what a stop type becomes when triggered (and so which rules of tif and price it follows)
_TRIGGERS_AS = {"stop": "market", "stop_limit": "limit"}
_TIFS = {"gtc": "gtc", "ioc": "ioc", "fok": "fok"}


#: A command as a client sent it. Its fields are declared ``str`` and so on, but a client may
#: have put anything there, and checking that is this module's job: handlers take commands as
#: ``Raw`` so that the compiled engine (mypyc checks a declared type on every read) reads the
#: value as it is and validation rejects it, instead of a ``TypeError`` on the read.
Raw = Any


class NewFields:
    """The validated fields of a ``NewOrder`` (a plain class: native, and cheap to build, in
    the compiled engine, where a ``NamedTuple`` is built by interpreted code)."""

    __slots__ = ("is_buy", "order_type", "post_only", "price", "qty", "spec", "stop_price", "tif")

    def __init__(
        self,
        spec: SymbolSpec,
        is_buy: bool,
        order_type: str,
        price: int | None,
        qty: int,
        tif: str,
        post_only: bool,
        stop_price: int | None = None,
    ) -> None:
        self.spec = spec
        self.stop_price = stop_price
        self.is_buy = is_buy
        self.order_type = order_type
        self.price = price
        self.qty = qty
        self.tif = tif
        self.post_only = post_only


def check_coid(coid: object) -> str:
    """The client_order_id if it is 1-64 of ``[A-Za-z0-9._:-]``; else BAD_REQUEST."""
    if type(coid) is not str:
        raise Rejection(E.BAD_REQUEST, "client_order_id must be 1-64 of [A-Za-z0-9._:-]")
    if 0 < len(coid) <= 64 and coid.isascii() and coid.isalnum():
        return coid  # the common shape, without the regex
    if not COID_RE.fullmatch(coid):
        raise Rejection(E.BAD_REQUEST, "client_order_id must be 1-64 of [A-Za-z0-9._:-]")
    return coid


#: Most recently seen valid values per cache; a full cache is emptied (it is only a shortcut).
CACHE_LIMIT = 65_536


def parse_price(text: object, spec: SymbolSpec, cache: dict[str, int] | None = None) -> int:
    """Price units of a decimal string: > 0, on the tick grid, <= max_price.

    ``cache`` (owned by the caller, one per symbol spec) remembers valid strings.
    """
    if type(text) is not str:
        raise Rejection(E.BAD_REQUEST, "price must be a decimal string")
    if cache is not None:
        hit = cache.get(text)
        if hit is not None:
            return hit
        price = parse_price(text, spec)
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[text] = price
        return price
    try:
        price = to_units(text, spec.price_decimals)
    except InvalidDecimal:
        raise Rejection(E.INVALID_PRICE, f"bad price {text!r}") from None
    if price <= 0:
        raise Rejection(E.INVALID_PRICE, "price must be > 0")
    if price > spec.max_price:
        raise Rejection(E.INVALID_PRICE, "price too large")
    if price % spec.tick_size:
        raise Rejection(E.INVALID_PRICE, "price is off the tick grid")
    return price


def parse_qty(text: object, spec: SymbolSpec, cache: dict[str, int] | None = None) -> int:
    """Quantity units of a decimal string: >= min_qty (and > 0), on the lot grid, <= max_qty."""
    if type(text) is not str:
        raise Rejection(E.BAD_REQUEST, "qty must be a decimal string")
    if cache is not None:
        hit = cache.get(text)
        if hit is not None:
            return hit
        qty = parse_qty(text, spec)
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[text] = qty
        return qty
    if "\n" in text:  # DECIMAL_RE's `$` would let one trailing newline through
        raise Rejection(E.INVALID_QTY, f"bad qty {text!r}")
    try:
        qty = to_units(text, spec.qty_decimals)
    except InvalidDecimal:
        raise Rejection(E.INVALID_QTY, f"bad qty {text!r}") from None
    if qty <= 0:
        raise Rejection(E.INVALID_QTY, "qty must be > 0")
    if qty > spec.max_qty:
        raise Rejection(E.INVALID_QTY, "qty too large")
    if qty % spec.lot_size:
        raise Rejection(E.INVALID_QTY, "qty is off the lot grid")
    if qty < spec.min_qty:
        raise Rejection(E.INVALID_QTY, "qty below min_qty")
    return qty


def parse_new(
    cmd: Raw,
    specs: dict[str, SymbolSpec],
    caches: dict[str, tuple[dict[str, int], dict[str, int]]] | None = None,
) -> NewFields:
    """Validate every field of a ``NewOrder`` (defaults applied) or raise ``Rejection``.

    ``caches`` maps a symbol to its (price, qty) caches of valid strings.
    """
    check_coid(cmd.client_order_id)
    symbol = cmd.symbol
    spec = specs.get(symbol) if type(symbol) is str else None
    if spec is None:
        raise Rejection(E.INVALID_SYMBOL, f"unknown symbol {symbol!r}")
    side = cmd.side
    is_buy = _SIDES.get(side) if type(side) is str else None
    if is_buy is None:
        raise Rejection(E.INVALID_SIDE, f"bad side {side!r}")
    otype = _TYPES.get(cmd.order_type) if type(cmd.order_type) is str else None
    if otype is None:
        raise Rejection(E.INVALID_TYPE, f"bad order_type {cmd.order_type!r}")
    # a stop type follows the rules of what it becomes when triggered
    base = _TRIGGERS_AS.get(otype, otype)
    tif_raw = cmd.tif
    if tif_raw is None:
        tif = "gtc" if base == "limit" else "ioc"
    else:
        tif_opt = _TIFS.get(tif_raw) if type(tif_raw) is str else None
        if tif_opt is None:
            raise Rejection(E.INVALID_TIF, f"bad tif {tif_raw!r}")
        tif = tif_opt
    if base == "market" and tif == "gtc":
        raise Rejection(E.INVALID_TIF, f"a {otype} order is ioc or fok")
    post_only = cmd.post_only
    if type(post_only) is not bool:
        raise Rejection(E.BAD_REQUEST, "post_only must be a boolean")
    if post_only and otype != "limit":
        raise Rejection(E.INVALID_TYPE, "post_only needs a limit order")
    if post_only and tif != "gtc":
        raise Rejection(E.INVALID_TIF, "post_only needs tif gtc")
    if base == "limit":
        if cmd.price is None:
            raise Rejection(E.INVALID_PRICE, f"a {otype} order needs a price")
        price: int | None = parse_price(cmd.price, spec, caches[symbol][0] if caches else None)
    else:
        if cmd.price is not None:
            raise Rejection(E.INVALID_PRICE, f"a {otype} order takes no price")
        price = None
    qty = parse_qty(cmd.qty, spec, caches[symbol][1] if caches else None)
    raw_stop = cmd.stop_price
    if otype == base:
        if raw_stop is not None:
            raise Rejection(E.INVALID_PRICE, "stop_price is for stop and stop_limit orders")
        return NewFields(spec, is_buy, otype, price, qty, tif, post_only)
    if raw_stop is None:
        raise Rejection(E.INVALID_PRICE, f"a {otype} order needs a stop_price")
    try:
        stop_price = parse_price(raw_stop, spec)
    except Rejection as r:
        raise Rejection(r.code, "stop_price: " + r.message) from None
    return NewFields(spec, is_buy, otype, price, qty, tif, post_only, stop_price)
