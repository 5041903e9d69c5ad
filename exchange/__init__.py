"""The exchange: engine, journal, hub, gateway, simulator, replay and the command line.

Importing it first decides which form of the engine this process runs, compiled or pure
(``exchange.compiled.install``), so that choice is made before anything imports
``exchange.engine``. ``shared.values`` is compiled too, but ``shared`` is imported by
programs that never import ``exchange``: if it was imported before this package, it keeps
the form the normal import system gave it (``exchange.compiled.engine_build`` reports that).
"""

from __future__ import annotations

from exchange.compiled import install

install()
