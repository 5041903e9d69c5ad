"""Commands <-> journal payload bytes.

``encode_command(cmd)`` writes a compact JSON array (orjson): a one-letter type tag followed
by the dataclass fields in declaration order, e.g. ``["N","alice","c1","BTC-USD","buy",
"limit","1.5","100.25",null,false,1700000000]``. Every field is written (but the
``APPENDED`` ones at their default, see below), so defaults and ``None`` round-trip exactly. ``decode_command(data)`` checks the tag, the arity and the type
of every field and raises :class:`JournalCorrupt` on anything else; it never returns a
half-valid command.

A record may carry where the command came from: ``encode_sourced(payload, source)`` wraps
an encoded command as ``["X","<source>",<command array>]``. ``decode_command`` reads through
the wrapper (the command is the same), ``command_source`` returns the source (or None). The
Redis sequencer journals each ``tw:cmd`` entry id this way, so a command read again after a
crash is recognised exactly.

Evolution: a field appended to a command (with a default) stays readable from old journals,
because a shorter array takes the defaults of the missing trailing fields. An appended field
listed in ``APPENDED`` is left out while it holds its default, so commands that do not use it
encode to the bytes they had before it existed (``NewOrder.stop_price``). Never reorder or
remove fields, never reuse a tag. Integers of any size round-trip: beyond 64 bits (orjson's
limit) both directions fall back to the standard library's ``json``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable
from operator import attrgetter
from typing import Any

import orjson

from exchange.engine.types import (
    CancelAll,
    CancelOrder,
    Command,
    NewOrder,
    OpenAccount,
    Publish,
    ReplaceOrder,
    SetSymbolState,
    Tick,
)
from exchange.journal.errors import JournalCorrupt, RecordTooLarge

__all__ = [
    "APPENDED",
    "COMMAND_TAGS",
    "SOURCE_TAG",
    "command_source",
    "decode_command",
    "encode_command",
    "encode_sourced",
]

#: The stable type tag of each command class. Never change or reuse one.
COMMAND_TAGS: dict[type, str] = {
    NewOrder: "N",
    CancelOrder: "C",
    ReplaceOrder: "R",
    CancelAll: "A",
    OpenAccount: "O",
    SetSymbolState: "S",
    Tick: "T",
    Publish: "P",
}
#: Fields appended after a command's first release: written only when not at their default
#: (trailing ones first), so records of commands without them keep their old bytes.
APPENDED: dict[type, tuple[str, ...]] = {NewOrder: ("stop_price",)}
#: The tag of a sourced record's wrapper (never a command's tag).
SOURCE_TAG = "X"
_SOURCE_PREFIX = b'["X",'

_STR = (str,)
_OPT_STR = (str, type(None))
_INT = (int,)
_BOOL = (bool,)
_POSITIONS = (list,)

# Accepted JSON types per field, by annotation text (types.py uses postponed annotations).
# Exact type checks: a bool is not accepted where an int belongs, nor the reverse.
_BY_ANNOTATION: dict[str, tuple[type, ...]] = {
    "str": _STR,
    "str | None": _OPT_STR,
    "int": _INT,
    "bool": _BOOL,
    "Literal['open', 'halted']": _STR,
    "tuple[tuple[str, int], ...]": _POSITIONS,
}


class _Spec:
    """How one command class is encoded and checked."""

    __slots__ = (
        "cls",
        "getter",
        "kinds",
        "max_len",
        "min_len",
        "names",
        "positions_at",
        "signatures",
        "tag",
        "trim",
    )

    def __init__(self, cls: type, tag: str) -> None:
        fields = dataclasses.fields(cls)
        self.cls = cls
        self.tag = tag
        self.names = tuple(f.name for f in fields)
        kinds = []
        for f in fields:
            annotation = f.type if isinstance(f.type, str) else repr(f.type)
            if annotation not in _BY_ANNOTATION:  # pragma: no cover - caught by the tests
                raise TypeError(f"codec has no rule for {cls.__name__}.{f.name}: {annotation}")
            kinds.append(_BY_ANNOTATION[annotation])
        self.kinds = tuple(kinds)
        # Fields without a default must be present; trailing defaulted ones may be absent.
        required = [
            f
            for f in fields
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        self.min_len = 1 + len(required)
        self.max_len = 1 + len(fields)
        # Every accepted tuple of field types, for every accepted arity: one set lookup
        # checks a whole record on the hot path.
        self.signatures = frozenset(
            sig
            for arity in range(self.min_len - 1, self.max_len)
            for sig in itertools.product(*self.kinds[:arity])
        )
        self.positions_at = tuple(i for i, k in enumerate(kinds) if k is _POSITIONS)
        appended = APPENDED.get(cls, ())
        if appended != self.names[len(self.names) - len(appended) :]:
            raise TypeError(f"APPENDED fields of {cls.__name__} must be its last fields")
        #: defaults of the trailing appended fields, first to last (empty: write every field)
        self.trim = tuple(f.default for f in fields[len(fields) - len(appended) :])
        getter = attrgetter(*self.names)
        if len(self.names) == 1:
            single: Callable[[Any], Any] = getter
            self.getter: Callable[[Any], tuple[Any, ...]] = lambda cmd: (single(cmd),)
        else:
            self.getter = getter


_SPECS: dict[type, _Spec] = {cls: _Spec(cls, tag) for cls, tag in COMMAND_TAGS.items()}
_BY_TAG: dict[str, _Spec] = {spec.tag: spec for spec in _SPECS.values()}


def encode_command(cmd: Command) -> bytes:
    """Serialize ``cmd`` to journal payload bytes (see the module docstring for the format).

    Raises ``TypeError`` for an object that is not a Command and :class:`RecordTooLarge` for a
    value that cannot be written (a string with a lone surrogate).
    """
    spec = _SPECS.get(type(cmd))
    if spec is None:
        raise TypeError(f"not a journal command: {type(cmd).__name__}")
    fields = (spec.tag, *spec.getter(cmd))
    if spec.trim:
        n = len(fields)
        for default in reversed(spec.trim):
            if fields[n - 1] != default:
                break
            n -= 1
        fields = fields[:n]
    try:
        return orjson.dumps(fields)
    except orjson.JSONEncodeError:
        pass
    # orjson stops at 64-bit ints; the standard library writes any int (rare, so slow is fine).
    try:
        text = json.dumps(fields, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return text.encode()
    except (TypeError, ValueError) as exc:
        raise RecordTooLarge(f"cannot encode {type(cmd).__name__}: {exc}") from exc


def decode_command(data: bytes | bytearray | memoryview) -> Command:
    """Parse journal payload bytes back into the exact Command that was encoded.

    Raises :class:`JournalCorrupt` if ``data`` is not JSON, not an array, has an unknown tag,
    the wrong number of fields, or a field of the wrong type.
    """
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise JournalCorrupt(f"command payload is not JSON: {exc}") from None
    try:
        return _build(_inner(obj))
    except JournalCorrupt:
        # orjson reads an int beyond 64 bits as a float; the standard library keeps it exact.
        try:
            exact = json.loads(bytes(data))
        except ValueError:
            raise JournalCorrupt("command payload is not JSON") from None
        return _build(_inner(exact))


def _build(obj: Any) -> Command:
    if type(obj) is not list or not obj:
        raise JournalCorrupt("command payload is not a non-empty array")
    tag = obj[0]
    spec = _BY_TAG.get(tag) if type(tag) is str else None
    if spec is None:
        raise JournalCorrupt(f"unknown command tag {tag!r}")
    values = obj[1:]
    if tuple(map(type, values)) not in spec.signatures:
        raise JournalCorrupt(_mismatch(spec, values))
    for i in spec.positions_at:
        if i < len(values):
            values[i] = _positions(values[i])
    return spec.cls(*values)


def _mismatch(spec: _Spec, values: list[Any]) -> str:
    """Why ``values`` do not fit ``spec`` (the slow path, for the error message)."""
    n = len(values) + 1
    if n < spec.min_len or n > spec.max_len:
        return f"command {spec.tag!r} has {n - 1} fields, expected {spec.max_len - 1}"
    for name, kinds, value in zip(spec.names, spec.kinds, values, strict=False):
        if type(value) not in kinds:
            return f"command {spec.tag!r} field {name!r} has type {type(value).__name__}"
    return f"command {spec.tag!r} does not match its fields"  # pragma: no cover


def _positions(value: list[Any]) -> tuple[tuple[str, int], ...]:
    out = []
    for item in value:
        if (
            type(item) is not list
            or len(item) != 2
            or type(item[0]) is not str
            or type(item[1]) is not int
        ):
            raise JournalCorrupt(f"bad position entry {item!r}")
        out.append((item[0], item[1]))
    return tuple(out)


def encode_sourced(payload: bytes, source: str) -> bytes:
    """Wrap an ``encode_command`` payload with ``source`` (any string; see the module
    docstring). Raises :class:`RecordTooLarge` for a string that cannot be written."""
    try:
        return b"".join((_SOURCE_PREFIX, orjson.dumps(source), b",", payload, b"]"))
    except orjson.JSONEncodeError as exc:
        raise RecordTooLarge(f"cannot encode source: {exc}") from exc


def command_source(data: bytes | bytearray | memoryview) -> str | None:
    """The source of a record written by ``encode_sourced``; None for a plain command.
    Raises :class:`JournalCorrupt` for a wrapper that is not well formed."""
    if bytes(data[: len(_SOURCE_PREFIX)]) != _SOURCE_PREFIX:
        return None
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            obj = json.loads(bytes(data))
        except ValueError:
            raise JournalCorrupt("sourced record is not JSON") from None
    _unwrap(obj)
    source: str = obj[1]
    return source


def _inner(obj: Any) -> Any:
    """The command array of a record (inside a sourced record's wrapper)."""
    if type(obj) is list and obj and obj[0] == SOURCE_TAG:
        return _unwrap(obj)
    return obj


def _unwrap(obj: list[Any]) -> Any:
    if len(obj) != 3 or type(obj[1]) is not str or type(obj[2]) is not list:
        raise JournalCorrupt('a sourced record is ["X", source, command]')
    return obj[2]
