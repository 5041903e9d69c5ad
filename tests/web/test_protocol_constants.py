"""The browser's protocol module (web/js/protocol.js) against the server's models.

node loads the ES module and prints its plain-data exports; every constant must equal what
the ``shared`` package defines, and the decimal and checksum helpers must agree with
``shared.values`` and ``shared.checksum`` on the same inputs.
"""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path
from typing import Any, get_args

from shared.checksum import book_checksum
from shared.errors import ALL_CODES
from shared.models import ServerMessage
from shared.models.market import EVENT_CHANNEL, MD_EVENTS, CandlePayload, StatusPayload
from shared.models.messages import OrderFill, OrderState, OrderType, Session, Side, Tif
from shared.models.ops import CHANNELS, OP_NAMES
from shared.values import DECIMAL_RE, InvalidDecimal, format_units, to_units

WEB = Path(__file__).resolve().parents[2] / "web"


def node(script: str, payload: Any = None) -> Any:
    """Run an ES-module snippet in web/ with `input` bound to payload; it prints JSON."""
    source = f"const input = {json.dumps(payload)};\n{script}"
    done = subprocess.run(
        ["node", "--input-type=module", "-e", source],
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def js_constants() -> dict[str, Any]:
    return node("import * as p from './js/protocol.js'; console.log(JSON.stringify(p));")


def literal(model: Any, name: str) -> set[str]:
    return set(get_args(model.model_fields[name].annotation))


def test_constants_equal_the_server_models() -> None:
    js = js_constants()
    assert set(js["OPS"].values()) == set(OP_NAMES)
    server_types = {m.model_fields["type"].default for m in get_args(get_args(ServerMessage)[0])}
    browser_types = set(js["MESSAGE_TYPES"].values()) | {
        js["MD_PREFIX"] + e for e in js["MD_EVENTS"].values()
    }
    assert browser_types == server_types
    assert set(js["MD_EVENTS"].values()) == set(MD_EVENTS)
    assert set(js["CHANNELS"]) == set(CHANNELS)
    channel_of = {
        event: channel for channel, events in js["CHANNEL_EVENTS"].items() for event in events
    }
    assert channel_of == {e: c for e, c in EVENT_CHANNEL.items() if c is not None}
    assert set(js["REJECT_CODES"]) == set(ALL_CODES)
    assert all(len(message) > 10 for message in js["REJECT_CODES"].values())
    assert set(js["SIDES"]) == set(get_args(Side))
    assert set(js["ORDER_TYPES"]) == set(get_args(OrderType))
    assert set(js["TIFS"]) == set(get_args(Tif))
    assert set(js["ORDER_STATUSES"]) == set(get_args(OrderState))
    assert set(js["LIQUIDITY"]) == literal(OrderFill, "liquidity")
    assert set(js["INTERVALS"]) == literal(CandlePayload, "interval")
    assert set(js["SYMBOL_STATES"]) == literal(StatusPayload, "state")
    assert js["PROTOCOL_VERSION"] == Session.model_fields["protocol"].default
    assert js["DECIMAL_PATTERN"] == DECIMAL_RE.pattern


def random_decimal(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.1:
        return rng.choice(["1e3", "+1", ".5", "NaN", "-1", "1.", "", "1,5", " 2", "0x10"])
    whole = str(rng.randrange(0, 10 ** rng.randint(1, 16)))
    if kind < 0.3:
        return whole
    return f"{whole}.{rng.randrange(0, 10 ** rng.randint(1, 9)):0{rng.randint(1, 9)}d}"


def test_decimal_helpers_agree_with_shared_values() -> None:
    rng = random.Random(5)
    cases = [(random_decimal(rng), rng.randint(0, 8)) for _ in range(400)]
    got = node(
        "import { toUnits, formatUnits } from './js/protocol.js';\n"
        "console.log(JSON.stringify(input.map(([t, d]) => { try { const u = toUnits(t, d);"
        " return [u.toString(), formatUnits(u, d)]; } catch { return null; } })));",
        cases,
    )
    for (text, decimals), answer in zip(cases, got, strict=True):
        try:
            units = to_units(text, decimals)
        except InvalidDecimal:
            assert answer is None, text
            continue
        assert answer == [str(units), format_units(units, decimals)], (text, decimals)


def test_book_checksum_agrees_with_shared_checksum() -> None:
    rng = random.Random(11)
    books = []
    for _ in range(200):
        prices = sorted(rng.sample(range(1, 10**7), rng.randint(0, 30)))
        mid = len(prices) // 2
        level = lambda p: [format_units(p, 2), format_units(rng.randrange(1, 10**8), 4)]  # noqa: E731
        books.append(
            {
                "bids": [level(p) for p in reversed(prices[:mid])],
                "asks": [level(p) for p in prices[mid:]],
            }
        )
    got = node(
        "import { bookChecksum } from './js/book.js';\n"
        "console.log(JSON.stringify(input.map((b) => bookChecksum(b.asks, b.bids))));",
        books,
    )
    assert got == [book_checksum(b["asks"], b["bids"]) for b in books]
