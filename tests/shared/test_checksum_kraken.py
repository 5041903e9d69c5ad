"""``book_checksum`` and ``L2Book`` against Kraken's own checksums: the cryptofeed recording
of Kraken's ``book-1000`` channel (see the data folder's README); all 4,269 must match."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from shared.book import L2Book
from shared.checksum import book_checksum
from shared.errors import ChecksumMismatch

DATA = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "data"
    / "cryptofeed-kraken-book-2021-04-17"
    / "KRAKEN.ws.50.0"
)
DEPTH = 1000
UPDATES = 4269

pytestmark = [
    pytest.mark.data,
    pytest.mark.skipif(
        not DATA.is_file(), reason=f"Kraken recording not found at {DATA} (../shared/data absent)"
    ),
]


def book_messages() -> Iterator[list[Any]]:
    """The list messages (book snapshots and updates) of the recording, in order."""
    with DATA.open("rb") as f:
        for line in f:
            if not line.strip() or line.startswith(b"wss://"):
                continue
            _, _, body = line.partition(b": ")
            msg = orjson.loads(body)
            if isinstance(msg, list):
                yield msg


def split(msg: list[Any]) -> tuple[str, dict[str, Any]]:
    """Merge the one or two dicts of a Kraken book message; return (pair, merged)."""
    merged: dict[str, Any] = {}
    for part in msg[1:-2]:
        merged.update(part)
    return msg[-1], merged


def levels(entries: list[list[str]]) -> list[tuple[str, str]]:
    return [(entry[0], entry[1]) for entry in entries]


def test_every_kraken_checksum_matches() -> None:
    books: dict[str, L2Book] = {}
    checked = 0
    mismatches: list[str] = []
    for msg in book_messages():
        pair, body = split(msg)
        if "as" in body or "bs" in body:
            book = books[pair] = L2Book(pair, verify=False, max_depth=DEPTH)
            book.apply_levels(levels(body.get("bs", [])), levels(body.get("as", [])))
            continue
        book = books[pair]
        book.apply_levels(levels(body.get("b", [])), levels(body.get("a", [])))
        expected = int(body["c"])
        by_function = book_checksum(book.levels("asks", 10), book.levels("bids", 10))
        if book.checksum() != expected or by_function != expected:
            mismatches.append(f"{pair} update {checked}: {expected} {book.checksum()}")
        checked += 1
    assert len(books) == 10
    assert checked == UPDATES
    assert mismatches == []


def test_l2book_verifies_kraken_deltas_and_catches_a_corrupted_one() -> None:
    """The same stream through ``apply_delta`` with verification on, seqs made up; then one
    altered quantity must be reported as a mismatch."""
    books: dict[str, L2Book] = {}
    applied = 0
    for msg in book_messages():
        pair, body = split(msg)
        if "as" in body or "bs" in body:
            bids, asks = levels(body.get("bs", [])), levels(body.get("as", []))
            books[pair] = L2Book(pair, max_depth=DEPTH)
            snapshot = {
                "symbol": pair,
                "seq": 0,
                "bids": bids,
                "asks": asks,
                "last_trade_id": 0,
                "checksum": book_checksum(asks, bids),  # Kraken sends none with snapshots
            }
            books[pair].apply_snapshot(snapshot)
            continue
        book = books[pair]
        assert book.seq is not None
        delta = {
            "symbol": pair,
            "first_seq": book.seq + 1,
            "seq": book.seq + 1,
            "bids": levels(body.get("b", [])),
            "asks": levels(body.get("a", [])),
            "checksum": int(body["c"]),
            "ts": 0,
        }
        assert book.apply_delta(delta)
        applied += 1
    assert applied == UPDATES

    book = next(iter(books.values()))
    assert book.seq is not None
    price, qty = book.levels("bids", 1)[0]
    wrong = {
        "symbol": book.symbol,
        "first_seq": book.seq + 1,
        "seq": book.seq + 1,
        "bids": [(price, qty + "1")],
        "asks": [],
        "checksum": book.checksum(),
        "ts": 0,
    }
    with pytest.raises(ChecksumMismatch):
        book.apply_delta(wrong)
