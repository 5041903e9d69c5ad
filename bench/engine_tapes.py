"""Seeded, fixed order tapes for the engine benchmark.

Exports: ``Op`` kinds (``LIMIT``, ``MARKET``, ``CANCEL``, ``REDUCE``, ``REPLACE``, ``IOC``),
``mixed_tape``, ``cancel_heavy_tape``, ``gate_tape``, ``lobster_tape``, ``LOBSTER_DIR``.

An op is a tuple ``(kind, order_id, is_buy, price, qty, new_id)``: prices in integer ticks,
quantities in integer lots; ``order_id`` is the tape's own id (unique per new order).
REDUCE takes ``qty`` off the order's open quantity (all of it = cancel); REPLACE gives the
order ``new_id`` with a new ``price``/``qty``. The same seed always gives the same tape.
"""

from __future__ import annotations

import random
from pathlib import Path

__all__ = [
    "CANCEL",
    "IOC",
    "LIMIT",
    "LOBSTER_DIR",
    "MARKET",
    "REDUCE",
    "REPLACE",
    "Op",
    "cancel_heavy_tape",
    "gate_tape",
    "lobster_tape",
    "mixed_tape",
]

LIMIT, MARKET, CANCEL, REDUCE, REPLACE, IOC = range(6)
Op = tuple[int, int, bool, int, int, int]
LOBSTER_DIR = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "data"
    / "lobster-amzn-2012-06-21-level1"
)


class _Gen:
    """A random walk of the mid price plus the ids the tape has created."""

    def __init__(self, seed: int, mid: int = 10_000) -> None:
        self.rng = random.Random(seed)
        self.mid = mid
        self.next_id = 0
        self.live: list[int] = []  # ids that may still rest (the generator does not match)
        self.info: dict[int, tuple[bool, int, int]] = {}

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def walk(self, step: int = 1) -> None:
        self.mid = max(100, self.mid + self.rng.randint(-step, step))

    def limit(self, passive: bool) -> Op:
        rng = self.rng
        is_buy = rng.random() < 0.5
        off = rng.randint(1, 10) if passive else -rng.randint(0, 3)
        price = self.mid - off if is_buy else self.mid + off
        qty = rng.randint(1, 20)
        oid = self.new_id()
        self.live.append(oid)
        self.info[oid] = (is_buy, price, qty)
        return (LIMIT, oid, is_buy, price, qty, 0)

    def pick(self) -> int | None:
        live = self.live
        if not live:
            return None
        i = self.rng.randrange(max(0, len(live) - 2000), len(live))  # mostly recent ids
        live[i], live[-1] = live[-1], live[i]
        return live.pop()

    def cancel(self) -> Op | None:
        oid = self.pick()
        return None if oid is None else (CANCEL, oid, False, 0, 0, 0)

    def replace(self) -> Op | None:
        oid = self.pick()
        if oid is None:
            return None
        is_buy, price, qty = self.info.pop(oid)
        rng = self.rng
        if rng.random() < 0.5:  # quantity down, same price: keeps priority
            qty = max(1, qty - rng.randint(1, 5))
        else:
            price += rng.randint(-2, 2) or 1
            qty = rng.randint(1, 20)
        new = self.new_id()
        self.live.append(new)
        self.info[new] = (is_buy, price, qty)
        return (REPLACE, oid, is_buy, price, qty, new)

    def ioc(self) -> Op:
        is_buy = self.rng.random() < 0.5
        price = self.mid + 3 if is_buy else self.mid - 3
        return (IOC, self.new_id(), is_buy, price, self.rng.randint(1, 30), 0)

    def market(self) -> Op:
        return (MARKET, self.new_id(), self.rng.random() < 0.5, 0, self.rng.randint(1, 10), 0)


def _build(gen: _Gen, n: int, weights: list[tuple[str, float]], burst: float) -> list[Op]:
    names = [w[0] for w in weights]
    cum = [w[1] for w in weights]
    tape: list[Op] = []
    rng = gen.rng
    while len(tape) < n:
        gen.walk(8 if rng.random() < burst else 1)
        kind = rng.choices(names, cum_weights=None, weights=cum)[0]
        op: Op | None
        if kind == "passive":
            op = gen.limit(True)
        elif kind == "cross":
            op = gen.limit(False)
        elif kind == "cancel":
            op = gen.cancel()
        elif kind == "replace":
            op = gen.replace()
        elif kind == "ioc":
            op = gen.ioc()
        else:
            op = gen.market()
        if op is not None:
            tape.append(op)
    return tape


def mixed_tape(n: int, seed: int = 1) -> list[Op]:
    """Passive limits near the touch, crossing limits, cancels, replaces, IOC, market."""
    weights = [
        ("passive", 0.45),
        ("cross", 0.10),
        ("cancel", 0.25),
        ("replace", 0.08),
        ("ioc", 0.10),
        ("market", 0.02),
    ]
    return _build(_Gen(seed), n, weights, burst=0.0)


def cancel_heavy_tape(n: int, seed: int = 2) -> list[Op]:
    """Most orders are cancelled; bursts of volatility move the mid by up to 8 ticks."""
    weights = [("passive", 0.48), ("cross", 0.02), ("cancel", 0.46), ("ioc", 0.04)]
    return _build(_Gen(seed), n, weights, burst=0.05)


def gate_tape(n: int, seed: int = 3) -> list[Op]:
    """Only what orderly-chaos and tickwire both support: limit, market, cancel, reduce."""
    gen = _Gen(seed)
    rng = gen.rng
    tape: list[Op] = []
    while len(tape) < n:
        gen.walk()
        r = rng.random()
        op: Op | None
        if r < 0.55:
            op = gen.limit(True)
        elif r < 0.70:
            op = gen.limit(False)
        elif r < 0.85:
            op = gen.cancel()
        elif r < 0.95:
            oid = gen.pick()
            if oid is None:
                op = None
            else:
                gen.live.append(oid)  # may still rest after a reduce
                op = (REDUCE, oid, False, 0, rng.randint(1, 5), 0)
        else:
            op = gen.market()
        if op is not None:
            tape.append(op)
    return tape


def lobster_tape(limit: int | None = None) -> list[Op]:
    """The LOBSTER AMZN 2012-06-21 level-1 messages as ops (prices in 1/10000 dollars).

    1 -> LIMIT, 2 -> REDUCE, 3 -> CANCEL, 4 -> IOC against the executed order's price;
    messages about orders the file never showed (pre-existing or deep) are left out, and
    two seed orders give the first book row. Raises FileNotFoundError without the data.
    """
    lines = (LOBSTER_DIR / "AMZN_2012-06-21_34200000_57600000_message_1.csv").read_text()
    first = (LOBSTER_DIR / "AMZN_2012-06-21_34200000_57600000_orderbook_1.csv").read_text()
    book_row = next(line for line in first.splitlines() if line[:1].isdigit()).split(",")
    ask, ask_size, bid, bid_size = map(int, book_row)
    tape: list[Op] = [(LIMIT, 1, False, ask, ask_size, 0), (LIMIT, 2, True, bid, bid_size, 0)]
    ids: dict[int, int] = {}
    next_id = 2
    rows = [line.split(",") for line in lines.splitlines() if line[:1].isdigit()]
    for _t, kind_s, id_s, size_s, price_s, dir_s in rows[1:]:
        kind, lob_id, size, price = int(kind_s), int(id_s), int(size_s), int(price_s)
        is_buy = dir_s == "1"
        next_id += 1
        if kind == 1:
            ids[lob_id] = next_id
            tape.append((LIMIT, next_id, is_buy, price, size, 0))
        elif kind in (2, 3) and lob_id in ids:
            oid = ids[lob_id] if kind == 2 else ids.pop(lob_id)
            tape.append((REDUCE if kind == 2 else CANCEL, oid, is_buy, price, size, 0))
        elif kind == 4 and lob_id in ids:
            tape.append((IOC, next_id, not is_buy, price, size, 0))
        if limit is not None and len(tape) >= limit:
            break
    return tape
