"""Server settings: one frozen dataclass, filled from defaults, ``TICKWIRE_*`` environment
variables and command-line options (in that order of precedence, last wins).

Exports: ``Settings``, ``from_env``, ``is_loopback``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SSE_ENCODINGS", "TRANSPORTS", "ConfigError", "Settings", "from_env", "is_loopback"]

#: Market-data transports a server can offer; ``Settings.transports`` switches them off one by one
#: (``rtc``: WebRTC data channels, ``POST /rtc/offer``; ``rtc_max_peers=0`` switches it off too).
TRANSPORTS = ("ws", "sse", "poll", "rtc")
#: Content codings ``/md/stream`` can be compressed with (``Settings.sse_encodings``).
SSE_ENCODINGS = ("gzip", "br")


_ICE_SCHEMES = ("stun", "turn", "turns")


class ConfigError(ValueError):
    """A setting has a value the server cannot run with; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data")
    #: Symbols traded (names from the simulator's defaults); empty means all defaults.
    symbols: tuple[str, ...] = ()
    seed: int = 7
    #: Simulator steps per second (each step: every agent may act); 0 switches it off.
    sim_rate: float = 10.0
    fsync: str = "batch"  # always | batch | off
    #: Group-commit window for fsync=batch, in milliseconds.
    batch_window_ms: float = 2.0
    snapshot_every: int = 50_000  # commands between engine snapshots
    #: Write snapshots from a forked copy-on-write child (POSIX), so the event loop never
    #: waits for the state to be serialized; False writes them inline (blocking).
    snapshot_fork: bool = True
    #: Market data once per batch (a group commit, or an event-loop turn without one):
    #: one book delta per symbol for all the commands of the batch. False: per command.
    market_batches: bool = True
    allowed_origins: tuple[str, ...] = ()  # empty: same host only (plus no Origin at all)
    #: Names the server answers to in ``Host`` (any port; ``*``: any). Empty: the bind
    #: address, ``localhost``, ``127.0.0.1`` and ``::1``. Anything else is 400 (DNS rebinding).
    allowed_hosts: tuple[str, ...] = ()
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: Serve on hypercorn over TLS with HTTP/2 (``exchange.gateway.h2server``); without
    #: ``tls_cert``/``tls_key`` a self-signed certificate is made in ``<data_dir>/tls/``.
    http2: bool = False
    log_level: str = "info"
    #: Demo login: anyone may log in as any account (an unknown one is opened with the demo
    #: balances). Off: only accounts from the config, with their secret.
    demo_login: bool = True
    #: Demo login on a non-loopback ``host`` only with this opt-in (the server refuses to start).
    allow_demo_login_remote: bool = False
    #: Fault drills (docs/drills.md): a connection may ask the server to fault *itself*
    #: (``drill`` op: withhold its own acks). Off by default; refused without demo login,
    #: so a server with real accounts never has it.
    drills: bool = False
    token_ttl_s: int = 12 * 3600
    transports: tuple[str, ...] = TRANSPORTS
    #: Execution-stream messages kept per account for ``executions.resume``.
    exec_history: int = 100_000
    maker_fee_bps: int = 1
    taker_fee_bps: int = 5
    #: Starting balances of a demo account (cash in the quote currency, and each symbol).
    demo_cash: str = "1000000"
    demo_position: str = "100"
    # order-entry protection
    max_frame_bytes: int = 16 * 1024
    conn_rate: float = 50.0  # messages per second per connection (token bucket refill)
    conn_burst: float = 100.0
    account_rate: float = 100.0  # order ops per second per account
    account_burst: float = 200.0
    #: Messages an order connection's outbox may queue for a socket that does not drain
    #: before it is closed with 1008 (the client resumes with ``executions.resume``).
    outbox_limit: int = 10_000
    #: Messages over the *connection's* limit in a row before the socket is closed (refusals
    #: by the account's or the address's limit do not count: the socket kept its own rate).
    abuse_limit: int = 200
    #: Order ops per second from one client address, over all its accounts, sockets and
    #: REST (token bucket refill); 0: no such limit.
    ip_order_rate: float = 200.0
    ip_order_burst: float = 400.0
    #: New accounts per second one client address may open by logging in (token bucket
    #: refill; 429 beyond); 0: no such limit.
    account_create_rate: float = 1.0
    account_create_burst: float = 30.0
    ping_interval_s: float = 20.0
    ping_timeout_s: float = 20.0
    # connection limits, at the uvicorn edge (exchange.gateway.edge); 0 switches one off
    #: Bytes of a request head (request line and headers) before 431 and a close.
    max_header_bytes: int = 64 * 1024
    #: Header lines in a request head before 431 and a close.
    max_header_count: int = 100
    #: Seconds from connect (or from the first byte of a keep-alive request) to a complete
    #: request head; 408 and a close beyond.
    header_timeout_s: float = 10.0
    #: Open connections from one client address (HTTP and WebSocket; 503 at connect beyond).
    #: Behind a proxy every client shares the proxy's address: raise it or set 0 there.
    max_connections_per_ip: int = 256
    #: Open connections in total (503 at connect beyond).
    max_connections: int = 20_000
    #: Seconds a ``/ws/md`` socket may stay without a subscription before it is closed (1008).
    md_idle_timeout_s: float = 30.0
    # market data
    history_size: int = 200_000
    history_age_s: float = 3600.0
    sse_heartbeat_s: float = 15.0
    sse_retry_ms: int = 1000
    #: Content codings ``/md/stream`` may use when the client's ``Accept-Encoding`` takes one,
    #: in the server's order of preference (``exchange.gateway.content_coding``); empty: never
    #: compressed. A client declines with ``?compress=0``. ``br`` is opt-in: a brotli stream
    #: holds ~0.7 MiB per connection against gzip's ~40 KiB (docs/protocols.md).
    sse_encodings: tuple[str, ...] = ("gzip",)
    subscriber_buffer: int = 4096
    #: Unsent bytes on a market-data connection at which the hub stops writing to it (the
    #: subscriber lags, read from history once the socket drains) and ...
    subscriber_high_water: int = 64 * 1024
    #: ... seconds a lagging subscriber's socket may stay that full before it is dropped.
    subscriber_stall_s: float = 30.0
    #: Events per long-poll answer (a deeper backlog comes in pages: poll again at once).
    poll_page_events: int = 1000
    poll_max_timeout_s: float = 30.0
    stale_after_s: float = 5.0
    #: Benchmarks only: synthetic market-data events per second published straight into the
    #: hub (not through the engine or the journal); 0 (the default) switches it off.
    md_synthetic_rate: float = 0.0
    # WebRTC market data (exchange.gateway.rtc)
    #: Open peer connections allowed at once (``POST /rtc/offer`` answers 503 beyond); 0: off.
    rtc_max_peers: int = 200
    #: Of those, open (or still negotiating) peers from one client address; 0: no such cap.
    rtc_max_peers_per_ip: int = 16
    #: Offers per second per client address (token bucket refill; 429 beyond); 0: no limit.
    rtc_offer_rate: float = 5.0
    rtc_offer_burst: float = 30.0
    #: STUN/TURN servers for real networks: ``stun:HOST:PORT``,
    #: ``turn:USER:PASS@HOST:PORT[?transport=tcp]``; none needed on loopback or a LAN.
    rtc_ice_servers: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = []
        if self.fsync not in ("always", "batch", "off"):
            problems.append(f"fsync must be always, batch or off, not {self.fsync!r}")
        bad = [t for t in self.transports if t not in TRANSPORTS]
        if bad:
            problems.append(f"unknown transports {bad}; choose from {TRANSPORTS}")
        bad = [c for c in self.sse_encodings if c not in SSE_ENCODINGS]
        if bad:
            problems.append(f"unknown sse_encodings {bad}; choose from {SSE_ENCODINGS}")
        if not 0 <= self.port <= 65535:
            problems.append(f"port {self.port} out of range")
        if self.sim_rate < 0:
            problems.append("sim_rate must be >= 0")
        if self.demo_login and not self.allow_demo_login_remote and not is_loopback(self.host):
            problems.append(
                f"demo login (anyone may log in as any account) on {self.host!r}, which is "
                "not a loopback address: pass --no-demo-login, or --allow-demo-login-remote "
                "(TICKWIRE_ALLOW_DEMO_LOGIN_REMOTE=1) if that is really meant"
            )
        if self.drills and not self.demo_login:
            problems.append(
                "drills (server-side fault hooks) are for demo servers only: they need demo login"
            )
        if (self.tls_cert is None) != (self.tls_key is None):
            problems.append("TLS needs both a certificate and a key")
        for name in ("conn_rate", "conn_burst", "account_rate", "account_burst", "max_frame_bytes"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be positive")
        for name in ("subscriber_high_water", "subscriber_stall_s", "poll_page_events"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be positive")
        for name in (
            "rtc_max_peers", "rtc_max_peers_per_ip", "rtc_offer_rate", "max_header_bytes",
            "max_header_count", "header_timeout_s", "max_connections_per_ip", "max_connections",
            "md_idle_timeout_s", "ip_order_rate", "account_create_rate",
        ):  # fmt: skip
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0")
        for name in ("ip_order_burst", "account_create_burst"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1")
        if self.rtc_offer_burst < 1:
            problems.append("rtc_offer_burst must be >= 1")
        bad_ice = [u for u in self.rtc_ice_servers if u.split(":", 1)[0] not in _ICE_SCHEMES]
        if bad_ice:
            problems.append(f"rtc_ice_servers must be stun:, turn: or turns: URLs, not {bad_ice}")
        if problems:
            raise ConfigError("; ".join(problems))

    def host_names(self) -> frozenset[str] | None:
        """The ``Host`` names allowed (lower case, no port), or None when any is."""
        if "*" in self.allowed_hosts:
            return None
        names = self.allowed_hosts or (self.host, "localhost", "127.0.0.1", "::1")
        return frozenset(n.strip("[]").rstrip(".").lower() for n in names)

    def replace(self, **changes: object) -> Settings:
        """A copy with ``changes`` applied (unknown names raise ``TypeError``)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (``127.0.0.0/8``, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_ENV_PREFIX = "TICKWIRE_"


def _coerce(value: str, target: object) -> object:
    if isinstance(target, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(target, int):
        return int(value)
    if isinstance(target, float):
        return float(value)
    if isinstance(target, tuple):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(target, Path) or target is None:
        return Path(value)
    return value


def from_env(base: Settings | None = None, environ: dict[str, str] | None = None) -> Settings:
    """``base`` (default: ``Settings()``) overridden by ``TICKWIRE_<FIELD>`` variables."""
    base = base or Settings()
    env = os.environ if environ is None else environ
    changes: dict[str, object] = {}
    for f in dataclasses.fields(Settings):
        raw = env.get(_ENV_PREFIX + f.name.upper())
        if raw is not None and f.name != "extra":
            try:
                changes[f.name] = _coerce(raw, getattr(base, f.name))
            except ValueError as exc:
                raise ConfigError(f"{_ENV_PREFIX}{f.name.upper()}={raw!r}: {exc}") from exc
    return base.replace(**changes) if changes else base
