"""The tickwire terminal trading client (Textual).

Exports nothing at package level; entry points live in ``client_tui.main`` (``run``,
``add_arguments``, ``main``), the app in ``client_tui.app`` (``TickwireApp``), all network
code in ``client_tui.connection`` (``Connection``), pure state in ``client_tui.model``.
"""
