"""Helpers of the live replay tests: a replay server on a free port, and its SSE feed.

``start_replay(paths, tmp_path, ...)`` builds the node the way ``tickwire replay`` does
(``prepare``) and serves it with real uvicorn; ``driver.step_offsets[i]`` is the hub's last
offset once step ``i`` was played (what a client must have applied to see that step).
By default the node publishes market data per command (``market_batches`` off), so every
step can be checked; ``batches=True`` runs it as the server does (per batch), and
``driver.batch_ends`` lists ``(step index, hub offset)`` of every published batch.
``read_sse(url, until)`` reads the real SSE stream until an event at offset ``until``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
from httpx_sse import connect_sse

from exchange.cli import build_parser
from exchange.replay.source import ReplayStep
from exchange.replay.subcommand import prepare
from shared.book import L2Book

from ..conftest import LiveServer, start_server  # type: ignore[misc]  # the root conftest

#: The hub keeps (and a subscriber may lag by) a whole replay: no conflation, exact resume.
BIG_BUFFERS = {
    "subscriber_buffer": 2_000_000,
    "history_size": 2_000_000,
    "history_age_s": 30 * 86400.0,
}


def write_trades_csv(path: Path, n: int) -> Path:
    """A Tardis trades recording of ``n`` BTCUSDT trades one second apart, alternating
    sides, at prices that cycle over seven ticks (no ``../shared/data`` needed)."""
    rows = ["exchange,symbol,timestamp,local_timestamp,id,side,price,amount"]
    t0 = 1582329600000000
    for i in range(n):
        side = "buy" if i % 2 else "sell"
        rows.append(f"binance-futures,BTCUSDT,{t0 + i * 1_000_000},{t0 + i * 1_000_000},"
                    f"{i + 1},{side},{9700 + i % 7}.5,0.1")  # fmt: skip
    path.write_text("\n".join(rows) + "\n")
    return path


@contextmanager
def start_replay(
    paths: Sequence[Path],
    tmp_path: Path,
    *options: str,
    data: str = "data",
    batches: bool = False,
) -> Iterator[tuple[LiveServer, Any]]:
    """A running replay server (``tickwire replay PATHS OPTIONS``) and its driver."""
    args = build_parser().parse_args(
        ["replay", *map(str, paths), "--data-dir", str(tmp_path / data), "--log-level",
         "warning", *(() if batches else ("--per-command-md",)), *options]
    )  # fmt: skip
    prep = prepare(args, show_progress=False)
    driver = prep.driver
    offsets: list[int] = []
    driver.step_offsets = offsets
    ends: list[tuple[int, int]] = []
    driver.batch_ends = ends

    def on_step(index: int, step: ReplayStep) -> None:
        offsets.append(driver.node.hub.last_offset)
        if batches and index == 0:  # the sequencer exists once the node started
            tap = driver.node.sequencer.hub
            publish = tap.publish

            def noted(items: Any, ts: int) -> None:
                publish(items, ts)
                if any(name == "book" for name, _, _ in items):
                    # the driver cuts at the end of a step, before its position moves on
                    ends.append((driver.player.position, driver.node.hub.last_offset))

            tap.publish = noted

    driver.player._on_step = on_step
    settings = prep.settings.replace(**BIG_BUFFERS)
    prep.node.settings = settings
    srv = start_server(settings, 0, prep.node)
    try:
        yield srv, driver
    finally:
        srv.stop()


def wait_published(node: Any, timeout: float = 10.0) -> int:
    """The hub's last offset once the engine holds no unpublished market data."""
    deadline = time.monotonic() + timeout
    while node.engine.has_unpublished() or node.sequencer.unreleased():
        if time.monotonic() > deadline:
            raise TimeoutError("market data still unpublished")
        time.sleep(0.01)
    return int(node.hub.last_offset)


def wait_finished(url: str, timeout: float = 240.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    # one client for the whole wait: httpx.get builds a client (and its TLS context, ~20 ms
    # of CPU) per call, which at 20 polls a second took CPU from the replay it waits for
    with httpx.Client(timeout=60) as http:
        while True:
            try:  # a max-speed replay on a loaded machine may answer slowly
                st: dict[str, Any] = http.get(f"{url}/api/replay").json()
            except httpx.TimeoutException:
                st = {"finished": False}
            if st["finished"]:
                return st
            if time.monotonic() > deadline:
                raise TimeoutError(f"replay not finished: {st}")
            time.sleep(0.05)


def read_sse(url: str, query: str, until: int, timeout: float = 240.0) -> list[dict[str, Any]]:
    """Events (``offset``, ``event``, ``data``) of ``/md/stream?query`` up to offset ``until``,
    from the very start of the hub's history (resumed after offset 0: the empty books)."""
    epoch = httpx.get(f"{url}/healthz").json()["epoch"]
    out: list[dict[str, Any]] = []
    with (
        httpx.Client(timeout=httpx.Timeout(timeout)) as http,
        connect_sse(
            http, "GET", f"{url}/md/stream?{query}", headers={"Last-Event-ID": f"{epoch}-0"}
        ) as es,
    ):
        for sse in es.iter_sse():
            if not sse.id or not sse.data:
                continue  # the opening ``retry:`` (httpx-sse keeps the last id on it)
            offset = int(sse.id.rpartition("-")[2])
            out.append({"offset": offset, "event": sse.event, "data": orjson.loads(sse.data)})
            if offset >= until:
                break
    return out


def empty_book(symbol: str) -> L2Book:
    """What a client holds at offset 0: the exchange starts with empty books at seq 0."""
    book = L2Book(symbol)
    book.apply_snapshot(
        {
            "symbol": symbol,
            "seq": 0,
            "bids": [],
            "asks": [],
            "last_trade_id": 0,
            "checksum": 0,
            "ts": 0,
        }
    )
    return book


def units(text: str) -> int:
    """A canonical decimal string as integer units (``"223.8200"`` -> ``2238200``)."""
    return int(text.replace(".", ""))


def apply(books: dict[str, L2Book], ev: dict[str, Any]) -> None:
    """Apply one market-data event to the client's books (checksums verified)."""
    name, data = ev["event"], ev["data"]
    if name == "snapshot":
        books[data["symbol"]].apply_snapshot(data)
    elif name == "book":
        assert books[data["symbol"]].apply_delta(data), ev


def levels(book: L2Book, depth: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """``(bids, asks)`` best first as integer units."""
    return (
        [(units(p), units(q)) for p, q in book.levels("bids", depth)],
        [(units(p), units(q)) for p, q in book.levels("asks", depth)],
    )


def after_each_step(
    events: Sequence[dict[str, Any]], offsets: Sequence[int], books: dict[str, L2Book]
) -> Iterator[tuple[int, dict[str, L2Book]]]:
    """Apply ``events`` to ``books``; yield ``(i, books)`` once every event up to step ``i``'s
    offset is applied (a step that published nothing sees the previous step's books)."""
    k = 0
    for i, offset in enumerate(offsets):
        while k < len(events) and events[k]["offset"] <= offset:
            apply(books, events[k])
            k += 1
        yield i, books
