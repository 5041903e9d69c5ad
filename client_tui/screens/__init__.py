"""Modal screens of the terminal client.

Exports ``HelpScreen`` (every binding), ``ConfirmScreen`` (yes/no, returns bool) and
``ReplaceScreen`` (new price/qty for an order, returns ``(price, qty)`` or None) and
``DrillsScreen`` (the fault-drill switchboard).
"""

from __future__ import annotations

from client_tui.screens.dialogs import ConfirmScreen, ReplaceScreen
from client_tui.screens.drills import DrillsScreen
from client_tui.screens.help import HelpScreen

__all__ = ["ConfirmScreen", "DrillsScreen", "HelpScreen", "ReplaceScreen"]
