"""What the gateway logs about clients: rate-limited one-liners, and no tokens, ever.

Exports: ``ClientLog``, ``client_log``, ``RedactTokens``, ``install_redaction``, ``peer``.

A client's bad input (a malformed request, invalid UTF-8, a request abandoned mid-body) is
at most one warning line without a traceback, and at most ``per_window`` lines per kind in
``window_s`` seconds; the next line after a window in which lines were dropped says how many
(``suppressed K ...``). Tracebacks are for the server's own bugs.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

__all__ = ["ClientLog", "RedactTokens", "client_log", "install_redaction", "peer"]


class ClientLog:
    """Warnings about client input, rate-limited per kind (``warn(kind, msg, *args)``)."""

    def __init__(
        self,
        logger: logging.Logger,
        per_window: int = 5,
        window_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.per_window = per_window
        self.window_s = window_s
        self._clock = clock
        self._kinds: dict[str, list[float]] = {}  # kind -> [window start, lines, suppressed]

    def warn(self, kind: str, msg: str, *args: Any) -> None:
        now = self._clock()
        state = self._kinds.get(kind)
        if state is None or now - state[0] >= self.window_s:
            if state is not None and state[2]:
                self.logger.warning("suppressed %d more %s lines in %g s", state[2], kind,
                                    self.window_s)  # fmt: skip
            state = self._kinds[kind] = [now, 0, 0]
        if state[1] < self.per_window:
            state[1] += 1
            self.logger.warning(msg, *args)
        else:
            state[2] += 1


def peer(client: tuple[str, int] | None) -> str:
    """``host:port`` of a connection's client, as uvicorn writes it (``-`` if unknown)."""
    return f"{client[0]}:{client[1]}" if client else "-"


#: The one instance the gateway logs client trouble with (logger ``tickwire.clients``).
client_log = ClientLog(logging.getLogger("tickwire.clients"))

_TOKEN = re.compile(r"(token=)[^&\s\"'#]+", re.IGNORECASE)


def _redact(value: Any) -> Any:
    if isinstance(value, str) and "token=" in value.lower():
        return _TOKEN.sub(r"\1[redacted]", value)
    if isinstance(value, bytes | bytearray) and b"token=" in value.lower():
        return _TOKEN.sub(r"\1[redacted]", value.decode("latin-1"))
    return value


class RedactTokens(logging.Filter):
    """Replaces the value of every ``token=`` (a URL's query) in a record's message and
    arguments with ``[redacted]``. The arguments keep their positions: uvicorn's access
    formatter unpacks them."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact(v) for k, v in record.args.items()}
        return True


#: Loggers whose records can carry a request's URL: uvicorn's access log, and its error log
#: (``"WebSocket /ws?token=..." [accepted]``).
_URL_LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn", "tickwire")


def install_redaction() -> None:
    """Add :class:`RedactTokens` to the loggers that see URLs (once; uvicorn's logging
    set-up keeps a logger's filters, so calling this after it is fine and required)."""
    for name in _URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
