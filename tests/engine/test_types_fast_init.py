"""The faster ``__init__`` given to the interface dataclasses behaves like the generated one."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from exchange.engine import types as t

#: The frozen interface dataclasses: the commands and SymbolSpec (the events live in
#: ``events``: plain dataclasses, native in the compiled engine, with their own __init__).
CLASSES = [
    obj
    for name in t.__all__
    if isinstance(obj := getattr(t, name), type)
    and dataclasses.is_dataclass(obj)
    and obj.__module__ == t.__name__
]


def sample(cls: type) -> dict[str, Any]:
    return {f.name: f"{cls.__name__}.{f.name}" for f in dataclasses.fields(cls)}


def test_every_interface_dataclass_got_the_fast_init() -> None:
    assert len(CLASSES) == 9
    for cls in CLASSES:
        assert "_s0" in cls.__init__.__globals__  # the descriptor-setting version
        assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_fast_init_matches_dataclass_semantics(cls: type) -> None:
    values = sample(cls)
    by_position = cls(*values.values())
    by_keyword = cls(**values)
    assert by_position == by_keyword and hash(by_position) == hash(by_keyword)
    assert dataclasses.asdict(by_keyword) == values  # every field set to its argument
    required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
    minimal = cls(**{name: values[name] for name in required})
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            assert getattr(minimal, f.name) == f.default
    with pytest.raises(dataclasses.FrozenInstanceError):
        by_keyword.__setattr__(dataclasses.fields(cls)[0].name, "changed")
    with pytest.raises(TypeError):
        cls(*values.values(), "one too many")
    if required:
        with pytest.raises(TypeError):
            cls()
    assert dataclasses.replace(by_keyword) == by_keyword
    assert repr(by_keyword).startswith(f"{cls.__name__}(")
