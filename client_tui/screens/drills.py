"""The fault-drill switchboard (``F``): pick a drill, watch its timeline, copy or save it.

Exports ``DrillsScreen``.

Contract: the screen runs drills (``client_tui.drills``) in a worker on the app's own
connection, one at a time; it redraws the timeline and the status line at 10 Hz from the
models (nothing here does I/O). The dead-man row arms the server's switch on the app's
order connection (``Connection.arm_deadman``) and shows its countdown.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from client_tui.drills import DRILLS, DRILLS_BY_NAME, Drill, DrillContext, run_drill
from client_tui.model.timeline import CLIENT, DOWN, SERVER, UP, Outcome, Timeline
from client_tui.widgets.panels import deadman_style, deadman_text

__all__ = ["DrillsScreen"]

_SOURCE_STYLE = {CLIENT: "#e6e6e6", UP: "#61afef", DOWN: "#c678dd", SERVER: "#98c379"}
_OUTCOME_STYLE = {"PASS": "bold black on #26d07c", "FAIL": "bold white on #c0392b",
                  "NOT RUN": "bold black on #ffb000"}  # fmt: skip
_GROUPS = {"orders": "Order entry", "market": "Market data", "deadman": "Liveness"}


class DrillsScreen(Screen[None]):
    """See the module docstring. ``app`` must be a ``TickwireApp`` (its ``conn``,
    ``symbol``, ``drill_options`` and ``drill_dir``)."""

    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("F", "close", "Back", show=False, key_display="F"),
        Binding("enter", "run", "Run drill", show=False),
        Binding("y", "copy", "Copy timeline"),
        Binding("w", "save", "Save timeline"),
        Binding("a", "arm", "Arm dead-man"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.timeline = Timeline()
        self.running: Drill | None = None
        self.last: Drill | None = None
        self.saved: Path | None = None
        self._drawn = -1

    def compose(self) -> ComposeResult:
        """Status line; drill list | timeline and outcome; dead-man row; footer."""
        yield Static(id="drills-status")
        with Horizontal(id="drills-main"):
            options: list[Option | None] = []
            group = ""
            for d in DRILLS:
                if d.group != group:
                    if group:
                        options.append(None)
                    group = d.group
                    options.append(Option(Text(_GROUPS[group], style="bold #8a8f98"),
                                          disabled=True))  # fmt: skip
                options.append(Option(Text(d.title), id=d.name))
            with Vertical(id="drill-left"):
                yield OptionList(*options, id="drill-list")
                yield Static(id="drill-about")
            with Vertical(id="drill-right"):
                yield Static("pick a drill and press enter", id="drill-head")
                with VerticalScroll(id="drill-scroll"):
                    yield Static(id="drill-timeline")
                yield Static(id="drill-outcome")
        with Horizontal(id="deadman-row"):
            yield Static("dead-man's switch, seconds (0 off):", id="deadman-label")
            yield Input(placeholder="e.g. 5", id="deadman-input", restrict=r"[0-9.]*")
            yield Static(id="deadman-countdown")
        yield Footer()

    def on_mount(self) -> None:
        """Titles, the 10 Hz redraw, keyboard on the list."""
        self.query_one("#drill-list").border_title = "Fault drills"
        self.query_one("#drill-right").border_title = "Timeline"
        self.set_interval(0.1, self.redraw)
        self.query_one("#drill-list", OptionList).focus()
        self.redraw()

    # ------------------------------------------------------------------ drawing
    def redraw(self) -> None:
        """Status line and countdown always; the timeline when it changed."""
        conn = self.app.conn  # type: ignore[attr-defined]
        status = Text(no_wrap=True, overflow="crop")
        status.append(f" {conn.account} ", style="bold black on #98c379")
        status.append(f"  orders ● {conn.order_state}", style="#abb2bf")
        status.append(f"  md {conn.md_transport} ● {conn.md_state}", style="#abb2bf")
        status.append(f"  retried {conn.retried}  duplicates discarded {conn.md_duplicates}"
                      f"  resyncs {conn.market.resyncs}", style="#abb2bf")  # fmt: skip
        left = conn.deadman_left_s()
        if left is not None:
            status.append(f"  {deadman_text(left)}", style=deadman_style(left))
        self.query_one("#drills-status", Static).update(status)
        countdown = "off" if left is None else deadman_text(left)
        self.query_one("#deadman-countdown", Static).update(
            Text(countdown, style=deadman_style(left) if left is not None else "#8a8f98")
        )
        if self.timeline.version == self._drawn:
            return
        self._drawn = self.timeline.version
        self._draw_timeline()

    def _draw_timeline(self) -> None:
        tl = self.timeline
        head = Text(tl.title or "pick a drill and press enter", style="bold")
        if self.running is not None:
            head.append(f"  running… {tl.elapsed_ms() / 1000:.1f} s", style="#ffb000")
        self.query_one("#drill-head", Static).update(head)
        body = Table(box=None, show_header=False, padding=(0, 1, 0, 0), expand=True)
        body.add_column("t", justify="right", no_wrap=True, style="#8a8f98")
        body.add_column("source", no_wrap=True)
        body.add_column("text", overflow="fold", ratio=1)
        for row in tl.rows:
            body.add_row(f"{row.t_ms:.1f} ms", Text(row.source, style=_SOURCE_STYLE.get(row.source, "")),
                         Text(row.text))  # fmt: skip
        self.query_one("#drill-timeline", Static).update(body)
        self.query_one("#drill-scroll", VerticalScroll).scroll_end(animate=False)
        self.query_one("#drill-outcome", Static).update(self._outcome_text(tl.outcome))

    def _outcome_text(self, outcome: Outcome | None) -> Text:
        if outcome is None:
            return Text("")
        t = Text()
        t.append(f" {outcome.status} ", style=_OUTCOME_STYLE.get(outcome.status, "bold"))
        t.append(f" {outcome.summary}")
        if self.saved is not None:
            t.append(f"\nsaved to {self.saved}", style="#8a8f98")
        return t

    # ------------------------------------------------------------------ actions
    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """What the highlighted drill does, under the list."""
        drill = DRILLS_BY_NAME.get(event.option.id or "")
        about = Text()
        if drill is not None:
            about.append(drill.title, style="bold")
            about.append(f"\n{drill.about}", style="#abb2bf")
            about.append("\n\nenter runs it on your own connections", style="#8a8f98")
        self.query_one("#drill-about", Static).update(about)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter on a drill runs it."""
        if event.option.id:
            self.start(event.option.id)

    def action_run(self) -> None:
        """Run the highlighted drill."""
        ol = self.query_one("#drill-list", OptionList)
        if ol.highlighted is not None:
            option = ol.get_option_at_index(ol.highlighted)
            if option.id:
                self.start(option.id)

    def start(self, name: str) -> bool:
        """Run the drill ``name`` unless one is running; True when it started."""
        if self.running is not None:
            self.notify("a drill is running: wait for its outcome", severity="warning")
            return False
        drill = DRILLS_BY_NAME[name]
        app: Any = self.app
        ctx = DrillContext(app.conn, app.symbol, self.timeline, **app.drill_options)
        self.running = self.last = drill
        self.saved = None
        # on the app, not the screen: leaving the screen does not stop a drill half-way
        self.app.run_worker(self._run(drill, ctx), group="drill", name=f"drill-{name}")
        return True

    async def _run(self, drill: Drill, ctx: DrillContext) -> None:
        try:
            await run_drill(drill, ctx)
        finally:
            self.running = None
            self._drawn = -1

    def action_copy(self) -> None:
        """The timeline to the clipboard (OSC 52, through ``App.copy_to_clipboard``)."""
        if not self.timeline.rows:
            return
        self.app.copy_to_clipboard(self.timeline.to_text())
        self.notify("timeline copied to the clipboard", title="Drills")

    def action_save(self) -> Path | None:
        """The timeline to a text file in the drill directory (the cwd unless set)."""
        if not self.timeline.rows or self.last is None:
            return None
        folder = Path(getattr(self.app, "drill_dir", None) or Path.cwd())
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = folder / f"tickwire-drill-{self.last.name}-{stamp}.txt"
        path.write_text(self.timeline.to_text(), encoding="utf-8")
        self.saved = path
        self._drawn = -1
        self.notify(f"saved to {path}", title="Drills", markup=False)
        return path

    def action_arm(self) -> None:
        """Keyboard to the dead-man input."""
        self.query_one("#deadman-input", Input).focus()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        """Arm (or with 0, disarm) the dead-man's switch on the app's order connection."""
        try:
            seconds = float(event.value or "0")
        except ValueError:
            self.notify(f"not a number of seconds: {event.value}", severity="error")
            return
        conn = self.app.conn  # type: ignore[attr-defined]
        went = await conn.arm_deadman(round(seconds * 1000))
        when = "" if went else " (goes out when the order socket is back)"
        self.notify(f"dead-man's switch {'off' if seconds == 0 else f'{seconds:g} s'}{when}",
                    title="Drills")  # fmt: skip
        self.query_one("#drill-list", OptionList).focus()

    def action_close(self) -> None:
        """Back to the trading screen (a running drill goes on)."""
        self.app.pop_screen()
