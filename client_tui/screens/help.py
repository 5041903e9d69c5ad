"""The help screen: every key binding of the app and of its widgets."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
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
    """Lists the bindings it is given; any of escape, ``?`` or ``q`` closes it.

    With ``columns=2`` (a short terminal) the list is split into two tables side by side,
    each area a heading of its own instead of a column, so every key shows at 100 x 30.
    """

    BINDINGS = [
        Binding("escape", "dismiss", "Close help"),
        Binding("question_mark", "dismiss", "Close help", show=False),
        Binding("q", "dismiss", "Close help", show=False),
    ]

    def __init__(self, rows: list[tuple[str, str, str]], columns: int = 1) -> None:
        super().__init__()
        self.rows = rows
        self.columns = columns

    def compose(self) -> ComposeResult:
        """A titled table of bindings (or two, see the class docstring)."""
        with Vertical(id="help-box", classes="-two" if self.columns == 2 else ""):
            yield Static("tickwire · keyboard", id="help-title")
            if self.columns == 2:
                lines: list[tuple[str, str]] = []
                for area, key, desc in self.rows:
                    if not lines or area != self._area_of(lines):
                        lines.append(("", area))
                    lines.append((key, desc))
                half = (len(lines) + 1) // 2
                with Horizontal(id="help-tables"):
                    yield Static(self._keys(lines[:half]), classes="help-half")
                    yield Static(self._keys(lines[half:]), classes="help-half")
            else:
                table = Table(box=None, expand=True, header_style="bold #8a8f98")
                table.add_column("where", style="#c678dd")
                table.add_column("key", style="bold #ffd75f")
                table.add_column("does", style="#e6e6e6")
                for area, key, desc in self.rows:
                    table.add_row(area, key, desc)
                yield Static(table, id="help-table")
            yield Static("esc / ? to close", id="help-foot")

    @staticmethod
    def _area_of(lines: list[tuple[str, str]]) -> str:
        return next(desc for key, desc in reversed(lines) if not key)

    @staticmethod
    def _keys(lines: list[tuple[str, str]]) -> Table:
        table = Table(box=None, expand=True, show_header=False, padding=(0, 1, 0, 0))
        table.add_column("key", style="bold #ffd75f", no_wrap=True)
        table.add_column("does", style="#e6e6e6", no_wrap=True)
        for key, desc in lines:
            if key:
                table.add_row(Text(key), Text(desc))
            else:
                table.add_row(Text(desc, style="bold #c678dd"), "")
        return table
