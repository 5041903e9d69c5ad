"""The base class and field types every protocol model uses.

Exports: ``WireModel``, ``ReqId``, ``Dec``, ``EpochSeconds``, ``Level``, ``Levels``, ``Seq``,
``Nanos``, ``INT64_MIN``, ``INT64_MAX``.

Contract: models are frozen, refuse unknown fields and validate strictly (a JSON number where
a string belongs, ``true`` where an integer belongs, are errors). Decimal fields are plain
``str``: their syntax is the engine's to judge (``"1e3"`` must reach it and become
``INVALID_PRICE``). Integers are bounded to signed 64 bits so every model can be encoded.
``WireModel.OMIT_IF_NONE`` names the fields that are *absent* on the wire when ``None``
(``req_id`` when the client sent none, ``exec_seq`` on a duplicate, ...); other ``None``
fields are written as ``null``. ``OMIT_ALL_NONE`` leaves out every ``None`` field.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, Strict, StrictStr

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "Dec",
    "EpochSeconds",
    "Level",
    "Levels",
    "Nanos",
    "ReqId",
    "Seq",
    "WireModel",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

#: A request id as the client chose it: an integer (64-bit) or a short string.
ReqId = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)] | Annotated[str, Field(max_length=128)]
#: A decimal string ("101.25"); syntax checked by the engine, not here.
Dec = StrictStr
#: A non-negative 64-bit counter (seq, offsets, exec_seq, trade_id).
Seq = Annotated[int, Field(ge=0, le=INT64_MAX)]
#: Nanoseconds since the Unix epoch.
Nanos = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
#: Whole seconds since the Unix epoch (a JWT's ``exp``).
EpochSeconds = Annotated[int, Field(ge=0, le=INT64_MAX)]
#: A price level ``[price, qty]``; a JSON array, held as a tuple.
Level = Annotated[tuple[StrictStr, StrictStr], Strict(False)]
#: Levels best first.
Levels = Annotated[tuple[Level, ...], Strict(False)]


class WireModel(BaseModel):
    """Base of every protocol model: frozen, strict, no unknown fields."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        cache_strings="keys",
    )

    #: Fields left out of the encoding when they are ``None`` (names that are not fields of
    #: the model are ignored, so a base class can list ``req_id`` for all its children).
    OMIT_IF_NONE: ClassVar[frozenset[str]] = frozenset({"req_id"})
    #: Leave out every ``None`` field (client ops and request bodies: absent means default).
    OMIT_ALL_NONE: ClassVar[bool] = False
    #: ``OMIT_IF_NONE`` restricted to this model's fields; computed per class.
    omit_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.omit_fields = tuple(name for name in cls.model_fields if name in cls.OMIT_IF_NONE)
