"""``tickwire engine --redis URL``: the one writer, fed from Redis, without HTTP.

Exports: ``EngineProcess``, ``ClusterSequencer``, ``run_engine``.

``EngineProcess`` holds a plain :class:`~exchange.node.ExchangeNode` (its local journal and
sequencer) and hooks into its ``LocalBackend``: after recovery the sequencer becomes a
``ClusterSequencer``, the last ``tw:cmd`` id is saved before each snapshot, and an extra
order source reads
``tw:cmd`` (XREAD, in entry order) and submits each command through the sequencer. Every
released command (traders' and the simulator's alike) is written to ``tw:seq`` with id
``<journal seq>-0`` and its stamped ``ts``; market data goes to ``tw:md`` through
:class:`~exchange.hub.redis_backend.RedisBackend`.

Exactly once: a command from ``tw:cmd`` is journaled with its entry id (a sourced record, see
``cmdlog``), so a restart resumes after the last entry the journal holds, whatever was saved
elsewhere: an entry is never executed twice (``orders.cancel_all`` included), nor is an entry
that repeats an executed one's gateway and correlation id (an XADD resent by redis-py after a
timed-out reply; ``CommandLog.duplicate_of``). The id is also
kept in ``meta.json`` (``values["redis_cmd_id"]``, every 0.2 s, at stop and before each
snapshot) for a journal tail without sourced records. Journaled commands that ``tw:seq`` lacks
(released, then a crash before the stream write) are written at start. A fence entry is
answered on ``tw:nx`` when its target was not executed (see ``bus``).

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

import uvloop
from redis.exceptions import RedisError

from exchange.cluster.bus import (
    CMD_STREAM,
    META_KEY,
    NX_STREAM,
    SEQ_STREAM,
    SNAP_KEY,
    STATS_KEY,
    FenceEntry,
    SeqEntry,
    Snapshot,
    StreamWriter,
    connect,
    parse_cmd,
    stream_id_key,
)
from exchange.cluster.cmdlog import CommandLog, JournaledCommand, Source, scan_journal
from exchange.config import Settings
from exchange.engine import types as t
from exchange.hub.redis_backend import RedisBackend, read_forever
from exchange.journal import decode_command, encode_command
from exchange.journal import meta as meta_store
from exchange.node import ExchangeNode
from exchange.node.local import LocalBackend
from exchange.sequencer import Origin, Sequencer

__all__ = ["ClusterSequencer", "EngineProcess", "run_engine"]

log = logging.getLogger("tickwire.cluster.engine")

_CMD_ID_KEY = "redis_cmd_id"


class ClusterSequencer(Sequencer):
    """A :class:`Sequencer` that also writes each released command to ``tw:seq``.

    Commands are applied and released in the same order, so the journal record of the command
    being released is always the oldest one not yet written out.
    """

    seq_writer: StreamWriter
    released_cmd_id: str
    cmd_log: CommandLog
    _applied: deque[tuple[int, bytes, Source | None]]
    _source: Source | None
    _plain: bytes
    duplicates: int  # tw:cmd entries dropped as repeats of an executed one

    @classmethod
    def adopt(cls, seq: Sequencer, writer: StreamWriter, cmd_log: CommandLog) -> ClusterSequencer:
        """A cluster sequencer continuing ``seq`` (same engine, journal, hub and settings)."""
        assert seq.encode_command is not None
        new = cls(
            seq.engine, seq.hub, seq.journal, deliver=_no_delivery,
            render_market=seq.render_market, encode_command=seq.encode_command, clock=seq.clock,
            fsync=seq.fsync, batch_window_s=seq.batch_window_s, snapshot_every=seq.snapshot_every,
            snapshot=seq._snapshot, metrics=seq.metrics,
        )  # fmt: skip
        encode_plain = seq.encode_command

        def encode(cmd: t.Command) -> bytes:
            # the journal record: sourced when the command came from tw:cmd
            new._plain = encode_plain(cmd)
            return new._plain if new._source is None else new._source.wrap(new._plain)

        new.encode_command = encode
        new.last_ts = seq.last_ts
        new.seq_writer = writer
        new.released_cmd_id = ""
        new.cmd_log = cmd_log
        new._applied = deque()
        new._source = None
        new._plain = b""
        new.duplicates = 0
        return new

    async def submit(self, cmd: t.Command, origin: Origin | None = None) -> list[t.Event]:
        tag = origin.conn if origin is not None else None
        if isinstance(tag, CmdEntryTag):
            first = self.cmd_log.duplicate_of(tag.source)
            if first is not None:
                # the same command resent under a new id (redis-py retried an XADD whose
                # reply timed out): run it once; tw:seq already has (or will have) the answer
                # for its correlation id, and a fence naming this id must not say "not
                # executed", so the id counts as executed
                self.cmd_log.add(tag.source.cmd_id)
                log.warning("%s entry %s repeats %s (gateway %s, corr %s): dropped",
                            CMD_STREAM, tag.source.cmd_id, first, tag.source.gateway,
                            tag.source.corr)  # fmt: skip
                self.duplicates += 1
                return []
        # read by ``encode`` in the synchronous first step of ``Sequencer.submit``
        self._source = tag.source if isinstance(tag, CmdEntryTag) else None
        try:
            return await super().submit(cmd, origin)
        finally:
            # consumed by ``_apply``; a refused submit (stopped) must not leave it for the next
            # record (a cut) to be journaled under (found in review)
            self._source = None

    def _apply(self, cmd: t.Command) -> list[t.Event]:
        source = self._source  # ``encode`` (called by super) journals with it
        events = super()._apply(cmd)
        self._source = None
        assert self.journal is not None
        self._applied.append((self.journal.last_seq, self._plain, source))
        if source is not None:
            self.cmd_log.remember(source)
        return events

    def _release(self, p: Any) -> None:
        super()._release(p)
        if p.barrier:  # a read barrier, not a command
            return
        seq, payload, source = self._applied.popleft()
        if source is not None:
            entry = SeqEntry(seq, payload, source.gateway, source.corr, source.cmd_id)
            self.released_cmd_id = source.cmd_id
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

    __slots__ = ("source",)

    def __init__(self, gateway: str, corr: str, cmd_id: str) -> None:
        self.source = Source(cmd_id, gateway, corr)


class EngineProcess:
    """The sequencer process: a plain node (its ``LocalBackend``), plus Redis in and out (see
    the module docstring). ``node`` is the ``ExchangeNode``; it serves no HTTP here."""

    def __init__(self, settings: Settings, redis_url: str, **kwargs: Any) -> None:
        self.node = ExchangeNode(settings, **kwargs)
        backend = self.node.backend
        assert isinstance(backend, LocalBackend)
        self.backend = backend
        self.redis_url = redis_url
        self.redis: Any = connect(redis_url)
        self.md_backend = RedisBackend(redis_url, history_size=settings.history_size)
        self.seq_writer = StreamWriter(self.redis, SEQ_STREAM)
        self._tasks: list[asyncio.Task[None]] = []
        self._saved_cmd_id = ""
        self._snap_seq = -1
        self._unpublished: list[JournaledCommand] = []
        self.resume_cmd_id = "0-0"
        self.redis_resets = 0
        self.node.sources.append(self._read_commands)
        backend.after_recover.append(self._after_recover)
        # the journal before a snapshot may be pruned: keep its last tw:cmd id first
        backend.before_snapshot.append(self.save_cmd_id)

    def _after_recover(self) -> None:
        """Once the journal is recovered (before a snapshot may prune its tail): the tw:cmd
        entries it executed, and the sequencer that writes tw:seq."""
        saved = self.node.meta.values.get(_CMD_ID_KEY, "0-0")
        cmd_log = CommandLog(horizon=saved)
        self._unpublished = scan_journal(self.node.data_dir / "journal")
        for rec in self._unpublished:
            if rec.source is not None:
                cmd_log.remember(rec.source)
        # the journal, not meta.json, says what was executed: resume after its last entry
        self.resume_cmd_id = max(saved, cmd_log.last, key=stream_id_key)
        self._saved_cmd_id = saved
        self.backend.sequencer = ClusterSequencer.adopt(
            self.backend.sequencer, self.seq_writer, cmd_log
        )

    async def start(self) -> None:
        if self.node.engine is None:
            self.node.recover()
        await self._reset_if_foreign()
        await self._publish_meta()
        await self.md_backend.restore(self.node.hub.history(), self.node.meta.epoch)
        self.node.hub.add_listener(self.md_backend.publish)
        self.md_backend.start_publisher(self.node.hub.history)
        await self._republish_seq_tail()
        self.seq_writer.start()
        await self.publish_snapshot()
        await self.node.start()
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="cluster-housekeeping"))
        log.info("engine on %s: journal seq %d, reading %s after %s", self.redis_url,
                 self.node.journal.last_seq, CMD_STREAM, self.resume_cmd_id)  # fmt: skip

    async def _reset_if_foreign(self) -> None:
        """Redis state from another data directory (another epoch) would mix two histories:
        drop it. ``tw:cmd`` is kept (gateways may already be queueing into it)."""
        raw = await self.redis.hget(META_KEY, "epoch")
        if raw is not None and raw.decode() != self.node.meta.epoch:
            log.warning("Redis holds epoch %s, this data directory %s: clearing streams",
                        raw.decode(), self.node.meta.epoch)  # fmt: skip
            await self.redis.delete(SEQ_STREAM, SNAP_KEY, self.md_backend.stream,
                                    self.md_backend.meta_key)  # fmt: skip

    async def _republish_seq_tail(self) -> None:
        """Journaled commands ``tw:seq`` lacks (released, then a crash before the stream
        write): write them, with their source, so replicas stay consecutive and a gateway
        still waiting for one of them gets its answer."""
        records, self._unpublished = self._unpublished, []
        top = await self.redis.xrevrange(SEQ_STREAM, count=1)
        if not top:
            return  # a new or emptied stream: replicas start from the snapshot
        top_seq = stream_id_key(top[0][0].decode())[0]
        missing = [r for r in records if r.seq > top_seq]
        if missing and missing[0].seq != top_seq + 1:
            return  # the journal no longer holds what follows tw:seq: the snapshot covers it
        for rec in missing:
            cmd = decode_command(rec.payload)
            src = rec.source
            entry = SeqEntry(rec.seq, encode_command(cmd), *(
                (src.gateway, src.corr, src.cmd_id) if src is not None else ()
            ))  # fmt: skip
            self.seq_writer.put(entry.entry_id, entry.fields())
        if missing:
            log.warning("writing %d journaled commands missing from %s", len(missing), SEQ_STREAM)

    async def _publish_meta(self) -> None:
        await self.redis.hset(
            META_KEY, mapping={"epoch": self.node.meta.epoch, "secret": self.node.meta.secret.hex()}
        )

    async def publish_snapshot(self) -> None:
        """Write the state to ``tw:snap`` (call only at a command boundary)."""
        seq = self.node.journal.last_seq
        snap = Snapshot(seq, self.node.engine.to_snapshot(), self.node.hub.to_state())
        await snap.store(self.redis)
        self._snap_seq = seq

    def save_cmd_id(self) -> None:
        cmd_id = self.backend.sequencer.released_cmd_id
        if cmd_id and cmd_id != self._saved_cmd_id:
            self.node.meta = self.node.meta.with_values(**{_CMD_ID_KEY: cmd_id})
            meta_store.save(self.node.data_dir, self.node.meta)
            self._saved_cmd_id = cmd_id

    async def _housekeeping(self) -> None:
        last_snap = last_stats = time.monotonic()
        while True:
            await asyncio.sleep(0.2)
            try:
                await asyncio.to_thread(self.save_cmd_id)
                if not await self.redis.exists(META_KEY):
                    self.redis_resets += 1
                    log.warning("Redis lost its data (restarted without persistence?): "
                                "writing tw:meta and tw:snap again")  # fmt: skip
                    await self._publish_meta()
                    await self.redis.delete(SNAP_KEY)  # rewritten below, at a boundary
                now = time.monotonic()
                due = now - last_snap > 5 and self.node.journal.last_seq != self._snap_seq
                if self.backend.sequencer.idle and (due or not await self.redis.exists(SNAP_KEY)):
                    await self.publish_snapshot()
                    last_snap = now
                if now - last_stats >= 1.0:
                    await self._publish_stats()
                    last_stats = now
            except (RedisError, OSError) as exc:
                log.debug("housekeeping: %s", exc)

    async def _publish_stats(self) -> None:
        await self.redis.hset(STATS_KEY, mapping={
            "seq_queue": self.seq_writer.queued,
            "md_queue": self.md_backend.queued,
            "journal_seq": self.node.journal.last_seq,
            "pending": self.backend.sequencer.queue_depth,
            "redis_resets": self.redis_resets,
        })  # fmt: skip

    async def answer_fence(self, fence: FenceEntry) -> None:
        """Answer "not executed" on ``tw:nx`` when the fence's target was not journaled
        (every earlier entry has been read and submitted by now: see ``_read_commands``)."""
        if self.backend.sequencer.cmd_log.executed(fence.target) is not False:
            return  # executed (tw:seq answers) or too old to tell (the gateway times out)
        pipe = self.redis.pipeline(transaction=True)
        pipe.xdel(CMD_STREAM, fence.target)  # should it still be there, it must never run
        pipe.xadd(NX_STREAM, {"g": fence.gateway, "c": fence.corr, "x": fence.target},
                  maxlen=100_000, approximate=True)  # fmt: skip
        try:
            await pipe.execute()
        except (RedisError, OSError) as exc:  # the gateway fences again
            log.warning("fence for %s not answered: %s", fence.target, exc)
            return
        log.info("%s entry %s was not executed (gateway %s told)", CMD_STREAM, fence.target,
                 fence.gateway)  # fmt: skip

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.node.stop()
        self.save_cmd_id()
        await self.seq_writer.close()
        with contextlib.suppress(RedisError, OSError, asyncio.TimeoutError):
            await asyncio.wait_for(self.md_backend.flush(), 2.0)
        await self.md_backend.close()
        with contextlib.suppress(Exception):
            await self.redis.aclose()

    async def _read_commands(self, node: ExchangeNode, stop: asyncio.Event) -> None:
        """The order source: ``tw:cmd`` in entry order, each submitted through the sequencer.

        Submissions are started as tasks in entry order (each appends to the journal in its first
        step, so order is kept) without waiting for one to be durable before reading the next. A
        fence is a task too, so it runs after every earlier entry has been journaled (or refused).
        """
        last = self.resume_cmd_id
        inflight: set[asyncio.Task[Any]] = set()
        # the position is read late on purpose: each XREAD starts after the last entry seen
        position = lambda: last  # noqa: E731
        async for entries in read_forever(
            self.redis, CMD_STREAM, position, what=f"commands ({CMD_STREAM})", block_ms=200,
            stop=stop, logger=log,
        ):  # fmt: skip
            for eid, fields in entries:
                last = eid.decode()
                try:
                    entry = parse_cmd(fields)
                except Exception as exc:  # a bad entry must not stop the exchange
                    log.error("%s entry %s dropped: %s", CMD_STREAM, last, exc)
                    continue
                if isinstance(entry, FenceEntry):
                    coro: Any = self.answer_fence(entry)
                else:
                    coro = node.submit(
                        entry.cmd, Origin(CmdEntryTag(entry.gateway, entry.corr, last))
                    )
                task = asyncio.create_task(coro)
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
        proc = EngineProcess(settings, redis_url)
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        await proc.start()
        print(f"tickwire engine on {redis_url}, data dir {settings.data_dir.resolve()}",
              flush=True)  # fmt: skip
        await done.wait()
        await proc.stop()
        return 0

    # uvloop as in the gateways (uvicorn's loop="uvloop"): the engine process is all Redis
    # round trips and journal I/O, and the stdlib loop costs it ~20 % more CPU per order
    # (bench/cluster.py, docs/benchmarks.md).
    return uvloop.run(main())
