"""Load-generator side of ``bench.orders``: order messages, connections and the three
ways of driving them (sequential, open loop, closed loop).

Exports: ``RATE_ENV``, ``order_msg``, ``Target``, ``Conn``, ``connect_tickwire``,
``connect_echo``, ``sequential``, ``open_loop``, ``closed_loop``, ``open_conns``,
``close_conns``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import orjson
import websockets
from websockets.asyncio.client import ClientConnection

from bench.procs import ServerProc

RATE_ENV = {
    "TICKWIRE_CONN_RATE": "1000000",
    "TICKWIRE_CONN_BURST": "1000000",
    "TICKWIRE_ACCOUNT_RATE": "1000000",
    "TICKWIRE_ACCOUNT_BURST": "1000000",
    # every benchmark client comes from one address, each its own account
    "TICKWIRE_IP_ORDER_RATE": "0",
    "TICKWIRE_ACCOUNT_CREATE_RATE": "0",
}
_ids = itertools.count(1)


def order_msg(tag: str, req_id: int) -> str:
    side, price = ("buy", "1.00") if req_id % 2 else ("sell", "900000.00")
    return (
        f'{{"op":"order.new","req_id":{req_id},"client_order_id":"{tag}-{req_id}",'
        f'"symbol":"BTC-USD","side":"{side}","order_type":"limit","qty":"0.0001",'
        f'"price":"{price}"}}'
    )


@dataclass
class Target:
    """A server to drive and how to open a connection to it."""

    name: str
    server: ServerProc | None  # None: not started by the benchmark (tests)
    connect: Callable[[str], Awaitable[ClientConnection]]
    expect_ack: bool  # tickwire: every reply must be an order.ack


async def connect_tickwire(port: int, account: str) -> ClientConnection:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        r = await http.post("/api/sessions", json={"account": account})
        r.raise_for_status()
        token = r.json()["token"]
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/ws?token={token}",
        compression=None, ping_interval=None, max_size=2**22,
    )  # fmt: skip
    first = orjson.loads(await ws.recv())
    if first.get("type") != "session":
        raise RuntimeError(f"expected a session message, got {first}")
    return ws


async def connect_echo(port: int, _account: str) -> ClientConnection:
    return await websockets.connect(
        f"ws://127.0.0.1:{port}/", compression=None, ping_interval=None, max_size=2**22
    )


# ---------------------------------------------------------------------- scenarios


async def sequential(target: Target, n: int, warm: int) -> tuple[list[float], int]:
    """(sorted round trips in µs of ``n`` requests after ``warm``, errors)."""
    ws = await target.connect(f"seq{next(_ids)}")
    tag = f"s{next(_ids)}"
    lat: list[float] = []
    errors = 0
    clock = time.perf_counter_ns
    for i in range(warm + n):
        req_id = next(_ids)
        msg = order_msg(tag, req_id)
        t0 = clock()
        await ws.send(msg)
        while True:
            reply = orjson.loads(await ws.recv())
            if reply.get("req_id") == req_id:
                break
        t1 = clock()
        if target.expect_ack and reply.get("type") != "order.ack":
            errors += 1
        if i >= warm:
            lat.append((t1 - t0) / 1000)
    await ws.close()
    lat.sort()
    return lat, errors


@dataclass
class Conn:
    ws: ClientConnection
    tag: str
    sched: dict[int, float] = field(default_factory=dict)


async def open_loop(
    target: Target, conns: list[Conn], rate: float, duration: float
) -> tuple[list[float], int, int, list[float]]:
    """(sorted latencies in µs from the scheduled send time, errors, requests sent,
    sorted lateness in µs of the actual sends against their schedule)."""
    loop = asyncio.get_running_loop()
    lat: list[float] = []
    late: list[float] = []
    errors = 0

    async def receive(c: Conn) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            await _receive(c)

    async def _receive(c: Conn) -> None:
        nonlocal errors
        async for raw in c.ws:
            now = time.perf_counter()
            reply = orjson.loads(raw)
            sent = c.sched.pop(reply.get("req_id"), None)
            if sent is None:
                continue  # not an answer to one of ours (none expected)
            lat.append((now - sent) * 1e6)
            if target.expect_ack and reply.get("type") != "order.ack":
                errors += 1

    readers = [asyncio.create_task(receive(c)) for c in conns]
    total = int(rate * duration)
    interval = 1.0 / rate
    clock = time.perf_counter
    t0 = clock() + 0.05
    k = 0
    while k < total:
        due = min(total, int((clock() - t0) / interval) + 1)
        while k < due:
            c = conns[k % len(conns)]
            req_id = next(_ids)
            c.sched[req_id] = due_at = t0 + k * interval
            late.append((clock() - due_at) * 1e6)
            with contextlib.suppress(websockets.ConnectionClosed):
                await c.ws.send(order_msg(c.tag, req_id))
            k += 1
        # timers overshoot on a busy machine: sleep only when the next send is far off, and
        # yield (letting the readers run) when it is close
        wait = t0 + k * interval - clock()
        await asyncio.sleep(wait - 0.002 if wait > 0.003 else 0)
    deadline = loop.time() + 30.0  # an overloaded server drains its backlog first
    while any(c.sched for c in conns) and loop.time() < deadline:
        await asyncio.sleep(0.01)
    missing = sum(len(c.sched) for c in conns)
    for c in conns:
        c.sched.clear()
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    lat.sort()
    late.sort()
    return lat, errors + missing, total, late


async def closed_loop(
    target: Target,
    conns: list[Conn],
    window: int,
    duration: float,
    warm: float,
    server_cpu: Callable[[], float] | None = None,
) -> tuple[float, int, float, float]:
    """(replies/s over ``duration`` after ``warm`` s, errors, generator CPU share, server CPU
    share).

    ``server_cpu`` (the server's CPU seconds so far) is read at the start and the end of the
    counted ``duration``, so a CPU per reply covers exactly the replies counted (not the
    warm-up, nor the closing of the sockets); without it the server's share is NaN."""
    loop = asyncio.get_running_loop()
    count = 0
    errors = 0
    counting = False
    stop = False

    async def run(c: Conn) -> None:
        nonlocal errors
        try:
            await _run(c)
        except websockets.ConnectionClosed:
            errors += 1

    async def _run(c: Conn) -> None:
        nonlocal count, errors
        for _ in range(window):
            await c.ws.send(order_msg(c.tag, next(_ids)))
        outstanding = window
        async for raw in c.ws:
            outstanding -= 1
            if counting:
                count += 1
                if target.expect_ack and b'"order.ack"' not in _as_bytes(raw):
                    errors += 1
            if stop:
                # read what is still in flight: unread replies would pause the client's
                # reader, and closing would then wait out the close timeout (10 s)
                if outstanding == 0:
                    return
                continue
            await c.ws.send(order_msg(c.tag, next(_ids)))
            outstanding += 1

    tasks = [asyncio.create_task(run(c)) for c in conns]
    await asyncio.sleep(warm)
    counting = True
    srv0 = server_cpu() if server_cpu is not None else float("nan")
    cpu0, t0 = time.process_time(), loop.time()
    await asyncio.sleep(duration)
    counting = False
    elapsed, cpu = loop.time() - t0, time.process_time() - cpu0
    srv = (server_cpu() - srv0) / elapsed if server_cpu is not None else float("nan")
    stop = True
    await asyncio.wait(tasks, timeout=5.0)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return count / elapsed, errors, cpu / elapsed, srv


def _as_bytes(raw: str | bytes) -> bytes:
    return raw.encode() if isinstance(raw, str) else raw


async def open_conns(target: Target, n: int, prefix: str) -> list[Conn]:
    out = []
    for i in range(n):
        ws = await target.connect(f"{prefix}{i}")
        out.append(Conn(ws, f"{prefix}{i}x{next(_ids)}"))
    return out


async def close_conns(conns: list[Conn]) -> None:
    await asyncio.gather(*(c.ws.close() for c in conns), return_exceptions=True)
