"""Compressed SSE (``/md/stream`` with ``Accept-Encoding``): the negotiation, the per-batch
flush (a heartbeat is readable on arrival), the same events as the plain stream from the same
resume point, a whole gzip member at the end, and bad input refused or ignored."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from typing import Any

import brotli
import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.config import ConfigError, Settings
from exchange.gateway.content_coding import StreamCompressor, negotiate

OFFERED = ("gzip", "br")


# ---------------------------------------------------------------- negotiation (unit)


@pytest.mark.parametrize(
    ("header", "want"),
    [
        (None, None),
        ("", None),
        ("identity", None),
        ("gzip", "gzip"),
        ("GZip", "gzip"),
        ("x-gzip", "gzip"),
        ("br", "br"),
        ("gzip, deflate, br, zstd", "gzip"),  # a tie goes to the server's preference
        ("gzip;q=0.5, br", "br"),
        ("br;q=0.9, gzip;q=0.8", "br"),
        ("gzip;q=0", None),
        ("*", "gzip"),
        ("*;q=0.1, gzip;q=0", "br"),
        ("gzip;q=abc", None),  # unreadable weight: not acceptable
        ("gzip;q=2", None),
        ("gzip;q=nan, br;q=0.2", "br"),
        (",,;;,", None),
        ("deflate", None),
    ],
)
def test_negotiate(header: str | None, want: str | None) -> None:
    assert negotiate(header, OFFERED) == want


@given(st.text(max_size=80))
def test_negotiate_never_raises_and_only_picks_an_offered_coding(header: str) -> None:
    assert negotiate(header, OFFERED) in (None, *OFFERED)
    assert negotiate(header, ()) is None


def _decoder(coding: str) -> Any:
    return zlib.decompressobj(16 + zlib.MAX_WBITS) if coding == "gzip" else brotli.Decompressor()


def _feed(dec: Any, data: bytes) -> bytes:
    out = dec.decompress(data) if isinstance(dec, type(zlib.decompressobj())) else dec.process(data)
    return bytes(out)


@pytest.mark.parametrize("coding", OFFERED)
@given(pieces=st.lists(st.binary(max_size=300), max_size=12))
def test_each_flush_decodes_everything_given_so_far(coding: str, pieces: list[bytes]) -> None:
    comp, dec = StreamCompressor(coding), _decoder(coding)
    stream = b""
    for piece in pieces:
        out = comp.compress(piece)
        stream += out
        assert _feed(dec, out) == piece  # nothing held back in the compressor
    stream += comp.finish()
    assert comp.compress(b"more") == b"" and comp.finish() == b""
    whole = gzip.decompress(stream) if coding == "gzip" else brotli.decompress(stream)
    assert whole == b"".join(pieces)


def test_unknown_codings_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown content coding"):
        StreamCompressor("zstd")
    with pytest.raises(ConfigError, match="sse_encodings"):
        Settings(sse_encodings=("gzip", "zstd"))


# ---------------------------------------------------------------- on a live server


class RawStream:
    """``GET /md/stream`` read as it arrives: the decoded text, and whether the coded stream
    ended as a whole (a gzip member with its trailer)."""

    def __init__(self, coding: str | None) -> None:
        self.coding = coding
        self.dec = _decoder(coding) if coding else None
        self.text = b""
        self.wire = 0

    def feed(self, raw: bytes) -> None:
        self.wire += len(raw)
        self.text += _feed(self.dec, raw) if self.dec is not None else raw

    def events(self) -> list[tuple[str, str, bytes]]:
        out = []
        for block in self.text.split(b"\n\n"):
            fields = dict(line.split(b":", 1) for line in block.split(b"\n") if b":" in line)
            if b"id" in fields:
                out.append((fields[b"id"].decode(), fields[b"event"].decode(), fields[b"data"]))
        return out

    def ended_whole(self) -> bool:
        return bool(self.dec.eof) if self.coding == "gzip" else bool(self.dec.is_finished())


async def read_raw(
    url: str, accept: str | None, *, until: Any, last_id: str | None = None, timeout: float = 10
) -> tuple[httpx.Headers, RawStream]:
    headers = {"Accept-Encoding": accept or "identity"}
    if last_id:
        headers["Last-Event-ID"] = last_id
    async with (
        httpx.AsyncClient(timeout=timeout) as http,
        http.stream("GET", url, headers=headers) as r,
    ):
        assert r.status_code == 200
        got = RawStream(r.headers.get("content-encoding"))
        async with asyncio.timeout(timeout):
            async for raw in r.aiter_raw():
                got.feed(raw)
                if until(got):
                    break
        return r.headers, got


@pytest.fixture
def market(live_server_factory: Any) -> Any:
    return live_server_factory(sim_rate=50.0, sse_encodings=OFFERED)


def live_count(n: int) -> Any:
    return lambda got: len([e for e in got.events() if e[1] != "snapshot"]) >= n


@pytest.mark.parametrize("coding", OFFERED)
async def test_compressed_and_plain_streams_carry_the_same_events(market: Any, coding: str) -> None:
    url = f"{market.url}/md/stream?symbols=BTC-USD,ETH-USD"
    _, first = await read_raw(url, None, until=live_count(3))
    resume = first.events()[-1][0]  # both read on from the same point
    (h_plain, plain), (h_coded, coded) = await asyncio.gather(
        read_raw(url, None, until=live_count(40), last_id=resume),
        read_raw(url, f"{coding}, deflate", until=live_count(40), last_id=resume),
    )
    assert "content-encoding" not in h_plain and h_coded["content-encoding"] == coding
    assert h_plain["vary"] == h_coded["vary"] == "accept-encoding"
    n = min(len(plain.events()), len(coded.events()))
    assert n >= 40
    assert coded.events()[:n] == plain.events()[:n]  # same ids, names and bytes, same order
    assert coded.text.startswith(b"retry: ")
    for _, _, data in coded.events():
        orjson.loads(data)
    assert coded.wire < len(coded.text) / 2  # and it is smaller on the wire


async def test_a_heartbeat_is_readable_when_it_arrives(live_server_factory: Any) -> None:
    """Every write is flushed through the compressor: a quiet stream's heartbeat comments
    decode on arrival (held in the compressor, they would never come)."""
    srv = live_server_factory(sse_heartbeat_s=0.2)
    headers, got = await read_raw(
        f"{srv.url}/md/stream?channels=trades", "gzip", until=lambda g: g.text.count(b": hb ") >= 2
    )
    assert headers["content-encoding"] == "gzip"
    assert got.text.startswith(b"retry: ") and got.text.count(b": hb ") >= 2


async def test_compress_0_the_setting_and_bad_input(live_server_factory: Any) -> None:
    srv = live_server_factory(sim_rate=20.0)
    base = f"{srv.url}/md/stream?channels=ticker"
    snapshot_or_more = lambda g: len(g.events()) >= 1  # noqa: E731
    h, got = await read_raw(base + "&compress=0", "gzip, br", until=snapshot_or_more)
    assert "content-encoding" not in h and got.text.startswith(b"retry: ")
    h, _ = await read_raw(base + "&compress=1", "gzip", until=snapshot_or_more)
    assert h["content-encoding"] == "gzip"
    # brotli is the operator's opt-in (its memory per connection): by default, gzip only
    assert Settings().sse_encodings == ("gzip",)
    h, _ = await read_raw(base, "br", until=snapshot_or_more)
    assert "content-encoding" not in h
    h, _ = await read_raw(base, "br, gzip;q=0.5", until=snapshot_or_more)
    assert h["content-encoding"] == "gzip"
    for junk in ("gzip;q=x", ";;;", "compress, deflate", "gzip;q=1e9", "gzip;q=0", "*;q=0"):
        h, got = await read_raw(base, junk, until=snapshot_or_more)
        assert "content-encoding" not in h, junk
        assert got.text.startswith(b"retry: "), junk
    async with httpx.AsyncClient(base_url=srv.url, timeout=10) as http:
        for bad in ("2", "yes", "0,1"):
            r = await http.get(f"/md/stream?compress={bad}", headers={"Accept-Encoding": "gzip"})
            assert r.status_code == 400, bad
            assert r.json()["code"] == "BAD_REQUEST" and "compress" in r.json()["message"]
        r = await http.head("/md/stream", headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
        assert r.content == b""
    plain = live_server_factory(sse_encodings=(), data_dir=srv.settings.data_dir.parent / "p")
    h, got = await read_raw(f"{plain.url}/md/stream", "gzip, br", until=snapshot_or_more)
    assert "content-encoding" not in h and got.text.startswith(b"retry: ")


@pytest.mark.parametrize("coding", OFFERED)
async def test_the_stream_ends_as_a_whole_compressed_stream_at_shutdown(
    live_server_factory: Any, coding: str
) -> None:
    srv = live_server_factory(sim_rate=20.0, sse_encodings=OFFERED)
    headers = {"Accept-Encoding": coding}
    async with (
        httpx.AsyncClient(timeout=10) as http,
        http.stream("GET", f"{srv.url}/md/stream", headers=headers) as r,
    ):
        got = RawStream(r.headers["content-encoding"])
        stopping: asyncio.Future[Any] | None = None
        async with asyncio.timeout(15):
            async for raw in r.aiter_raw():
                got.feed(raw)
                if stopping is None and live_count(2)(got):
                    stopping = asyncio.ensure_future(asyncio.to_thread(srv.stop))
        assert stopping is not None
        await stopping
    assert got.ended_whole()  # the trailer came before the last chunk
    assert len(got.events()) >= 2


async def test_compressed_under_hypercorn_the_asgi_path(tmp_path: Any) -> None:
    """Under a server other than uvicorn the stream is a task per connection sending through
    ASGI (``_pull``): the same compression, flushed per write."""
    import socket

    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from exchange.gateway.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings().replace(
        host="127.0.0.1", port=port, data_dir=tmp_path / "data", sim_rate=20.0, fsync="off",
        log_level="warning", sse_heartbeat_s=0.2,
    )  # fmt: skip
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.loglevel = "WARNING"
    stop = asyncio.Event()
    server = asyncio.ensure_future(serve(create_app(settings), config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(200):
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        url = f"http://127.0.0.1:{port}/md/stream?channels=ticker"
        headers, got = await read_raw(
            url, "gzip", until=lambda g: live_count(3)(g) and g.text.count(b": hb ") >= 1
        )
        assert headers["content-encoding"] == "gzip"
        assert got.text.startswith(b"retry: ")
        assert all(e[1] in ("ticker", "snapshot") for e in got.events())
    finally:
        stop.set()
        await asyncio.wait_for(server, 15)
