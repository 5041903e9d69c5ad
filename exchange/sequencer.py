"""The one writer: stamp, journal, match, make durable, then release.

Exports: ``Sequencer``, ``Origin``.

Every command that changes state (traders, simulator, replay) passes through
:meth:`Sequencer.submit`. The sequencer stamps the command's ``ts`` from its injected clock
(monotonic: never earlier than the previous command), appends it to the journal, runs it
through ``Engine.handle`` and releases the resulting events only once the journal record is
as durable as the fsync policy asks:

* ``always``: fsync before each command's events are released (slow, strict);
* ``batch``: group commit; commands keep being matched while one fsync runs in a thread, and
  each fsync releases every command appended before it started (plus a short window);
* ``off``: the record is written to the OS (it survives ``kill -9``, not a power cut). The
  orders pipelined in one event-loop turn (``submit_nowait``) share one ``write``: the turn's
  records go to the OS together at the end of the turn, then their events are released.

Release is strictly in command order: private events go to ``deliver`` (the gateway's account
router) and market events, rendered once, to ``MarketHub.publish``. ``submit`` returns the
command's events after release, so a reply can never overtake the journal.

Market-data batches: with an engine made with ``market_batches=True`` a command's events are
only its private ones, and the sequencer *cuts* a batch by applying a journaled ``Publish``
command whenever market data waits: once per group commit (the cut joins the batch, so its
market data is released with the commands it covers, after their fsync), or, without group
commit, once per event-loop turn (every command of that turn in one delta per symbol). The
``Publish`` records make a replay of the journal cut exactly where the live run did.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from exchange.engine import types as t

__all__ = ["JournalFailed", "Origin", "Sequencer"]

log = logging.getLogger("tickwire.sequencer")

_MARKET_TYPES = (t.BookDelta, t.Trade, t.Ticker, t.Candle, t.SymbolStatus)
_KIND = {
    t.NewOrder: "new",
    t.CancelOrder: "cancel",
    t.ReplaceOrder: "replace",
    t.CancelAll: "cancel_all",
    t.OpenAccount: "open_account",
    t.SetSymbolState: "symbol_state",
    t.Tick: "tick",
    t.Publish: "publish",
}


def _restamper(cls: type) -> Callable[[Any, int], Any]:
    """``(cmd, ts) -> cmd`` with the new ``ts``: rebuilt from its fields by position (half
    the cost of ``dataclasses.replace``)."""
    names = [f.name for f in dataclasses.fields(cls)]
    i = names.index("ts")  # every command has one
    if len(names) == 1:
        return lambda cmd, ts: cls(ts)
    get = attrgetter(*names)  # a tuple of every field, ``ts`` at ``i``
    if i == len(names) - 1:
        return lambda cmd, ts: cls(*get(cmd)[:i], ts)
    return lambda cmd, ts: cls(*(v := get(cmd))[:i], ts, *v[i + 1 :])


_RESTAMP = {cls: _restamper(cls) for cls in _KIND}


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a command came from: the connection its direct replies go to, and its ``req_id``."""

    conn: Any = None
    req_id: int | str | None = None
    #: Echo ``req_id`` on the ``order.canceled`` events too (an ``order.cancel``), not only on
    #: the direct reply (off for ``orders.cancel_all``, whose reply is the count).
    echo_on_cancels: bool = True


Deliver = Callable[[Sequence[t.Event], Origin | None], None]


class JournalFailed(RuntimeError):
    """The journal could not be written: the sequencer takes no more commands (fail-closed)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(
            f"the journal could not be written ({cause}): this exchange takes no more commands "
            "until it is restarted; nothing unconfirmed was executed, so retrying with the "
            "same client_order_id after the restart is safe"
        )
        self.cause = cause


@dataclass(slots=True)
class _Pending:
    events: list[t.Event]
    origin: Origin | None
    future: asyncio.Future[list[t.Event]] | None
    started: float
    #: A read barrier (``Sequencer.durable``), not a command: released with its batch.
    barrier: bool = False
    #: A market-data cut (``Publish``): its latency is no order's.
    cut: bool = False


def split_market(events: Sequence[t.Event]) -> tuple[list[t.Event], list[t.Event]]:
    """(private events, market events) in their original order."""
    private: list[t.Event] = []
    market: list[t.Event] = []
    for ev in events:
        (market if isinstance(ev, _MARKET_TYPES) else private).append(ev)
    return private, market


class Sequencer:
    """Owns the engine, the journal and the hub's publishing side. One per exchange."""

    def __init__(
        self,
        engine: Any,
        hub: Any,
        journal: Any | None,
        *,
        deliver: Deliver,
        render_market: Callable[[t.Event, Any], tuple[str, dict[str, Any]]],
        encode_command: Callable[[t.Command], bytes] | None = None,
        clock: Callable[[], int] = time.time_ns,
        fsync: str = "batch",
        batch_window_s: float = 0.002,
        snapshot_every: int = 50_000,
        snapshot: Callable[[], None] | None = None,
        metrics: Any | None = None,
        release_bracket: tuple[Callable[[], None], Callable[[], None]] | None = None,
    ) -> None:
        if fsync not in {"always", "batch", "off"}:
            raise ValueError(f"unknown fsync policy {fsync!r}")
        self.engine = engine
        self.hub = hub
        self.journal = journal
        self.deliver = deliver
        self.render_market = render_market
        self.encode_command = encode_command
        self.clock = clock
        self.fsync = fsync
        self.batch_window_s = batch_window_s
        self.snapshot_every = snapshot_every
        self._snapshot = snapshot
        self.metrics = metrics
        #: Called before and after a batch is released (the node's outboxes write the
        #: batch's replies at its end, one write per connection).
        self.release_bracket = release_bracket
        self.last_ts = 0
        self._pending: list[_Pending] = []
        #: Set while a batch taken from ``_pending`` is being made durable; done once released.
        self._in_flight: asyncio.Future[None] | None = None
        self._committing: list[_Pending] = []  # that batch, oldest first
        self._wakeup = asyncio.Event()
        self._committer: asyncio.Task[None] | None = None
        self._since_snapshot = 0
        self._closed = False
        self._cut_scheduled = False
        #: Set once a journal write or fsync failed: from then on every command is refused
        #: (``JournalFailed``). The engine may hold commands the journal lost, and a record
        #: written after a lost one would leave a hole recovery refuses: only a restart,
        #: which recovers from the journal, makes engine and journal agree again.
        self.failure: JournalFailed | None = None
        #: fsync ``off``: done when the commands pipelined in this loop turn are written and
        #: released (``_end_turn``); None when no turn is open.
        self._turn: asyncio.Future[None] | None = None
        #: Cut market-data batches on its own (per group commit / loop turn). Off when the
        #: commands bring their own ``Publish`` (replaying a tickwire recording made with
        #: batches: the market data comes out exactly where the recorded run cut it).
        self.auto_cut = True

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self.publish_now()
        if self.fsync == "batch" and self.journal is not None and self._committer is None:
            self._committer = asyncio.create_task(self._commit_loop(), name="group-commit")

    async def stop(self) -> None:
        """Release everything pending and make the journal durable."""
        self._closed = True
        if self._turn is not None:
            self._end_turn()
        if self._committer is not None:
            self._wakeup.set()
            while self._pending:
                await asyncio.sleep(0.001)
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
            self._committer = None
        self.publish_now()
        if self.journal is not None and self.failure is None:
            try:
                self.journal.sync()
            except Exception as exc:  # logged; the stop goes on (the node closes the journal)
                self._fail(exc, 0)
        # no final snapshot: recovery replays at most ``snapshot_every`` commands of tail,
        # while snapshotting a large state here would make every Ctrl-C slow

    @property
    def queue_depth(self) -> int:
        return len(self._pending)

    # ------------------------------------------------------------------ commands

    def stamp(self, cmd: t.Command) -> t.Command:
        """The command with ``ts`` from the clock, never earlier than the last one."""
        now = self.clock()
        if now < self.last_ts:
            now = self.last_ts
        self.last_ts = now
        if cmd.ts == now:  # a replayed command stamped with its own time
            return cmd
        restamp = _RESTAMP.get(type(cmd))
        if restamp is None:
            return dataclasses.replace(cmd, ts=now)
        stamped: t.Command = restamp(cmd, now)
        return stamped

    async def submit(self, cmd: t.Command, origin: Origin | None = None) -> list[t.Event]:
        """Sequence ``cmd``; returns its events once they are durable and released."""
        if self.fsync == "off" and self._turn is None:
            # nothing pipelined waits: written and released at once, no loop turn to wait for
            # (the replay and the simulator submit one command at a time)
            return self._submit_now(cmd, origin)
        events, fut = self.submit_nowait(cmd, origin)
        if fut is not None:
            # shielded: a loop turn's future is shared by every command of the turn, so a
            # cancelled caller must not cancel it for the others
            await asyncio.shield(fut)
        return events

    def submit_nowait(
        self, cmd: t.Command, origin: Origin | None = None
    ) -> tuple[list[t.Event], asyncio.Future[Any] | None]:
        """Sequence ``cmd`` now, without waiting for it to be durable: ``(events, future)``.

        The command is journaled and applied at once (so commands keep their arrival order);
        its events are released to ``deliver``/the hub when durable, as with ``submit``. The
        future (``None`` when already released: no group commit) completes then, or fails
        if the journal could not be made durable. A connection can so have many orders in
        one group commit instead of one per commit (``ws_orders`` pipelines this way).
        """
        if self.journal is None or self.fsync == "always":
            return self._submit_now(cmd, origin), None
        if self.fsync == "off":
            return self._join_turn(cmd, origin)
        self._check_open()
        started = time.perf_counter()
        events = self._apply(self.stamp(cmd))
        fut: asyncio.Future[list[t.Event]] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(events, origin, fut, started))
        self._wakeup.set()
        return events, fut

    def _check_open(self) -> None:
        if self._closed:
            raise self.failure or RuntimeError("sequencer is stopped")

    def _submit_now(self, cmd: t.Command, origin: Origin | None) -> list[t.Event]:
        """Apply, make durable as the policy asks and release ``cmd`` before returning."""
        self._check_open()
        started = time.perf_counter()
        events = self._apply(self.stamp(cmd))
        if self.journal is not None:
            try:
                if self.fsync == "always":
                    t0 = time.perf_counter()
                    self.journal.sync()
                    self._observe_fsync(time.perf_counter() - t0)
                else:
                    self.journal.flush()
            except Exception as exc:  # released to nobody, and no command after it
                raise self._fail(exc, 1) from exc
        self._release(_Pending(events, origin, None, started))
        self._after_release()
        if self.auto_cut and not self._cut_scheduled and self.engine.has_unpublished():
            self._cut_soon()
        return events

    def _join_turn(
        self, cmd: t.Command, origin: Origin | None
    ) -> tuple[list[t.Event], asyncio.Future[None] | None]:
        """fsync ``off``: apply now; written and released with the rest of this loop turn."""
        self._check_open()
        turn = self._turn
        if turn is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (recovery, scripts): one command at a time
                return self._submit_now(cmd, origin), None
            turn = self._turn = loop.create_future()
            loop.call_soon(self._end_turn)
        started = time.perf_counter()
        events = self._apply(self.stamp(cmd))
        self._pending.append(_Pending(events, origin, None, started))
        return events, turn

    def _end_turn(self) -> None:
        """Write the turn's records (one ``write``), then release them in order, with their
        market data cut after them (the cut joins the turn, as it joins a group commit)."""
        turn, self._turn = self._turn, None
        if turn is None:  # already ended (``stop``)
            return
        batch, self._pending = self._pending, []
        assert self.journal is not None
        self._committing = batch
        try:
            if self.failure is not None:  # an append of this turn failed: release nothing
                raise self.failure
            cut = self._cut() if self.auto_cut else None
            if cut is not None:
                batch.append(_Pending(cut, None, None, time.perf_counter(), cut=True))
            self.journal.flush()
        except Exception as exc:  # nothing of an unwritten turn is released
            failure = self._fail(exc, len(batch))
            self._committing = []
            if not turn.done():
                turn.set_exception(failure)
                turn.exception()  # logged by _fail: no "never retrieved" when no one waits
            return
        try:
            if self.metrics is not None:
                self.metrics.queue_depth.set(len(batch))
            self._release_all(batch)
        finally:  # whatever a release raised, no caller of the turn waits forever
            self._committing = []
            if not turn.done():
                turn.set_result(None)
        self._after_release()

    def unreleased(self) -> list[_Pending]:
        """Commands applied but not yet released (being made durable, then queued), oldest
        first: what no client may see yet."""
        return [*self._committing, *self._pending] if self._committing else self._pending

    async def durable(self) -> None:
        """Return once every command applied so far is durable and released.

        A read of engine state (REST, ``order.status``) taken *before* this call shows only
        what a crash cannot undo once it returns: read first, then ``await durable()``, then
        answer. Immediate unless group commit (or, fsync ``off``, this loop turn) has commands
        in flight. Raises ``JournalFailed`` once the journal failed: the engine may then show
        what the journal lost.
        """
        if self._turn is not None:
            await asyncio.shield(self._turn)
        elif self._pending:
            fut: asyncio.Future[list[t.Event]] = asyncio.get_running_loop().create_future()
            self._pending.append(_Pending([], None, fut, time.perf_counter(), barrier=True))
            self._wakeup.set()
            await fut
        elif self._in_flight is not None:
            await asyncio.shield(self._in_flight)
        if self.failure is not None:
            raise self.failure

    def _apply(self, cmd: t.Command) -> list[t.Event]:
        if self.journal is not None and self.encode_command is not None:
            record = self.encode_command(cmd)
            try:
                self.journal.append(record)
            except OSError as exc:
                # append handed a full buffer to the OS and the write failed: the records
                # applied before this one (this turn's, this batch's) are lost from the
                # journal and this one is not applied, so nothing may be released or
                # journaled after it
                raise self._fail(exc, len(self._pending) + 1) from exc
        events: list[t.Event] = self.engine.handle(cmd)
        if self.metrics is not None:
            m = self.metrics
            m.child(m.commands, _KIND.get(type(cmd), "other")).inc()
        if type(cmd) is not t.Publish:  # snapshot_every counts the commands, not the cuts
            self._since_snapshot += 1
        return events

    # ------------------------------------------------------------------ market-data cuts

    def _cut(self) -> list[t.Event] | None:
        """Apply (and journal) a ``Publish`` if market data waits; its events, else None."""
        if not self.engine.has_unpublished():
            return None
        return self._apply(self.stamp(t.Publish(0)))

    def _cut_soon(self) -> None:
        """Cut once the commands of this loop turn are in (no group commit)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (recovery, scripts): one command, one batch
            self.publish_now()
            return
        self._cut_scheduled = True
        loop.call_soon(self._cut_turn)

    def _cut_turn(self) -> None:
        self._cut_scheduled = False
        if not self._closed:
            self.publish_now()

    def publish_now(self) -> None:
        """Cut, make the cut as durable as the policy asks, and release it at once.

        Not while group commit holds commands (they would be released after their own
        market data): the commit loop cuts when it takes them."""
        if self._pending or self._committing or self.failure is not None:
            return
        try:
            events = self._cut()
            if events is None:
                return
            if self.journal is not None:
                if self.fsync == "off":
                    self.journal.flush()
                else:
                    self.journal.sync()
        except Exception as exc:  # the cut's record is lost: nothing may follow it
            self._fail(exc, 1)
            return
        self._release(_Pending(events, None, None, time.perf_counter(), cut=True))
        self._after_release()

    # ------------------------------------------------------------------ release

    async def _commit_loop(self) -> None:
        assert self.journal is not None
        while True:
            await self._wakeup.wait()
            if self.batch_window_s > 0 and not self._closed:
                await asyncio.sleep(self.batch_window_s)
            self._wakeup.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            in_flight = self._in_flight = asyncio.get_running_loop().create_future()
            self._committing = batch
            try:
                t0 = time.perf_counter()
                try:
                    if self.failure is not None:  # applied before the failure was seen
                        raise self.failure
                    # the market data of exactly the commands of this batch (its append may
                    # fail too: then nothing of the batch is released)
                    cut = self._cut() if self.auto_cut else None
                    if cut is not None:
                        batch.append(_Pending(cut, None, None, time.perf_counter(), cut=True))
                    if self.metrics is not None:
                        self.metrics.queue_depth.set(len(batch))
                    self.journal.flush()
                    await asyncio.to_thread(self.journal.sync)
                except Exception as exc:  # a failed write or fsync must not release anything
                    failure = self._fail(exc, len(batch))
                    for p in batch:
                        if p.future is not None and not p.future.done():
                            p.future.set_exception(failure)
                    continue
                self._observe_fsync(time.perf_counter() - t0)
                self._release_all(batch)
            finally:
                self._in_flight = None
                self._committing = []
                if not in_flight.done():
                    in_flight.set_result(None)
            if not self._pending:
                self._after_release()

    def _fail(self, exc: BaseException, commands: int) -> JournalFailed:
        """Fail closed after a journal write or fsync failed (see ``failure``)."""
        if self.failure is None:
            self.failure = exc if isinstance(exc, JournalFailed) else JournalFailed(exc)
            self._closed = True
            log.critical("journal write failed; failing %d commands and refusing every "
                         "command from now on: restart the server to recover from the "
                         "journal", commands, exc_info=exc)  # fmt: skip
        return self.failure

    def _observe_fsync(self, seconds: float) -> None:
        if self.metrics is not None:
            self.metrics.fsync_latency.observe(seconds)

    def _release_all(self, batch: list[_Pending]) -> None:
        bracket = self.release_bracket
        if bracket is None:
            for p in batch:
                self._release(p)
            return
        bracket[0]()
        try:
            for p in batch:
                self._release(p)
        finally:
            bracket[1]()

    def _release(self, p: _Pending) -> None:
        if p.barrier:
            if p.future is not None and not p.future.done():
                p.future.set_result(p.events)
            return
        private, market = split_market(p.events)
        try:
            if private:
                self.deliver(private, p.origin)
            if market:
                self.publish_market(market)
        except Exception:  # a delivery bug must not stall the sequencer
            log.exception("release failed")
        if self.metrics is not None and not p.cut:
            self.metrics.order_latency.observe(time.perf_counter() - p.started)
            for ev in private:
                if isinstance(ev, t.OrderRejected):
                    self.metrics.child(self.metrics.rejects, ev.code).inc()
        if p.future is not None and not p.future.done():
            p.future.set_result(p.events)

    def publish_market(self, market: Sequence[t.Event]) -> None:
        """Render engine market events and publish them to the hub as one batch."""
        render, engine = self.render_market, self.engine
        items = []
        for ev in market:
            name, data = render(ev, engine)
            items.append((name, getattr(ev, "symbol", None), data))
        self.hub.publish(items, self.last_ts)

    def replay(self, commands: Iterable[t.Command]) -> None:
        """Apply commands recovered from the journal (not journaled again) and publish their
        market events, so engine and hub come back as they were before the stop."""
        engine = self.engine
        for cmd in commands:
            events = engine.handle(cmd)
            self.last_ts = max(self.last_ts, getattr(cmd, "ts", 0))
            market = split_market(events)[1]
            if market:
                self.publish_market(market)

    def _after_release(self) -> None:
        if (
            self._snapshot is not None
            and self._since_snapshot >= self.snapshot_every
            and not self.engine.has_unpublished()  # a snapshot holds no unpublished changes
        ):
            self._since_snapshot = 0
            try:
                self._snapshot()
            except Exception:
                log.exception("snapshot failed")
