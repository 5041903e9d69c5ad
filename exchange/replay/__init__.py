"""Readers that turn recorded market data into engine commands for replay.

Exports ``load_replay``/``load_replays``/``merge_sources``/``with_key_prefix``/
``detect_format``/``FORMATS`` (load.py), the readers
``read_lobster`` (LOBSTER message + orderbook files), ``read_tardis`` (Tardis trades CSV) and
``read_kraken`` (cryptofeed's Kraken L2 capture), ``read_tickwire`` and ``RecordingWriter``
(tickwire's own recordings), what they return (``ReplaySource``: symbol
specs, setup commands and ``ReplayStep``s, iterable as ``(ts_ns, [Command])``), the replay
account names ``MAKER``/``TAKER``, the pacing ``ReplayClock``/``ReplayPlayer``/``ReplayStatus``/
``parse_speed`` (player.py: speed, pause, seek), and the exceptions ``ReplayError``, ``ReplayFormatError``
(file name + line number) and ``ReplaySourceError`` (errors.py).

The server side is imported from its modules (they need the exchange node, which these readers
do not): ``driver`` (``ReplayDriver``: a replay as a node's order source, controls, seek,
status events), ``index`` (checkpoints, ``select``), ``times`` (``parse_time``), ``subcommand``
(``tickwire replay``) and ``record`` (``recording_node`` for ``serve --record``).
"""

from __future__ import annotations

from exchange.replay.errors import ReplayError, ReplayFormatError, ReplaySourceError
from exchange.replay.kraken import read_kraken
from exchange.replay.load import (
    FORMATS,
    detect_format,
    load_replay,
    load_replays,
    merge_sources,
    with_key_prefix,
)
from exchange.replay.lobster import read_lobster
from exchange.replay.player import ReplayClock, ReplayPlayer, ReplayStatus, parse_speed
from exchange.replay.source import MAKER, TAKER, Progress, ReplaySource, ReplayStep
from exchange.replay.tardis import read_tardis
from exchange.replay.tickwire import RecordingWriter, read_tickwire

__all__ = [
    "FORMATS",
    "MAKER",
    "TAKER",
    "Progress",
    "RecordingWriter",
    "ReplayClock",
    "ReplayError",
    "ReplayFormatError",
    "ReplayPlayer",
    "ReplaySource",
    "ReplaySourceError",
    "ReplayStatus",
    "ReplayStep",
    "detect_format",
    "load_replay",
    "load_replays",
    "merge_sources",
    "parse_speed",
    "read_kraken",
    "read_lobster",
    "read_tardis",
    "read_tickwire",
    "with_key_prefix",
]
