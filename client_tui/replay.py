"""Replay controls of the terminal client, active only when the server replays a recording.

Exports ``ReplayActions`` (the app's mixin: keys, actions, the probe), ``SeekScreen``,
``REPLAY_BINDINGS`` and ``SPEEDS``.

``replay_probe`` asks ``GET /api/replay`` once at start-up and again after the market-data
feed reconnects; from then on the client follows the replay through the ``status`` events of
the feed, whose ``data.replay`` is the same status (no polling): the app hands each one to
:meth:`ReplayActions.follow_replay`. Once the server is known to replay, the keys of
``REPLAY_BINDINGS`` are bound (space pause/resume, ``]``/``[`` faster/slower through
``SPEEDS``, ``g`` seek) and listed in the help screen. Each action posts to ``/api/replay``
and shows the answer (replay clock, speed, paused) as a notification.
"""

from __future__ import annotations

from typing import Any

import httpx
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from client_tui.model.market import ReplayClockEstimate
from client_tui.trading import TradingActions

__all__ = ["REPLAY_BINDINGS", "SPEEDS", "ReplayActions", "SeekScreen"]

SPEEDS = ("1", "2", "5", "10", "25", "100", "1000", "max")

REPLAY_BINDINGS = [
    Binding("space", "replay_toggle", "Replay: pause / resume", key_display="space"),
    Binding("right_square_bracket", "replay_speed(1)", "Replay: faster", key_display="]"),
    Binding("left_square_bracket", "replay_speed(-1)", "Replay: slower", key_display="["),
    Binding("g", "replay_seek", "Replay: seek to a time", key_display="g"),
]


class SeekScreen(ModalScreen[str | None]):
    """Asks for a replay time (``14:05``, ``+600``, ISO); Enter seeks, escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, clock: str) -> None:
        super().__init__()
        self.clock = clock

    def compose(self) -> ComposeResult:
        """One input."""
        with Vertical(classes="dialog"):
            yield Static(f"Seek the replay (now {self.clock})", classes="dialog-question")
            yield Input(placeholder="14:05:00 · +600 · 2012-06-21T14:05:00", id="seek-to")
            yield Static("Enter to seek · esc to cancel", classes="dialog-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Seek to what was typed."""
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        """Close without seeking."""
        self.dismiss(None)


def summary(st: dict[str, Any]) -> str:
    state = "paused" if st.get("paused") else ("finished" if st.get("finished") else "playing")
    return f"replay {st.get('clock_iso', '?')} · speed {st.get('speed')} · {state}"


class ReplayActions(TradingActions):
    """The replay keys and actions (see the module docstring)."""

    replay_status: dict[str, Any] | None = None
    replay_clock: ReplayClockEstimate | None = None

    async def replay_probe(self) -> None:
        """Ask ``GET /api/replay`` once; when the server replays, follow its answer."""
        try:
            resp = await self.conn.http.get("/api/replay")
        except httpx.HTTPError:
            return
        if resp.status_code != 200:
            return
        body = resp.json()
        if isinstance(body, dict) and body.get("replaying"):
            self.follow_replay(body)

    def follow_replay(self, status: dict[str, Any]) -> None:
        """A replay status (probe answer, control answer or a ``status`` event's
        ``data.replay``): the first one binds the replay keys."""
        first = self.replay_status is None
        self.replay_status = status
        self._follow_replay_clock(status)
        if first:
            for b in REPLAY_BINDINGS:
                self.bind(b.key, b.action, description=b.description, show=False,
                          key_display=b.key_display)  # fmt: skip
            self.notify(summary(status), title="Replay")

    def _follow_replay_clock(self, status: dict[str, Any]) -> None:
        """Lag in a replay is measured against the replay clock, not the wall clock."""
        if self.replay_clock is None:
            self.replay_clock = ReplayClockEstimate(status)
            self.market.clock = self.replay_clock.now_ns
        else:
            self.replay_clock.update(status)

    def replay_help_groups(self) -> list[tuple[str, list[Binding]]]:
        """The help screen's replay section (none when the server does not replay)."""
        return [("replay", REPLAY_BINDINGS)] if self.replay_status is not None else []

    async def _replay_post(self, body: dict[str, Any]) -> None:
        try:
            resp = await self.conn.http.post("/api/replay", json=body)
        except httpx.HTTPError as exc:
            self.notify(f"replay control failed: {exc}", severity="error")
            return
        data = resp.json()
        if resp.status_code != 200:
            self.notify(str(data.get("message", resp.status_code)), severity="error")
            return
        self.follow_replay(data)
        self.notify(summary(data), title="Replay")

    async def action_replay_toggle(self) -> None:
        """Pause a playing replay, resume a paused one."""
        if self.replay_status is not None:
            action = "resume" if self.replay_status.get("paused") else "pause"
            await self._replay_post({"action": action})

    async def action_replay_speed(self, step: int) -> None:
        """The next faster (``step=1``) or slower (``-1``) speed of ``SPEEDS``."""
        if self.replay_status is None:
            return
        current = str(self.replay_status.get("speed"))
        if current in SPEEDS:
            i = SPEEDS.index(current) + step
        else:  # a speed set elsewhere: the nearest step in that direction
            value = float(current)
            faster = [i for i, s in enumerate(SPEEDS) if s == "max" or float(s) > value]
            slower = [i for i, s in enumerate(SPEEDS) if s != "max" and float(s) < value]
            i = (faster[0] if faster else len(SPEEDS) - 1) if step > 0 else (slower or [0])[-1]
        await self._replay_post(
            {"action": "speed", "speed": SPEEDS[max(0, min(i, len(SPEEDS) - 1))]}
        )

    def action_replay_seek(self) -> None:
        """Ask for a time, then seek there."""
        if self.replay_status is None:
            return

        def done(to: str | None) -> None:
            if to:
                self.run_worker(self._replay_post({"action": "seek", "to": to}))

        self.push_screen(SeekScreen(str(self.replay_status.get("clock_iso", "?"))), done)
