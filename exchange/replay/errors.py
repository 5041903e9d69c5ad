"""Exceptions of the replay readers.

Hierarchy::

    ReplayError                 anything that stops a recording from loading
    ├── ReplayFormatError       bad content: carries the file name and the 1-based line number
    └── ReplaySourceError       the files cannot be found, opened or told apart

``str()`` of each is a one-line message meant for the user (``file.csv:12: ...``); the CLI
prints it instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["ReplayError", "ReplayFormatError", "ReplaySourceError"]


class ReplayError(Exception):
    """Base class: the recording cannot be replayed."""


class ReplaySourceError(ReplayError):
    """The recording's files are missing, unreadable or of an unknown format."""


class ReplayFormatError(ReplayError):
    """A line of a recording is malformed. ``path.name`` and ``line`` say where."""

    def __init__(self, path: str | Path, line: int, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        super().__init__(f"{self.path.name}:{line}: {message}")
