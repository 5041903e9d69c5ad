"""Readers that turn recorded market data into engine commands for replay.

Exports ``load_replay``/``detect_format``/``FORMATS`` (load.py), the readers
``read_lobster`` (LOBSTER message + orderbook files), ``read_tardis`` (Tardis trades CSV) and
``read_kraken`` (cryptofeed's Kraken L2 capture), what they return (``ReplaySource``: symbol
specs, setup commands and ``ReplayStep``s, iterable as ``(ts_ns, [Command])``), the replay
account names ``MAKER``/``TAKER``, and the exceptions ``ReplayError``, ``ReplayFormatError``
(file name + line number) and ``ReplaySourceError`` (errors.py).
"""

from __future__ import annotations

from exchange.replay.errors import ReplayError, ReplayFormatError, ReplaySourceError
from exchange.replay.kraken import read_kraken
from exchange.replay.load import FORMATS, detect_format, load_replay
from exchange.replay.lobster import read_lobster
from exchange.replay.source import MAKER, TAKER, Progress, ReplaySource, ReplayStep
from exchange.replay.tardis import read_tardis

__all__ = [
    "FORMATS",
    "MAKER",
    "TAKER",
    "Progress",
    "ReplayError",
    "ReplayFormatError",
    "ReplaySource",
    "ReplaySourceError",
    "ReplayStep",
    "detect_format",
    "load_replay",
    "read_kraken",
    "read_lobster",
    "read_tardis",
]
