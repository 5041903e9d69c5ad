"""``LinesWidget``: a widget that draws pre-built lines through Textual's line API.

Exports ``LinesWidget`` and ``Span`` (``(text, style)``).

The high-rate panels (ladder, time and sales) redraw many times a second; building Rich
``Text`` and letting Textual convert it costs more than the data work itself. A
``LinesWidget`` takes its lines as lists of ``(text, style)`` spans, turns each into a
``Strip`` once (styles parsed once and cached by Rich), and hands strips straight to the
compositor in ``render_line``. Contract: call :meth:`set_lines` with the full content; the
widget refreshes without a relayout (its size comes from CSS).
"""

from __future__ import annotations

from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

__all__ = ["LinesWidget", "Span", "style"]

Span = tuple[str, str]


#: Panel background (as in app.tcss); line-API strips carry their own background.
BACKGROUND = Style(bgcolor="#0d1117")


@lru_cache(maxsize=512)
def style(spec: str) -> Style:
    """A Rich style from a style string, parsed once, on the panel background."""
    return BACKGROUND + Style.parse(spec) if spec.strip() else BACKGROUND


class LinesWidget(Widget):
    """Draws the lines last given to :meth:`set_lines`; rows beyond them are blank."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._strips: list[Strip] = []
        self._spans: list[list[Span]] = []
        self._width = 0
        #: Lines rebuilt and repainted so far (how much work the diffing saved).
        self.lines_repainted = 0

    def set_lines(self, lines: list[list[Span]]) -> None:
        """Replace the content; each line is a list of ``(text, style string)`` spans.

        Only lines whose spans changed are rebuilt and repainted: a book delta touching two
        levels repaints two rows of the ladder, not the whole panel.
        """
        width = max(self.size.width, 1)
        old = self._spans if width == self._width and len(lines) == len(self._spans) else None
        strips = list(self._strips) if old is not None else []
        changed: list[int] = []
        for y, spans in enumerate(lines):
            if old is not None and old[y] == spans:
                continue
            segments = [Segment(text, style(spec)) for text, spec in spans if text]
            strip = Strip(segments).crop_extend(0, width, BACKGROUND)
            if old is not None:
                strips[y] = strip
                changed.append(y)
            else:
                strips.append(strip)
        self._strips = strips
        self._spans = lines
        self._width = width
        if old is None:
            self.refresh()
        elif changed:
            self.refresh(*(Region(0, y, width, 1) for y in changed))
        self.lines_repainted += len(lines) if old is None else len(changed)

    def plain_lines(self) -> list[str]:
        """The current content as plain text (for tests and debugging)."""
        return [strip.text for strip in self._strips]

    def render_line(self, y: int) -> Strip:
        """The ``y``-th content line (blank past the end)."""
        if 0 <= y < len(self._strips):
            strip = self._strips[y]
            width = self.size.width
            return strip if strip.cell_length == width else strip.crop_extend(0, width, BACKGROUND)
        return Strip.blank(self.size.width, BACKGROUND)


class LineBuilder:
    """Collects spans like ``rich.text.Text.append``; a ``"\\n"`` in the text starts a line."""

    def __init__(self) -> None:
        self.lines: list[list[Span]] = [[]]

    def append(self, text: str, style: str = "") -> None:
        """Add ``text`` in ``style`` to the current line (``\\n`` breaks lines)."""
        first, *rest = text.split("\n")
        self.lines[-1].append((first, style))
        for part in rest:
            self.lines.append([(part, style)])
