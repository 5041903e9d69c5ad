"""The help screen: every key binding of the app and of its widgets."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["HelpScreen", "binding_rows"]


def binding_rows(groups: Iterable[tuple[str, Iterable[BindingType]]]) -> list[tuple[str, str, str]]:
    """``(area, keys, description)`` for every binding with a description."""
    rows: list[tuple[str, str, str]] = []
    for area, bindings in groups:
        for b in bindings:
            if isinstance(b, Binding) and b.description:
                rows.append((area, b.key_display or b.key, b.description))
    return rows


class HelpScreen(ModalScreen[None]):
    """Lists the bindings it is given; any of escape, ``?`` or ``q`` closes it."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close help"),
        Binding("question_mark", "dismiss", "Close help", show=False),
        Binding("q", "dismiss", "Close help", show=False),
    ]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        """A titled table of bindings."""
        table = Table(box=None, expand=True, header_style="bold #8a8f98")
        table.add_column("where", style="#c678dd")
        table.add_column("key", style="bold #ffd75f")
        table.add_column("does", style="#e6e6e6")
        for area, key, desc in self.rows:
            table.add_row(area, key, desc)
        with Vertical(id="help-box"):
            yield Static("tickwire · keyboard", id="help-title")
            yield Static(table, id="help-table")
            yield Static("esc / ? to close", id="help-foot")
