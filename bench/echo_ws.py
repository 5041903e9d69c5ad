"""The order-entry floor: a raw ``websockets`` echo server (uvloop, compression off).

Run: ``python -m bench.echo_ws --port P [--reply-bytes N]``. Each text message is sent back
as is, padded with spaces to ``--reply-bytes`` (still valid JSON), so requests and replies
have the sizes of tickwire's ``order.new`` and ``order.ack``. Used by ``bench.orders``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import uvloop
from websockets.asyncio.server import ServerConnection, serve


async def _echo(ws: ServerConnection, reply_bytes: int) -> None:
    async for msg in ws:
        data = msg.encode() if isinstance(msg, str) else msg
        if len(data) < reply_bytes:
            data += b" " * (reply_bytes - len(data))
        await ws.send(data.decode())


async def main(port: int, reply_bytes: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)

    async def handler(ws: ServerConnection) -> None:
        await _echo(ws, reply_bytes)

    async with serve(
        handler, "127.0.0.1", port, compression=None, ping_interval=None, max_size=2**20
    ):
        await stop


def run() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--reply-bytes", type=int, default=0)
    a = p.parse_args()
    uvloop.run(main(a.port, a.reply_bytes))


if __name__ == "__main__":
    run()
