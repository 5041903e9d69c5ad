"""Fuzzing the order socket: random bytes, random JSON and mutated valid messages are each
answered, never close the socket, never crash the server and never change state unless they
are, in fact, a valid request."""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import strategies as ss
from tests.gateway.helpers import OrderClient, limit, login

_pings = itertools.count(10**9)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
ERROR_TYPES = {"error", "order.reject"}


async def answer_of(c: OrderClient, frame: bytes | str) -> list[dict[str, Any]]:
    """Send ``frame`` then a ping; everything before the pong is the frame's answer.

    Bytes that are valid UTF-8 go as a text frame (the contract: binary frames are refused
    unread), anything else as a binary frame."""
    if isinstance(frame, bytes):
        with contextlib.suppress(UnicodeDecodeError):
            frame = frame.decode()
    await c.send(frame)
    marker = next(_pings)
    await c.send({"op": "ping", "req_id": marker})
    out: list[dict[str, Any]] = []
    while True:
        msg = await c.recv(30)  # generous: the CI machine may be busy
        if msg.get("type") == "pong" and msg.get("req_id") == marker:
            return out
        out.append(msg)


class Fuzzer:
    def __init__(self, srv: Any) -> None:
        self.srv = srv
        self.client: OrderClient | None = None

    async def socket(self) -> OrderClient:
        if self.client is None:
            token = await login(self.srv.url, "fuzzer")
            self.client = await OrderClient.connect(self.srv.ws_url, token)
            # something to cancel or replace, so mutations reach deeper code
            await self.client.request("order.new", **limit("seed1", "BTC-USD", "buy", "0.1", "100"))
        return self.client

    async def check(self, frame: bytes | str, *, must_fail: bool) -> None:
        c = await self.socket()
        before = self.srv.node.engine.state_hash()
        answer = await answer_of(c, frame)
        assert answer, f"no answer to {frame!r}"
        kinds = {m["type"] for m in answer}
        if "deadman.set" in kinds:  # a live dead-man timer would change state later on
            await c.request("deadman", timeout_ms=0)
        if must_fail or kinds <= ERROR_TYPES:
            assert kinds <= ERROR_TYPES, answer
            assert all(m["code"] and m["message"] for m in answer)
            assert self.srv.node.engine.state_hash() == before


_fuzzers: dict[int, Fuzzer] = {}


@pytest.fixture
def live_server(live_server_factory: Any) -> Any:
    """A server whose rate limits stay out of the way: these tests fuzz the parser, and
    hypothesis sends frames faster than any limit meant for traders (limits: test_limits)."""
    return live_server_factory(conn_rate=1e6, conn_burst=1e6, account_rate=1e6, account_burst=1e6)


def fuzzer(srv: Any) -> Fuzzer:
    """One fuzzer (one socket) per server, reused across hypothesis examples."""
    return _fuzzers.setdefault(id(srv), Fuzzer(srv))


@FUZZ
@given(data=st.binary(max_size=400))
async def test_random_bytes(live_server: Any, data: bytes) -> None:
    await fuzzer(live_server).check(data, must_fail=True)


@FUZZ
@given(data=ss.random_json())
async def test_random_json(live_server: Any, data: bytes) -> None:
    await fuzzer(live_server).check(data, must_fail=not _could_be_valid(data))


@FUZZ
@given(data=ss.mutated_frames())
async def test_mutated_valid_messages(live_server: Any, data: bytes) -> None:
    fz = fuzzer(live_server)
    await fz.check(data, must_fail=False)
    # the socket and the server still work after each mutation
    assert (await (await fz.socket()).request("ping"))["type"] == "pong"


def _could_be_valid(data: bytes) -> bool:
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return isinstance(obj, dict) and isinstance(obj.get("op"), str)
