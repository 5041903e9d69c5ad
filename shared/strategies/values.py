"""Hypothesis strategies for wire values (decimals, ids, seqs, levels). Needs hypothesis.

Exports: ``decimals``, ``signed_decimals``, ``identifiers``, ``symbols``, ``raw_strings``,
``req_ids``, ``seqs``, ``exec_seqs``, ``nanos``, ``checksums``, ``md_ids``, ``level``,
``levels``, ``sides``, ``channels``, ``symbol_lists``, ``channel_lists``, ``texts``, ``opt``.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from shared.models import ops
from shared.models.base import INT64_MAX, INT64_MIN
from shared.values import format_units

S = st.SearchStrategy

# ------------------------------------------------------------------ values

#: Canonical decimal strings ("0", "101.25", "0.00000001").
decimals: S[str] = st.builds(format_units, st.integers(0, 10**15), st.integers(0, 8))
#: Signed decimal strings (P&L).
signed_decimals: S[str] = st.builds(format_units, st.integers(-(10**15), 10**15), st.integers(0, 8))
#: Legal client_order_id / symbol-like identifiers.
identifiers: S[str] = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-",
    min_size=1,
    max_size=64,
)
symbols: S[str] = st.sampled_from(["BTC-USD", "ETH-USD", "AAPL", "X"]) | identifiers
#: Anything a client may put in a field the engine judges (valid or not).
raw_strings: S[str] = decimals | st.text(max_size=24)
req_ids: S[int | str | None] = st.none() | st.integers(INT64_MIN, INT64_MAX) | st.text(max_size=128)
seqs: S[int] = st.integers(0, INT64_MAX)
exec_seqs: S[int] = st.integers(1, INT64_MAX)
nanos: S[int] = st.integers(0, INT64_MAX)
checksums: S[int] = st.integers(0, 0xFFFFFFFF)
md_ids: S[str] = st.builds(lambda e, o: f"{e}-{o}", st.text("abcdef0123456789", max_size=12), seqs)
level: S[tuple[str, str]] = st.tuples(decimals, decimals)
levels: S[tuple[tuple[str, str], ...]] = st.lists(level, max_size=6).map(tuple)
sides = st.sampled_from(["buy", "sell"])
channels = st.sampled_from(sorted(ops.CHANNELS))
symbol_lists = st.none() | st.lists(symbols, max_size=4).map(tuple)
channel_lists = st.none() | st.lists(channels, max_size=5).map(tuple)
texts: S[str] = st.text(max_size=40)


def opt(strategy: S[Any]) -> S[Any]:
    return st.none() | strategy
