"""Compressed SSE: a content coding chosen from ``Accept-Encoding``, one compressor per stream.

Exports: ``ENCODINGS``, ``negotiate``, ``StreamCompressor``, ``CompressedSseFraming``.

``GET /md/stream`` is compressed when the client says it accepts ``gzip`` (or ``br``) and the
server offers it (``Settings.sse_encodings``, in the server's order of preference, gzip alone
by default; ``?compress=0`` declines). The response is one gzip (or brotli) stream for the
connection's whole life, flushed at every batch (``Z_SYNC_FLUSH``, brotli's ``flush``): each
HTTP chunk holds every byte the client needs to decode what the batch says, so compression
adds no delay, only CPU.

Why these settings (measured, ``python -m bench.compression``; docs/benchmarks.md):
gzip at level 6 with a 4 KiB window and ``memLevel`` 5 (websockets' permessage-deflate defaults)
takes a live SSE event from ~186 bytes on the socket to 35-46 (fewer at higher feed rates),
for ~40 KiB more per connection; brotli at quality 5 with a 64 KiB window gets 23-35 bytes for
a little more server CPU but ~0.7 MiB per connection (its encoder's tables, whatever the
quality and window), so brotli is offered only when the operator lists it, and then only to a
client that prefers it.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Sequence
from typing import Any

from exchange.hub.events import Framing, MdEvent, http_chunk

try:
    import brotli
except ImportError:  # pragma: no cover - brotli is a pinned dependency
    brotli = None

__all__ = ["ENCODINGS", "CompressedSseFraming", "StreamCompressor", "negotiate"]

#: Content codings the server can produce (``brotli`` only when the package is installed).
ENCODINGS: tuple[str, ...] = ("gzip", "br") if brotli is not None else ("gzip",)

GZIP_LEVEL = 6
GZIP_WINDOW_BITS = 12
GZIP_MEM_LEVEL = 5
BROTLI_QUALITY = 5
BROTLI_WINDOW_BITS = 16


def _quality(params: str) -> float:
    """The ``q`` of one ``Accept-Encoding`` item's parameters (1 when absent; a malformed or
    out-of-range one makes the coding unacceptable)."""
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return 0.0
            return q if 0.0 <= q <= 1.0 and not math.isnan(q) else 0.0
    return 1.0


def negotiate(header: str | None, offered: Sequence[str]) -> str | None:
    """The coding of ``offered`` (server's preference first) that the ``Accept-Encoding``
    ``header`` accepts with the highest ``q`` (ties: the server's order), or ``None`` for
    identity. ``*`` stands for any coding the header does not name; ``x-gzip`` is ``gzip``;
    an item that cannot be read accepts nothing."""
    if not header or not offered:
        return None
    weights: dict[str, float] = {}
    for item in header.split(","):
        token, _, params = item.partition(";")
        token = token.strip().lower()
        if not token:
            continue
        if token == "x-gzip":
            token = "gzip"
        weights.setdefault(token, _quality(params))
    best, best_q = None, 0.0
    for coding in offered:
        q = weights.get(coding, weights.get("*", 0.0))
        if q > best_q:
            best, best_q = coding, q
    return best


class StreamCompressor:
    """One connection's compressor: ``compress`` returns the bytes that let the client decode
    everything given so far; ``finish`` ends the stream (its trailer), after which nothing
    more is compressed."""

    __slots__ = ("_impl", "finished", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.finished = False
        self._impl: Any
        if name == "gzip":
            self._impl = zlib.compressobj(
                GZIP_LEVEL, zlib.DEFLATED, 16 + GZIP_WINDOW_BITS, GZIP_MEM_LEVEL
            )
        elif name == "br" and brotli is not None:
            self._impl = brotli.Compressor(
                mode=brotli.MODE_TEXT, quality=BROTLI_QUALITY, lgwin=BROTLI_WINDOW_BITS
            )
        else:
            raise ValueError(f"unknown content coding {name!r}; choose from {ENCODINGS}")

    def compress(self, data: bytes) -> bytes:
        if self.finished:
            return b""
        impl = self._impl
        if self.name == "gzip":
            return bytes(impl.compress(data) + impl.flush(zlib.Z_SYNC_FLUSH))
        return bytes(impl.process(data) + impl.flush())

    def finish(self) -> bytes:
        if self.finished:
            return b""
        self.finished = True
        impl = self._impl
        if self.name == "gzip":
            return bytes(impl.flush(zlib.Z_FINISH))
        return bytes(impl.finish())


class CompressedSseFraming(Framing):
    """SSE frames of a batch through one connection's compressor, as one HTTP/1.1 chunk.

    ``stateful``: the bytes depend on what was compressed before, so the hub frames a batch
    only when it is about to be written to this one connection (``exchange.hub.push``)."""

    __slots__ = ("compressor",)
    stateful = True

    def __init__(self, compressor: StreamCompressor) -> None:
        super().__init__(f"sse-{compressor.name}")
        self.compressor = compressor

    def chunk(self, raw: bytes) -> bytes:
        """``raw`` SSE text compressed into one chunk (``b""`` when there is nothing to write:
        an empty chunk would end the response)."""
        data = self.compressor.compress(raw)
        return http_chunk(data) if data else b""

    def frame(self, events: list[MdEvent]) -> bytes:
        return self.chunk(b"".join([ev.sse for ev in events]))

    def keepalive(self) -> bytes | None:
        return self.chunk(b": hb %d\n\n" % time.time_ns())

    def end(self) -> bytes:
        """The compressed stream's last chunk (its trailer), before the response ends."""
        data = self.compressor.finish()
        return http_chunk(data) if data else b""
