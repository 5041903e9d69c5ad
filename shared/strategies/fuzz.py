"""Fuzz mutators for the codec: random bytes, random JSON, objects with real tags and field
names, mutated valid frames. Needs hypothesis.

Exports: ``random_bytes``, ``json_values``, ``random_json``, ``op_like``, ``mutated_frames``.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import strategies as st

from shared.codec import encode
from shared.models import messages, ops
from shared.strategies.models import STRATEGIES, client_ops
from shared.strategies.values import S

# ------------------------------------------------------------------ fuzzing


def random_bytes(max_size: int = 512) -> S[bytes]:
    """Arbitrary bytes (mostly not JSON)."""
    return st.binary(max_size=max_size)


def json_values(max_leaves: int = 12) -> S[Any]:
    """Arbitrary JSON values (Python form), including huge and wrong-typed numbers."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=16)
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=5)
            | st.dictionaries(st.text(max_size=12), children, max_size=5)
        ),
        max_leaves=max_leaves,
    )


def _dumps(value: Any) -> bytes:
    # orjson refuses ints beyond 64 bits; write those frames by hand so they still occur.
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value).encode()


def random_json() -> S[bytes]:
    """Arbitrary JSON documents, encoded."""
    return json_values().map(_dumps)


_FIELD_NAMES = sorted(
    {name for cls in STRATEGIES for name in cls.model_fields} | {"op", "type", "req_id"}
)


def op_like() -> S[bytes]:
    """JSON objects with a real ``op`` (or ``type``) and real field names holding random
    values: the frames most likely to reach deep into validation."""
    tags = st.sampled_from(sorted(ops.OP_NAMES)).map(lambda t: ("op", t)) | st.sampled_from(
        sorted(messages.TYPE_NAMES)
    ).map(lambda t: ("type", t))
    fields = st.dictionaries(st.sampled_from(_FIELD_NAMES), json_values(8), max_size=8)
    return st.builds(lambda tag, body: _dumps({**body, tag[0]: tag[1]}), tags, fields)


@st.composite
def mutated_frames(draw: st.DrawFn, source: S[Any] | None = None) -> bytes:
    """An encoded valid model (a client op unless ``source`` is given) with one mutation:
    a key dropped, a value replaced by random JSON, a key added, or bytes cut or changed."""
    model = draw(source if source is not None else client_ops())
    frame = encode(model)
    kind = draw(st.sampled_from(["drop", "replace", "add", "truncate", "flip", "insert"]))
    if kind in ("drop", "replace", "add"):
        obj: dict[str, Any] = orjson.loads(frame)
        if kind == "add" or not obj:
            obj[draw(st.sampled_from(_FIELD_NAMES) | st.text(max_size=8))] = draw(json_values(4))
        else:
            key = draw(st.sampled_from(sorted(obj)))
            if kind == "drop":
                del obj[key]
            else:
                obj[key] = draw(json_values(4))
        return _dumps(obj)
    position = draw(st.integers(0, max(len(frame) - 1, 0)))
    if kind == "truncate":
        return frame[:position]
    if kind == "flip":
        return frame[:position] + bytes([draw(st.integers(0, 255))]) + frame[position + 1 :]
    return frame[:position] + draw(st.binary(min_size=1, max_size=4)) + frame[position:]
