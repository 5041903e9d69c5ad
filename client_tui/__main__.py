"""``python -m client_tui``: run the terminal client (see ``client_tui.main``)."""

from __future__ import annotations

from client_tui.main import main

main()
