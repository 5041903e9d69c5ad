"""Decimal strings on the wire <-> integer units inside (PROTOCOL.md section 1).

Exports: ``DECIMAL_RE``, ``MAX_DIGITS``, ``InvalidDecimal``, ``to_units``, ``format_units``.

A value with ``decimals`` places is held as the integer ``round(value * 10**decimals)``; the
conversion is exact or it fails. No floats are involved anywhere.
"""

from __future__ import annotations

import re

__all__ = ["DECIMAL_RE", "MAX_DIGITS", "InvalidDecimal", "format_units", "to_units"]

#: The accepted syntax (the same pattern string as the browser's). Always use ``fullmatch``:
#: with ``match``, Python's ``$`` would let one final newline through.
DECIMAL_RE = re.compile(r"^[0-9]+(\.[0-9]+)?$")
#: Longest accepted decimal string; anything longer is refused before any arithmetic.
MAX_DIGITS = 40


class InvalidDecimal(ValueError):
    """The string is not a decimal of the accepted syntax, or is not exact at the scale."""


def to_units(text: object, decimals: int) -> int:
    """Parse a wire decimal string into integer units of ``10**-decimals``.

    Raises :class:`InvalidDecimal` if ``text`` is not a ``str`` matching ``DECIMAL_RE``, is
    longer than ``MAX_DIGITS`` characters, or has non-zero digits beyond ``decimals`` places
    (trailing zeros are fine: ``"101.250"`` at 2 decimals is ``10125``).
    """
    if type(text) is not str or len(text) > MAX_DIGITS or not DECIMAL_RE.fullmatch(text):
        raise InvalidDecimal(f"not a decimal string: {text!r}")
    whole, _, frac = text.partition(".")
    if len(frac) > decimals:
        extra = frac[decimals:]
        if extra.strip("0"):
            raise InvalidDecimal(f"{text!r} has more than {decimals} decimal places")
        frac = frac[:decimals]
    return int(whole + frac.ljust(decimals, "0"))


def format_units(units: int, decimals: int) -> str:
    """Canonical decimal string of ``units`` at ``decimals`` places (``10150, 2 -> "101.50"``)."""
    if decimals == 0:
        return str(units)
    sign = "-" if units < 0 else ""
    digits = str(abs(units)).rjust(decimals + 1, "0")
    return f"{sign}{digits[:-decimals]}.{digits[-decimals:]}"
