"""Ticker staleness against known traffic: a fixed sequence of arrivals gives known figures."""

from __future__ import annotations

import asyncio
import time

import orjson

from exchange.lab.clients import open_client
from exchange.lab.staleness import (
    TickerArrival,
    TickerLog,
    delivered,
    excess_samples,
    floor_samples,
    parse_ticker,
    sample_times,
    staleness_report,
    staleness_samples,
)
from exchange.lab.wire import Meter

MS = 1_000_000

# symbol A: tickers stamped 10, 30, 20, 60 ms; the one stamped 20 arrives after the one
# stamped 30 (an unordered channel) and must not make the client staler
ARRIVALS = [
    TickerArrival(15 * MS, "A", 10 * MS, "0-1"),
    TickerArrival(42 * MS, "A", 30 * MS, "0-3"),
    TickerArrival(45 * MS, "A", 20 * MS, "0-2"),
    TickerArrival(70 * MS, "A", 60 * MS, "0-4"),
]
TIMES = sample_times(0, 100 * MS)


def test_sample_times_every_10_ms_before_the_end() -> None:
    assert sample_times(0, 100 * MS) == [k * 10 * MS for k in range(10)]
    assert sample_times(0, 101 * MS)[-1] == 100 * MS


def test_staleness_of_a_known_sequence() -> None:
    values, unheld = staleness_samples(ARRIVALS, TIMES, ["A"])
    # t=0 and t=10: nothing held yet; then t - newest ts held
    assert unheld == 2
    assert [v // MS for v in values] == [10, 20, 30, 20, 30, 10, 20, 30]


def test_a_symbol_never_received_is_all_unheld() -> None:
    values, unheld = staleness_samples(ARRIVALS, TIMES, ["A", "B"])
    assert len(values) == 8 and unheld == 2 + 10


def test_floor_is_the_feeds_own_spacing() -> None:
    floor = floor_samples({"A": [a.ts for a in ARRIVALS]}, TIMES)
    assert [v // MS for v in floor] == [0, 0, 0, 10, 20, 0, 10, 20, 30]


def test_report_summaries_and_delivered_fraction() -> None:
    reliable = TickerLog(list(ARRIVALS))
    lossy = TickerLog([a for a in ARRIVALS if a.event_id != "0-3"])
    report = staleness_report({"tcp": [reliable], "udp": [lossy]}, 0, 100 * MS)
    assert report["published"] == 4
    tcp, udp = report["tcp"], report["udp"]
    assert isinstance(tcp, dict) and isinstance(udp, dict)
    assert tcp["delivered_fraction"] == 1.0
    assert udp["delivered_fraction"] == 0.75
    s = tcp["staleness"]
    # sorted samples 10,10,20,20,20,30,30,30 ms: nearest-rank p50 = 20, p99 = max = 30
    assert (s["n"], s["p50_ms"], s["p99_ms"], s["max_ms"]) == (8, 20.0, 30.0, 30.0)
    # without the ticker stamped 30 the client holds 10 until 45 ms, then 20 until 70 ms:
    # samples 10,20,30,30,40,10,20,30 ms
    u = udp["staleness"]
    assert (u["n"], u["p50_ms"], u["p99_ms"], u["max_ms"]) == (8, 20.0, 40.0, 40.0)
    assert tcp["unheld_samples"] == 2 and udp["unheld_samples"] == 2
    floor = report["floor"]
    assert isinstance(floor, dict) and floor["max_ms"] == 30.0
    # beyond the floor: samples 10,20,20,0,30,0,0,0 ms (see the test below)
    assert (tcp["excess"]["n"], tcp["excess"]["max_ms"], tcp["excess"]["p50_ms"]) == (8, 30.0, 0.0)


def test_excess_is_staleness_minus_floor_sample_by_sample() -> None:
    published = {"A": [a.ts for a in ARRIVALS]}
    excess = excess_samples(ARRIVALS, TIMES, published)
    values, _ = staleness_samples(ARRIVALS, TIMES, ["A"])
    floor = floor_samples(published, TIMES)[1:]  # t=10 has a floor but no held ticker
    # t=60: holds 30 while 60 is out; t=70 on: holds the newest
    assert excess == [v - f for v, f in zip(values, floor, strict=True)]
    assert [v // MS for v in excess] == [10, 20, 20, 0, 30, 0, 0, 0]


def test_window_excludes_tickers_stamped_outside_it() -> None:
    log = TickerLog(list(ARRIVALS))
    report = staleness_report({"tcp": [log]}, 25 * MS, 100 * MS)
    assert report["published"] == 2  # stamped 30 and 60
    assert delivered(ARRIVALS, {"0-3", "0-9"}) == 1


def test_parse_ticker_from_a_payload_and_a_wrapped_message() -> None:
    payload = orjson.dumps({"symbol": "BTC-USD", "bid": "1.00", "ts": 1234})
    assert parse_ticker(payload) == ("BTC-USD", 1234)
    msg = orjson.dumps({"type": "md.ticker", "id": "ab-7", "data": orjson.loads(payload)})
    assert parse_ticker(msg) == ("BTC-USD", 1234)
    assert parse_ticker(b'{"symbol":"X"}') is None


async def test_a_client_logs_every_ticker_it_receives() -> None:
    """Known SSE traffic: 6 tickers on 2 symbols among trades; the log has exactly them."""
    now = time.time_ns()
    events = []
    for i in range(12):
        name = "ticker" if i % 2 else "trade"
        sym = "A" if i % 4 < 2 else "B"
        data = orjson.dumps({"symbol": sym, "ts": now - (100 - i) * MS})
        events.append(b"id:e-%d\nevent:%s\ndata:%s\n\n" % (i, name.encode(), data))
    body = b"".join(events)
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )

    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(head + f"{len(body):x}\r\n".encode() + body + b"\r\n")
            await writer.drain()
            await reader.read()  # hold the stream open until the client goes
        except ConnectionError:
            pass
        finally:
            writer.close()
            done.set()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    meter = Meter()
    client = await open_client(f"http://127.0.0.1:{port}", "sse", meter)
    client.ticker_log = log = TickerLog()
    deadline = time.monotonic() + 10
    while meter.events < 12 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    client.abort()
    await asyncio.wait_for(done.wait(), 10)
    server.close()
    await server.wait_closed()
    assert [a.event_id for a in log.arrivals] == [f"e-{i}" for i in range(1, 12, 2)]
    assert [a.symbol for a in log.arrivals] == ["A", "B", "A", "B", "A", "B"]
    assert [a.ts for a in log.arrivals] == [now - (100 - i) * MS for i in range(1, 12, 2)]
    assert all(a.recv_ns >= now for a in log.arrivals)


def test_tickers_published_together_count_once_for_the_latest_fraction() -> None:
    """Two tickers of A stamped alike (one batch): a latest-value sender may send only the
    second; that counts as delivered in ``delivered_latest_fraction``, not in the other."""
    both = [
        TickerArrival(15 * MS, "A", 10 * MS, "0-1"),
        TickerArrival(15 * MS, "A", 10 * MS, "0-2"),
        TickerArrival(35 * MS, "A", 30 * MS, "0-3"),
    ]
    newest_only = [both[1], both[2]]
    report = staleness_report(
        {"ws": [TickerLog(both)], "rtc": [TickerLog(newest_only)]}, 0, 50 * MS
    )
    rtc = report["rtc"]
    assert isinstance(rtc, dict)
    assert rtc["delivered_fraction"] == round(2 / 3, 5)
    assert rtc["delivered_latest_fraction"] == 1.0
    # and the same staleness: the superseded ticker never was the newest
    ws = report["ws"]
    assert isinstance(ws, dict) and ws["staleness"] == rtc["staleness"]
