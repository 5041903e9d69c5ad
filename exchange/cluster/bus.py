"""What travels between gateways and the sequencer over Redis, and how it is encoded.

Exports: ``CMD_STREAM``, ``SEQ_STREAM``, ``NX_STREAM``, ``SNAP_KEY``, ``META_KEY``, ``STATS_KEY``,
``CmdEntry``, ``FenceEntry``, ``parse_cmd``, ``SeqEntry``, ``Snapshot``, ``StreamWriter``,
``stream_id_key``, ``check_redis``, ``connect``.

* ``tw:cmd`` (gateways -> sequencer): fields ``g`` (gateway id), ``c`` (correlation id),
  ``p`` (the command in the journal codec, ``ts`` not yet stamped). A *fence* entry has
  ``f`` (the id of an earlier ``tw:cmd`` entry of the same gateway) instead of ``p``: "if you
  have not executed that entry by now, you never will: tell me". The sequencer reads
  ``tw:cmd`` in order, so when it reaches the fence it knows the answer; it answers only
  "not executed", on ``tw:nx`` (an executed command answers on ``tw:seq`` as always).
* ``tw:nx`` (sequencer -> gateways): fields ``g``, ``c``, ``x``: the ``tw:cmd`` entry ``x``
  was not executed and never will be (it was lost from Redis, or refused before journaling);
  the sequencer deleted it from ``tw:cmd`` in the same transaction.
* ``tw:seq`` (sequencer -> gateways): entry id ``<journal seq>-0``; fields ``p`` (the
  sequenced command with its stamped ``ts``), ``g`` and ``c`` (empty for the simulator's
  commands) and ``x`` (the ``tw:cmd`` entry id it came from, empty for none). An entry is
  written only after its journal record was released (durable as the fsync policy asks), so
  a replica never applies a command the sequencer could lose.
* ``tw:snap`` (hash): ``seq`` (the journal seq the engine state is at), ``engine`` (engine
  snapshot bytes) and ``hub`` (the market-data hub's state); a replica starts from it.
* ``tw:meta`` (hash): ``epoch`` and ``secret`` (hex), so tokens and event ids are the same
  on every gateway. Its absence tells the engine that Redis lost its data.
* ``tw:stats`` (hash): the engine's queue depths and journal seq, refreshed every second,
  shown in every gateway's ``/metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from exchange.engine import types as t
from exchange.hub.redis_backend import flush_forever
from exchange.journal import decode_command, encode_command

__all__ = [
    "CMD_STREAM",
    "META_KEY",
    "NX_STREAM",
    "SEQ_STREAM",
    "SNAP_KEY",
    "STATS_KEY",
    "CmdEntry",
    "FenceEntry",
    "SeqEntry",
    "Snapshot",
    "StreamWriter",
    "check_redis",
    "connect",
    "parse_cmd",
    "stream_id_key",
]

log = logging.getLogger("tickwire.cluster.bus")

CMD_STREAM = "tw:cmd"
SEQ_STREAM = "tw:seq"
NX_STREAM = "tw:nx"
STATS_KEY = "tw:stats"
SNAP_KEY = "tw:snap"
META_KEY = "tw:meta"
_BATCH = 1000


def stream_id_key(entry_id: str) -> tuple[int, int]:
    """A Redis stream id ``"<ms>-<n>"`` as a sortable pair."""
    ms, _, n = entry_id.partition("-")
    return int(ms), int(n or 0)


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class CmdEntry:
    """A command a gateway asks the sequencer to run."""

    gateway: str
    corr: str
    cmd: t.Command

    def fields(self) -> dict[str, Any]:
        return {"g": self.gateway, "c": self.corr, "p": encode_command(self.cmd)}

    @classmethod
    def parse(cls, fields: dict[bytes, bytes]) -> CmdEntry:
        """Raises ``JournalCorrupt`` (from the codec) or ``KeyError`` on a bad entry."""
        return cls(_s(fields[b"g"]), _s(fields[b"c"]), decode_command(fields[b"p"]))


@dataclass(frozen=True, slots=True)
class FenceEntry:
    """A gateway asking whether its ``tw:cmd`` entry ``target`` was executed."""

    gateway: str
    corr: str
    target: str

    def fields(self) -> dict[str, Any]:
        return {"g": self.gateway, "c": self.corr, "f": self.target}


def parse_cmd(fields: dict[bytes, bytes]) -> CmdEntry | FenceEntry:
    """A ``tw:cmd`` entry. Raises ``JournalCorrupt`` or ``KeyError`` on a bad entry."""
    if b"f" in fields:
        return FenceEntry(_s(fields[b"g"]), _s(fields[b"c"]), _s(fields[b"f"]))
    return CmdEntry.parse(fields)


@dataclass(frozen=True, slots=True)
class SeqEntry:
    """A sequenced command: journal ``seq``, the command as journaled, and who asked."""

    seq: int
    cmd_payload: bytes
    gateway: str = ""
    corr: str = ""
    cmd_id: str = ""

    @property
    def entry_id(self) -> str:
        return f"{self.seq}-0"

    def fields(self) -> dict[str, Any]:
        return {"p": self.cmd_payload, "g": self.gateway, "c": self.corr, "x": self.cmd_id}

    @classmethod
    def parse(cls, entry_id: bytes | str, fields: dict[bytes, bytes]) -> SeqEntry:
        seq = stream_id_key(_s(entry_id))[0]
        return cls(
            seq, fields[b"p"], _s(fields.get(b"g", b"")), _s(fields.get(b"c", b"")),
            _s(fields.get(b"x", b"")),
        )  # fmt: skip

    def command(self) -> t.Command:
        return decode_command(self.cmd_payload)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The sequencer's state at journal ``seq`` as kept in ``tw:snap``."""

    seq: int
    engine: bytes
    hub: bytes

    async def store(self, r: Any) -> None:
        await r.hset(SNAP_KEY, mapping={"seq": self.seq, "engine": self.engine, "hub": self.hub})

    @classmethod
    async def load(cls, r: Any) -> Snapshot | None:
        raw = await r.hgetall(SNAP_KEY)
        if not raw or b"seq" not in raw:
            return None
        return cls(int(raw[b"seq"]), raw[b"engine"], raw[b"hub"])


def connect(url: str) -> Any:
    """An asyncio Redis client that retries a command on a dropped connection (a restarted
    redis-server): a stale pooled connection must not fail the caller's first command."""
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return aioredis.from_url(
        url,
        socket_timeout=5,
        socket_connect_timeout=2,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 5),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


async def check_redis(url: str) -> str | None:
    """None when Redis at ``url`` answers PING, else a one-line reason."""
    r = aioredis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await r.ping()
        return None
    except (RedisError, OSError) as exc:
        return f"cannot reach Redis at {url}: {exc}"
    finally:
        with contextlib.suppress(Exception):
            await r.aclose()


class StreamWriter:
    """Queues ``(entry id, fields)`` and XADDs them in order from its own task, one pipelined
    round trip per batch; keeps the queue through a Redis outage (one log line per outage)."""

    def __init__(self, r: Any, stream: str, *, maxlen: int = 1_000_000) -> None:
        self.redis = r
        self.stream = stream
        self.maxlen = maxlen
        self._queue: deque[tuple[str, dict[str, Any]]] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.written = 0
        self.failures = 0

    def put(self, entry_id: str, fields: dict[str, Any]) -> None:
        self._queue.append((entry_id, fields))
        self._wakeup.set()

    @property
    def queued(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"xadd-{self.stream}")

    async def flush(self) -> None:
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(_BATCH, len(self._queue)))]
            pipe = self.redis.pipeline(transaction=False)
            for entry_id, fields in batch:
                pipe.xadd(self.stream, fields, id=entry_id, maxlen=self.maxlen, approximate=True)
            try:
                results = await pipe.execute(raise_on_error=False)
            except (RedisError, OSError):
                self._queue.extendleft(reversed(batch))
                raise
            for (entry_id, _), res in zip(batch, results, strict=True):
                if isinstance(res, Exception):  # an id at or below the top: already there
                    log.warning("%s: entry %s not written: %s", self.stream, entry_id, res)
            self.written += len(batch)

    async def _loop(self) -> None:
        await flush_forever(self, f"{self.stream} entries", log)

    async def close(self) -> None:
        if self._task is not None:
            with contextlib.suppress(RedisError, OSError, asyncio.TimeoutError):
                await asyncio.wait_for(self.flush(), 2.0)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
