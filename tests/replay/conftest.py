"""Shared fixtures: the sample recordings beside the repository, and an engine driver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange.engine.engine import Engine
from exchange.engine.types import Event, OrderRejected
from exchange.replay import ReplaySource, ReplayStep

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def sample(*parts: str) -> Path:
    """A file of ``../shared/data``; the test skips (with the reason) when it is absent."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"sample data not found: {path} (the shared/ folder beside the repo)")
    return path


def drive(src: ReplaySource) -> Iterator[tuple[Engine, ReplayStep, list[Event]]]:
    """Feed ``src`` into a fresh engine; yield after every step with that step's events.
    Fails on any reject: replayed commands must all be accepted."""
    engine = Engine(src.symbols)
    for cmd in src.setup:
        for ev in engine.handle(cmd):
            assert not isinstance(ev, OrderRejected), (cmd, ev)
    for step in src.steps:
        events: list[Event] = []
        for cmd in step.commands:
            out = engine.handle(cmd)
            for ev in out:
                assert not isinstance(ev, OrderRejected), (step.line, cmd, ev)
            events.extend(out)
        yield engine, step, events
