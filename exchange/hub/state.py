"""Serialising a ``MarketHub`` for the journal's snapshots.

Exports: ``dump_state``, ``load_state``, ``STATE_VERSION``.

The blob is orjson: ``{"v", "epoch", "last_offset", "last_ts", "settings", "events", "books"}``.
Each retained event is ``[offset, event, symbol, ts, data]`` with ``data`` the exact encoded
payload as a string, so a restored hub serves byte-identical frames and ids.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson

from exchange.hub.events import CHANNEL_OF, MdEvent
from exchange.hub.host import HubHost

H = TypeVar("H", bound=HubHost)

__all__ = ["STATE_VERSION", "dump_state", "load_state"]

STATE_VERSION = 1


def dump_state(hub: HubHost) -> bytes:
    history = hub.ring
    return orjson.dumps(
        {
            "v": STATE_VERSION,
            "epoch": hub.epoch,
            "last_offset": history.last_offset,
            "last_ts": hub.last_ts,
            "settings": {
                "history_size": history.max_events,
                "history_age_ns": history.max_age_ns,
                "buffer_events": hub.buffer_events,
                "max_pending": hub.max_pending,
                "slow_policy": hub.slow_policy,
                "sweep_every": hub.sweep_every,
            },
            "events": [
                [ev.offset, ev.event, ev.symbol, ev.ts, ev.data.decode()] for ev in history.all()
            ],
            "books": [hub.books.snapshot(s) for s in hub.books.symbols],
        }
    )


def load_state(cls: Callable[..., H], data: bytes, overrides: dict[str, Any]) -> H:
    """Raises ``ValueError`` on a blob that is not a hub state of a known version."""
    try:
        state = orjson.loads(data)
        version = state["v"]
    except (orjson.JSONDecodeError, TypeError, KeyError) as exc:
        raise ValueError(f"not a hub state: {exc}") from exc
    if version != STATE_VERSION:
        raise ValueError(f"unknown hub state version {version!r}")
    settings = {**state["settings"], **overrides}
    hub = cls(state["epoch"], **settings)
    epoch = hub.epoch
    events = [
        MdEvent(offset, f"{epoch}-{offset}", name, symbol, CHANNEL_OF[name], ts, text.encode())
        for offset, name, symbol, ts, text in state["events"]
    ]
    history = hub.ring
    history.reset(events[0].offset - 1 if events else state["last_offset"])
    history.extend(events)
    if history.last_offset != state["last_offset"]:
        raise ValueError("hub state: history does not end at last_offset")
    history.trim()
    for payload in state["books"]:
        hub.books.apply("snapshot", payload["symbol"], payload)
    hub.last_ts = state["last_ts"]
    return hub
