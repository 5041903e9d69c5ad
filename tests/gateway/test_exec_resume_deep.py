"""``executions.resume`` completes at any depth within the retained history (issue 18 item 6).

A client that missed more than the outbox holds (``outbox_limit``, 10,000 messages) used to be dropped as a
slow consumer before it caught up, every time. The backlog is now written as fast as the
socket drains, with live executions held behind it so the stream stays in order.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import orjson
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

from exchange.engine import types as t
from tests.gateway.helpers import OrderClient, limit, login

BTC = "BTC-USD"
OUTBOX = 500
#: 40 times what the outbox holds; ~6 MB, more than the kernel takes for a reader with a
#: 4 KiB receive window (~0.5 MB in flight here), so the rest waits in the server.
MISSED = 20_000


async def place(node: Any, account: str, n: int) -> None:
    await node.ensure_account(account)
    for start in range(0, n, 500):
        await asyncio.gather(
            *(
                node.submit(
                    t.NewOrder(account, f"r{i}", BTC, "sell", "limit", "0.0001", "900000.00")
                )
                for i in range(start, min(n, start + 500))
            )
        )


def on_server(srv: Any, coro: Any) -> Any:
    return asyncio.run_coroutine_threadsafe(coro, srv.node.loop).result(120)


class RawClient:
    """A WebSocket client on a blocking socket with a 4 KiB receive window that reads only
    when told to (``websockets``' sans-I/O protocol): nothing buffers on its side, so a
    backlog backs up into the server as it would behind a slow network."""

    def __init__(self, port: int, token: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect
        self.sock.connect(("127.0.0.1", port))
        self.proto = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}/ws?token={token}"))
        self.proto.send_request(self.proto.connect())
        self._flush()
        self.pending: list[Frame] = []
        self.session = self.recv()

    def _flush(self) -> None:
        for chunk in self.proto.data_to_send():
            self.sock.sendall(chunk)

    def send(self, msg: dict[str, Any]) -> None:
        self.proto.send_text(orjson.dumps(msg))
        self._flush()

    def recv(self, timeout: float = 30.0) -> dict[str, Any]:
        self.sock.settimeout(timeout)
        while not self.pending:
            data = self.sock.recv(65536)
            assert data, "the server closed the connection"
            self.proto.receive_data(data)
            self._flush()  # pongs
            for ev in self.proto.events_received():
                if isinstance(ev, Frame) and ev.opcode is Opcode.TEXT:
                    self.pending.append(ev)
                elif isinstance(ev, Frame) and ev.opcode is Opcode.CLOSE:
                    raise AssertionError(f"closed by the server: {ev.data!r}")
        msg: dict[str, Any] = orjson.loads(self.pending.pop(0).data)
        return msg

    def close(self) -> None:
        self.sock.close()


async def test_resume_of_more_than_the_outbox_completes_in_order(live_server_factory: Any) -> None:
    srv = live_server_factory(fsync="off", outbox_limit=OUTBOX)
    on_server(srv, place(srv.node, "deep", MISSED))
    token = await login(srv.url, "deep")
    c = await asyncio.to_thread(RawClient, srv.port, token)
    other = await OrderClient.connect(srv.ws_url, token)
    latest = c.session["latest_exec_seq"]
    assert latest >= MISSED
    # two resumes back to back (a client retrying): the second finds the socket backed up
    # by the first, and used to overflow the outbox (closed 1008, resume never completed)
    c.send({"op": "executions.resume", "req_id": 1, "after": 0})
    await asyncio.sleep(0.1)
    c.send({"op": "executions.resume", "req_id": 2, "after": 0})
    await asyncio.sleep(0.5)  # a reader slower than the server's writes: the backlog waits
    # a live execution while the backlog is being written comes after it, not inside
    ack = await other.request("order.new", **limit("live", BTC, "sell", "0.0001", "900001"))
    assert ack["type"] == "order.ack" and ack["exec_seq"] == latest + 1
    got: list[int | str] = []
    try:
        while not got or not str(got[-1]).startswith("resumed 2"):
            msg = await asyncio.to_thread(c.recv)
            if msg.get("type") == "executions.resumed":
                got.append(f"resumed {msg['req_id']} at {msg['latest_exec_seq']}")
            elif msg.get("exec_seq") is not None:
                got.append(msg["exec_seq"])
    finally:
        c.close()
    first: list[int | str] = list(range(1, latest + 1))
    second: list[int | str] = list(range(1, latest + 2))
    # the live ack waited behind the first replay; the second replays what it asked for
    assert got == [
        *first,
        f"resumed 1 at {latest}",
        latest + 1,
        *second,
        f"resumed 2 at {latest + 1}",
    ]
    await other.close()
