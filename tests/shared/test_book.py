"""``shared.book.L2Book``: snapshots, deltas, gaps, checksum mismatches, level removal."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.book import L2Book
from shared.checksum import book_checksum
from shared.errors import BookGap, BookOutOfSync, ChecksumMismatch
from shared.models import BookDeltaPayload, BookSnapshotPayload

BIDS = [("100.00", "1.0"), ("99.50", "2.0"), ("99.00", "3.0")]
ASKS = [("100.50", "1.5"), ("101.00", "0.5")]


def snapshot(seq: int = 10, bids: Any = BIDS, asks: Any = ASKS) -> BookSnapshotPayload:
    return BookSnapshotPayload(
        symbol="X",
        seq=seq,
        bids=bids,
        asks=asks,
        last_trade_id=4,
        checksum=book_checksum(asks, bids),
    )


def delta(
    book_after: tuple[list[tuple[str, str]], list[tuple[str, str]]],
    first_seq: int,
    seq: int | None = None,
    bids: Any = (),
    asks: Any = (),
    checksum: int | None = None,
) -> dict[str, Any]:
    after_bids, after_asks = book_after
    return {
        "symbol": "X",
        "first_seq": first_seq,
        "seq": first_seq if seq is None else seq,
        "bids": [list(x) for x in bids],
        "asks": [list(x) for x in asks],
        "checksum": book_checksum(after_asks, after_bids) if checksum is None else checksum,
        "ts": 123,
    }


def test_snapshot_orders_levels_and_reports_best() -> None:
    book = L2Book("X")
    # Levels out of order still land in price order (the checksum is of the sorted book).
    shuffled = snapshot(bids=list(reversed(BIDS))).model_copy(
        update={"checksum": book_checksum(ASKS, BIDS)}
    )
    book.apply_snapshot(shuffled)
    assert book.seq == 10
    assert book.last_trade_id == 4
    assert book.best_bid() == ("100.00", "1.0")
    assert book.best_ask() == ("100.50", "1.5")
    assert book.levels("bids") == BIDS
    assert book.levels("sell", 1) == ASKS[:1]
    assert book.checksum() == book_checksum(ASKS, BIDS)
    assert book.depth() == (3, 2)


def test_deltas_apply_in_sequence_and_remove_zero_levels() -> None:
    book = L2Book("X")
    book.apply_snapshot(snapshot())
    bids = [("100.00", "1.0"), ("99.75", "4.0"), ("99.50", "2.0"), ("99.00", "3.0")]
    assert book.apply_delta(delta((bids, ASKS), 11, bids=[("99.75", "4.0")]))
    bids2 = [("99.75", "4.0"), ("99.50", "2.0"), ("99.00", "3.0")]
    asks2 = [("100.50", "9.0")]
    d = delta(
        (bids2, asks2),
        12,
        14,
        bids=[("100.00", "0")],
        asks=[("101.00", "0.000"), ("100.50", "9.0")],
    )
    assert book.apply_delta(BookDeltaPayload.model_validate(d))
    assert book.seq == 14
    assert book.ts == 123
    assert book.levels("bids") == bids2
    assert book.levels("asks") == asks2
    assert book.best_bid() == ("99.75", "4.0")


def test_removing_an_absent_level_is_a_no_op() -> None:
    book = L2Book("X")
    book.apply_snapshot(snapshot())
    assert book.apply_delta(delta((BIDS, ASKS), 11, bids=[("42.00", "0")]))
    assert book.levels("bids") == BIDS


def test_stale_delta_is_ignored() -> None:
    book = L2Book("X")
    book.apply_snapshot(snapshot())
    assert book.apply_delta(delta((BIDS, ASKS), 9, 10, bids=[("100.00", "0")])) is False
    assert book.levels("bids") == BIDS


@pytest.mark.parametrize(("first_seq", "seq"), [(12, 12), (13, 15), (10, 11)])
def test_gap_raises_and_book_needs_a_snapshot(first_seq: int, seq: int) -> None:
    book = L2Book("X")
    book.apply_snapshot(snapshot())
    with pytest.raises(BookGap) as info:
        book.apply_delta(delta((BIDS, ASKS), first_seq, seq))
    assert info.value.expected == 11
    assert not book.synced
    with pytest.raises(BookGap):  # even the right delta now: resync first
        book.apply_delta(delta((BIDS, ASKS), 11))
    book.apply_snapshot(snapshot(seq=20))
    assert book.apply_delta(delta((BIDS, ASKS), 21))


def test_delta_before_snapshot_is_a_gap() -> None:
    with pytest.raises(BookGap):
        L2Book("X").apply_delta(delta((BIDS, ASKS), 1))


def test_checksum_mismatch_is_detected() -> None:
    book = L2Book("X")
    book.apply_snapshot(snapshot())
    # The server says the level became 2.0; we are told 2.5 -> different book, wrong checksum.
    truth = ([("100.00", "2.0"), *BIDS[1:]], ASKS)
    with pytest.raises(ChecksumMismatch) as info:
        book.apply_delta(delta(truth, 11, bids=[("100.00", "2.5")]))
    assert isinstance(info.value, BookOutOfSync)
    assert info.value.computed == book.checksum() != info.value.expected
    assert not book.synced


def test_snapshot_checksum_mismatch_is_detected() -> None:
    bad = snapshot().model_copy(update={"checksum": 1})
    with pytest.raises(ChecksumMismatch):
        L2Book("X").apply_snapshot(bad)
    unchecked = L2Book("X", verify=False)
    unchecked.apply_snapshot(bad)
    assert unchecked.synced


def test_checksum_uses_only_ten_levels_per_side() -> None:
    bids = [(f"{100 - i}.00", "1") for i in range(15)]
    asks = [(f"{101 + i}.00", "1") for i in range(15)]
    book = L2Book("X", 2)
    book.apply_snapshot(snapshot(bids=bids, asks=asks))
    assert book.checksum() == book_checksum(asks[:10], bids[:10])
    # A change beyond the 10th level leaves the checksum alone.
    before = book.checksum()
    book.apply_levels([("86.00", "0")], [])
    assert book.checksum() == before


def test_price_order_is_numeric_not_lexicographic_and_scale_widens() -> None:
    book = L2Book("X", verify=False)
    book.apply_levels([("9.5", "1"), ("10.0", "1"), ("9.75", "1")], [("100", "1"), ("99.125", "2")])
    assert [p for p, _ in book.levels("bids")] == ["10.0", "9.75", "9.5"]
    assert [p for p, _ in book.levels("asks")] == ["99.125", "100"]
    assert book.price_decimals == 3


def test_max_depth_trims_worst_levels() -> None:
    book = L2Book("X", 2, verify=False, max_depth=2)
    book.apply_levels(
        [("1.00", "1"), ("2.00", "1"), ("3.00", "1")], [("4.00", "1"), ("5.00", "1"), ("6.00", "1")]
    )
    assert book.levels("bids") == [("3.00", "1"), ("2.00", "1")]
    assert book.levels("asks") == [("4.00", "1"), ("5.00", "1")]


def test_to_snapshot_round_trips() -> None:
    book = L2Book("X")
    book.apply_snapshot(snapshot())
    again = L2Book("X")
    again.apply_snapshot(book.to_snapshot())
    assert again.levels("bids") == BIDS
    assert again.checksum() == book.checksum()
    assert book.to_snapshot(depth=1)["bids"] == [list(BIDS[0])]


def test_levels_keep_their_place_after_the_scale_widens() -> None:
    book = L2Book("X", verify=False)
    book.apply_levels([("9.5", "1"), ("10.0", "1")], [])
    book.apply_levels([("9.75", "1")], [("11.125", "1")])  # 3 places: keys rescaled
    book.apply_levels([("9.5", "0")], [])  # a price seen at the old scale still resolves
    assert book.levels("bids") == [("10.0", "1"), ("9.75", "1")]
    assert book.best_ask() == ("11.125", "1")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.booleans(),
            st.integers(1, 60),
            st.sampled_from(["0", "0.00", "1.50", "2.00", "0.25"]),
        ),
        max_size=80,
    )
)
def test_book_matches_a_naive_model(changes: list[tuple[bool, int, str]]) -> None:
    """Apply random level changes one delta each; the book equals a plain dict kept sorted
    by Decimal, and every delta's checksum (computed from the naive model) verifies."""
    book = L2Book("X", 2)
    book.apply_snapshot(snapshot(seq=0, bids=[], asks=[]))
    naive: dict[bool, dict[Decimal, tuple[str, str]]] = {True: {}, False: {}}
    for seq, (is_bid, tick, qty) in enumerate(changes, start=1):
        price = f"{tick // 4}.{(tick % 4) * 25:02d}"
        side = naive[is_bid]
        if Decimal(qty) == 0:
            side.pop(Decimal(price), None)
        else:
            side[Decimal(price)] = (price, qty)
        bids = [side_level for _, side_level in sorted(naive[True].items(), reverse=True)]
        asks = [side_level for _, side_level in sorted(naive[False].items())]
        level = [(price, qty)]
        assert book.apply_delta(
            delta((bids, asks), seq, bids=level if is_bid else (), asks=() if is_bid else level)
        )
        assert book.levels("bids") == bids
        assert book.levels("asks") == asks
