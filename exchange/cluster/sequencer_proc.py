"""``tickwire engine --redis URL``: the one writer, fed from Redis, without HTTP.

Exports: ``EngineNode``, ``ClusterSequencer``, ``run_engine``.

``EngineNode`` is an :class:`~exchange.node.ExchangeNode` whose extra order source reads
``tw:cmd`` (XREAD, in entry order) and submits each command through the sequencer. Every
released command (traders' and the simulator's alike) is written to ``tw:seq`` with id
``<journal seq>-0`` and its stamped ``ts``; market data goes to ``tw:md`` through
:class:`~exchange.hub.redis_backend.RedisBackend`. The id of the last ``tw:cmd`` entry
released is saved in the data directory's ``meta.json`` (``values["redis_cmd_id"]``, at most
every 0.2 s and at stop); a restart resumes after the larger of that and the last ``x`` in
``tw:seq``. Commands released after the last save are read again after a crash: the engine's
client-order-id idempotency turns a repeated ``NewOrder`` into a duplicate, a repeated cancel
into a reject (the window is documented in docs/architecture.md).

At start, and whenever ``tw:snap`` is missing or 5 s old with commands since, the state is
written to ``tw:snap`` at a command boundary (nothing applied but unreleased), so a replica
that sees a gap in ``tw:seq`` (a sequencer restart) reloads from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any

from redis.exceptions import RedisError

from exchange.cluster.bus import (
    CMD_STREAM,
    META_KEY,
    SEQ_STREAM,
    SNAP_KEY,
    CmdEntry,
    SeqEntry,
    Snapshot,
    StreamWriter,
    connect,
    stream_id_key,
)
from exchange.config import Settings
from exchange.engine import types as t
from exchange.hub.redis_backend import RedisBackend
from exchange.journal import meta as meta_store
from exchange.node import ExchangeNode
from exchange.sequencer import Origin, Sequencer

__all__ = ["ClusterSequencer", "EngineNode", "run_engine"]

log = logging.getLogger("tickwire.cluster.engine")

_CMD_ID_KEY = "redis_cmd_id"


class ClusterSequencer(Sequencer):
    """A :class:`Sequencer` that also writes each released command to ``tw:seq``.

    Commands are applied and released in the same order, so the journal record of the command
    being released is always the oldest one not yet written out.
    """

    seq_writer: StreamWriter
    released_cmd_id: str
    _applied: deque[tuple[int, bytes]]

    @classmethod
    def adopt(cls, seq: Sequencer, writer: StreamWriter) -> ClusterSequencer:
        """A cluster sequencer continuing ``seq`` (same engine, journal, hub and settings)."""
        new = cls(
            seq.engine, seq.hub, seq.journal, deliver=_no_delivery,
            render_market=seq.render_market, encode_command=seq.encode_command, clock=seq.clock,
            fsync=seq.fsync, batch_window_s=seq.batch_window_s, snapshot_every=seq.snapshot_every,
            snapshot=seq._snapshot, metrics=seq.metrics,
        )  # fmt: skip
        new.last_ts = seq.last_ts
        new.seq_writer = writer
        new.released_cmd_id = ""
        new._applied = deque()
        return new

    def _apply(self, cmd: t.Command) -> list[t.Event]:
        events = super()._apply(cmd)
        assert self.journal is not None and self.encode_command is not None
        self._applied.append((self.journal.last_seq, self.encode_command(cmd)))
        return events

    def _release(self, p: Any) -> None:
        super()._release(p)
        seq, payload = self._applied.popleft()
        tag = p.origin.conn if p.origin is not None else None
        if isinstance(tag, CmdEntryTag):
            entry = SeqEntry(seq, payload, tag.gateway, tag.corr, tag.cmd_id)
            self.released_cmd_id = tag.cmd_id
        else:
            entry = SeqEntry(seq, payload)
        self.seq_writer.put(entry.entry_id, entry.fields())

    @property
    def idle(self) -> bool:
        """Nothing applied but not yet released: engine, journal and hub agree."""
        return not self._applied


def _no_delivery(events: Any, origin: Origin | None) -> None:
    """The engine process has no sockets: gateways route private events from ``tw:seq``."""


class CmdEntryTag:
    """``Origin.conn`` of a command read from ``tw:cmd``: where it came from."""

    __slots__ = ("cmd_id", "corr", "gateway")

    def __init__(self, gateway: str, corr: str, cmd_id: str) -> None:
        self.gateway, self.corr, self.cmd_id = gateway, corr, cmd_id


class EngineNode(ExchangeNode):
    """The sequencer process: the node, plus Redis in and out (see the module docstring)."""

    def __init__(self, settings: Settings, redis_url: str, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self.redis_url = redis_url
        self.redis: Any = connect(redis_url)
        self.md_backend = RedisBackend(redis_url, history_size=settings.history_size)
        self.seq_writer = StreamWriter(self.redis, SEQ_STREAM)
        self._tasks: list[asyncio.Task[None]] = []
        self._saved_cmd_id = ""
        self._snap_seq = -1
        self.sources.append(_read_commands)

    def recover(self) -> None:
        super().recover()
        self.sequencer = ClusterSequencer.adopt(self.sequencer, self.seq_writer)

    async def start(self) -> None:
        if self.engine is None:
            self.recover()
        await self._reset_if_foreign()
        await self._publish_meta()
        await self.md_backend.set_epoch(self.meta.epoch)
        await self._republish_md_tail()
        self.hub.add_listener(self.md_backend.publish)
        self.md_backend.start_publisher()
        self.seq_writer.start()
        self.resume_cmd_id = await self._resume_point()
        await self.publish_snapshot()
        await super().start()
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="cluster-housekeeping"))
        log.info("engine on %s: journal seq %d, reading %s after %s", self.redis_url,
                 self.journal.last_seq, CMD_STREAM, self.resume_cmd_id)  # fmt: skip

    async def _reset_if_foreign(self) -> None:
        """Redis state from another data directory (another epoch) would mix two histories:
        drop it. ``tw:cmd`` is kept (gateways may already be queueing into it)."""
        raw = await self.redis.hget(META_KEY, "epoch")
        if raw is not None and raw.decode() != self.meta.epoch:
            log.warning("Redis holds epoch %s, this data directory %s: clearing streams",
                        raw.decode(), self.meta.epoch)  # fmt: skip
            await self.redis.delete(SEQ_STREAM, SNAP_KEY, self.md_backend.stream,
                                    self.md_backend.meta_key)  # fmt: skip

    async def _republish_md_tail(self) -> None:
        """Events the hub released before a crash but the publisher never wrote: write them
        now, or followers would see a hole in ``tw:md``."""
        top = await self.redis.xrevrange(self.md_backend.stream, count=1)
        top_offset = stream_id_key(top[0][0].decode())[0] if top else 0
        missing = [ev for ev in self.hub.history() if ev.offset > top_offset]
        if top and missing:
            log.warning("writing %d market-data events missing from Redis", len(missing))
            self.md_backend.publish(missing)

    async def _publish_meta(self) -> None:
        await self.redis.hset(
            META_KEY, mapping={"epoch": self.meta.epoch, "secret": self.meta.secret.hex()}
        )

    async def _resume_point(self) -> str:
        candidates = [self.meta.values.get(_CMD_ID_KEY, "0-0")]
        last = await self.redis.xrevrange(SEQ_STREAM, count=1)
        if last:
            x = last[0][1].get(b"x", b"").decode()
            if x:
                candidates.append(x)
        return max(candidates, key=stream_id_key)

    async def publish_snapshot(self) -> None:
        """Write the state to ``tw:snap`` (call only at a command boundary)."""
        seq = self.journal.last_seq
        snap = Snapshot(seq, self.engine.to_snapshot(), self.hub.to_state())
        await snap.store(self.redis)
        self._snap_seq = seq

    def save_cmd_id(self) -> None:
        cmd_id = self.sequencer.released_cmd_id
        if cmd_id and cmd_id != self._saved_cmd_id:
            self.meta = self.meta.with_values(**{_CMD_ID_KEY: cmd_id})
            meta_store.save(self.data_dir, self.meta)
            self._saved_cmd_id = cmd_id

    async def _housekeeping(self) -> None:
        last_snap = time.monotonic()
        while True:
            await asyncio.sleep(0.2)
            try:
                await asyncio.to_thread(self.save_cmd_id)
                due = time.monotonic() - last_snap > 5 and self.journal.last_seq != self._snap_seq
                if self.sequencer.idle and (due or not await self.redis.exists(SNAP_KEY)):
                    await self._publish_meta()
                    await self.publish_snapshot()
                    last_snap = time.monotonic()
            except (RedisError, OSError) as exc:
                log.debug("housekeeping: %s", exc)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await super().stop()
        self.save_cmd_id()
        await self.seq_writer.close()
        with contextlib.suppress(RedisError, OSError, asyncio.TimeoutError):
            await asyncio.wait_for(self.md_backend.flush(), 2.0)
        await self.md_backend.close()
        with contextlib.suppress(Exception):
            await self.redis.aclose()


async def _read_commands(node: ExchangeNode, stop: asyncio.Event) -> None:
    """The order source: ``tw:cmd`` in entry order, each submitted through the sequencer.

    Submissions are started as tasks in entry order (each appends to the journal in its first
    step, so order is kept) without waiting for one to be durable before reading the next."""
    assert isinstance(node, EngineNode)
    last = node.resume_cmd_id
    inflight: set[asyncio.Task[Any]] = set()
    delay = 0.05
    while not stop.is_set():
        try:
            reply = await node.redis.xread({CMD_STREAM: last}, count=1000, block=200)
            delay = 0.05
        except (RedisError, OSError) as exc:
            log.error("Redis unreachable while reading commands: %s", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
            continue
        for _stream, entries in reply or ():
            for eid, fields in entries:
                last = eid.decode()
                try:
                    entry = CmdEntry.parse(fields)
                except Exception as exc:  # a bad entry must not stop the exchange
                    log.error("%s entry %s dropped: %s", CMD_STREAM, last, exc)
                    continue
                origin = Origin(CmdEntryTag(entry.gateway, entry.corr, last))
                task = asyncio.create_task(node.submit(entry.cmd, origin))
                inflight.add(task)
                task.add_done_callback(inflight.discard)
    if inflight:
        await asyncio.wait(inflight, timeout=5)


def run_engine(settings: Settings, redis_url: str) -> int:
    """Run the engine until SIGINT/SIGTERM; 1 when Redis is unreachable at start."""
    import signal

    from exchange.cluster.bus import check_redis

    async def main() -> int:
        problem = await check_redis(redis_url)
        if problem is not None:
            print(f"tickwire engine: {problem}", flush=True)
            return 1
        node = EngineNode(settings, redis_url)
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        await node.start()
        print(f"tickwire engine on {redis_url}, data dir {settings.data_dir.resolve()}",
              flush=True)  # fmt: skip
        await done.wait()
        await node.stop()
        return 0

    return asyncio.run(main())
