"""Replay pacing: ``ReplayClock`` (recorded time against wall time) and ``ReplayPlayer``.

Exports ``ReplayClock``, ``ReplayPlayer``, ``ReplayStatus`` and ``parse_speed``.

Contract: the player submits ``source.setup`` and then every step's commands, in order,
through ``submit`` (the sequencer's), each step once its recorded time is due on the clock.
Use ``player.clock.now`` as the sequencer's clock during a replay so the engine's clock (and
candles) follow the recording. ``pause``/``resume``/``set_speed``/``seek`` may be called at
any time from the same event loop; they take effect at once (a wait in progress is cut short).
A seek to ``T`` leaves the engine as a replay from the start up to and including every step
with ``ts <= T``: forward by submitting the steps in between, backward through ``reset``
(and forward through ``reset`` too when more than ``jump_after`` steps lie in between).
``seek`` returns a future that is done once the seek has been carried out.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from exchange.engine.types import Command, Event
from exchange.replay.source import ReplaySource, ReplayStep

__all__ = ["ReplayClock", "ReplayPlayer", "ReplayStatus", "parse_speed"]

Submit = Callable[[Command], Awaitable[list[Event]]]
#: ``reset(target_index) -> position``: restore the engine to the state before step
#: ``position`` (``0 <= position <= target_index``; 0 means "before setup": a fresh engine).
Reset = Callable[[int], Awaitable[int]]


def parse_speed(text: str | float | None) -> float | None:
    """``"max"``/``None`` -> ``None`` (as fast as possible); ``"10"``, ``"10x"``, ``2.5`` -> float."""
    if text is None or (isinstance(text, str) and text.strip().lower() == "max"):
        return None
    try:
        value = (
            float(text.strip().lower().removesuffix("x")) if isinstance(text, str) else float(text)
        )
    except ValueError:
        raise ValueError(f"speed must be a positive number or 'max', not {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise ValueError(f"speed must be a positive number or 'max', not {text!r}")
    return value


class ReplayClock:
    """Recorded time (ns) = anchor + elapsed wall time x speed, frozen while paused.

    At ``speed=None`` (max) the clock stands at the last step played (``advance_to``); it
    never runs past ``end_ns`` (the end of the recording) once set."""

    def __init__(
        self,
        start_ns: int,
        speed: float | None = 1.0,
        *,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        self._wall = wall
        self._anchor = start_ns
        self._anchor_wall = wall()
        self._speed = speed
        self._paused = False

    @property
    def speed(self) -> float | None:
        return self._speed

    @property
    def paused(self) -> bool:
        return self._paused

    #: The recording's last timestamp: the clock stops there (nothing follows it).
    end_ns: int | None = None

    def now(self) -> int:
        if self._paused or self._speed is None:
            return self._anchor
        now = self._anchor + int((self._wall() - self._anchor_wall) * self._speed * 1e9)
        end = self.end_ns
        return now if end is None or now <= end or self._anchor > end else end

    def _rebase(self) -> None:
        self._anchor, self._anchor_wall = self.now(), self._wall()

    def set_speed(self, speed: float | None) -> None:
        if speed is not None and not speed > 0:
            raise ValueError("speed must be positive or None (max)")
        self._rebase()
        self._speed = speed

    def pause(self) -> None:
        self._rebase()
        self._paused = True

    def resume(self) -> None:
        self._anchor_wall = self._wall()
        self._paused = False

    def seek(self, ts: int) -> None:
        self._anchor, self._anchor_wall = ts, self._wall()

    def advance_to(self, ts: int) -> None:
        """A step at ``ts`` was played: at max speed the clock moves there."""
        if self._speed is None and ts > self._anchor:
            self._anchor = ts

    def wait_seconds(self, ts: int) -> float | None:
        """Wall seconds until ``ts`` is due: 0 when due (or at max speed), ``None`` if paused."""
        if self._paused:
            return None
        if self._speed is None:
            return 0.0
        return max(0.0, (ts - self.now()) / self._speed / 1e9)


@dataclass(frozen=True, slots=True)
class ReplayStatus:
    clock_ns: int
    speed: float | None  # None = max
    paused: bool
    position: int  # steps played
    total: int
    finished: bool


class ReplayPlayer:
    """Plays a ``ReplaySource`` through ``submit``; see the module docstring."""

    def __init__(
        self,
        source: ReplaySource,
        submit: Submit,
        *,
        speed: float | None = 1.0,
        reset: Reset | None = None,
        on_step: Callable[[int, ReplayStep], None] | None = None,
        end_step: Callable[[ReplayStep], Awaitable[None]] | None = None,
        wall: Callable[[], float] = time.monotonic,
        yield_every: int = 256,
        jump_after: int | None = None,
    ) -> None:
        self.source = source
        self._submit = submit
        self._reset = reset
        self._on_step = on_step
        #: awaited after each step's commands (the driver's market-data cut)
        self._end_step = end_step
        self._times: Sequence[int] = [s.ts for s in source.steps]
        self.clock = ReplayClock(source.start_ns or 0, speed, wall=wall)
        if source.steps:  # after the last step the replay clock stands still
            self.clock.end_ns = source.steps[-1].ts
        self.position = 0  # index of the next step
        self._setup_done = False
        self._seek_to: int | None = None
        self._seek_waiters: list[asyncio.Future[None]] = []
        self._jump_after = jump_after
        self._wake = asyncio.Event()
        self._yield_every = max(1, yield_every)

    # ------------------------------------------------------------------ controls

    def status(self) -> ReplayStatus:
        total = len(self.source.steps)
        return ReplayStatus(
            self.clock.now(),
            self.clock.speed,
            self.clock.paused,
            self.position,
            total,
            self.position >= total,
        )

    def pause(self) -> None:
        self.clock.pause()
        self._wake.set()

    def resume(self) -> None:
        self.clock.resume()
        self._wake.set()

    def set_speed(self, speed: float | None) -> None:
        self.clock.set_speed(speed)
        self._wake.set()

    def seek(self, ts: int) -> asyncio.Future[None]:
        """Go to recorded time ``ts`` (done by the ``run`` loop, before its next step); the
        future is done when it has been (with the exception if the seek failed)."""
        self._seek_to = ts
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seek_waiters.append(fut)
        self._wake.set()
        return fut

    # ------------------------------------------------------------------ the loop

    async def run(self, stop: asyncio.Event) -> None:
        """Play until ``stop`` is set. At the end of the recording it waits (a seek back may
        follow) rather than returning."""
        steps = self.source.steps
        played = 0
        if not self._setup_done:
            await self._play_setup()
        while not stop.is_set():
            if self._seek_to is not None:
                await self._do_seek()
                continue
            delay = (
                None
                if self.position >= len(steps)
                else self.clock.wait_seconds(steps[self.position].ts)
            )
            if delay is None or delay > 0:
                self._wake.clear()
                waits = [
                    asyncio.ensure_future(self._wake.wait()),
                    asyncio.ensure_future(stop.wait()),
                ]
                await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
                for w in waits:
                    w.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await w
                continue
            await self._play(self.position)
            played += 1
            if played % self._yield_every == 0:
                await asyncio.sleep(0)  # let controls and other tasks in at max speed

    async def _play_setup(self) -> None:
        for cmd in self.source.setup:
            await self._submit(cmd)
        self._setup_done = True

    async def _play(self, index: int) -> None:
        step = self.source.steps[index]
        for cmd in step.commands:
            await self._submit(cmd)
        if self._end_step is not None:
            await self._end_step(step)
        self.position = index + 1
        self.clock.advance_to(step.ts)
        if self._on_step is not None:
            self._on_step(index, step)

    async def _do_seek(self) -> None:
        waiters, self._seek_waiters = self._seek_waiters, []
        try:
            await self._seek()
        except Exception as exc:
            for w in waiters:
                if not w.done():
                    w.set_exception(exc)
            raise
        for w in waiters:
            if not w.done():
                w.set_result(None)

    async def _seek(self) -> None:
        target_ts = self._seek_to
        assert target_ts is not None
        self._seek_to = None
        target = bisect.bisect_right(self._times, target_ts)  # steps with ts <= T are played
        jump = (
            self._reset is not None
            and self._jump_after is not None
            and target - self.position > self._jump_after
        )
        if target < self.position or jump:
            if self._reset is None:
                raise RuntimeError("seeking backwards needs a reset callback")
            self.position = await self._reset(target)
            if not 0 <= self.position <= target:
                raise RuntimeError(f"reset returned position {self.position}, outside 0..{target}")
            if self.position == 0:
                await self._play_setup()
        while self.position < target:
            await self._play(self.position)
            if self.position % self._yield_every == 0:
                await asyncio.sleep(0)
        self.clock.seek(target_ts)
