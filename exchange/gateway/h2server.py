"""``tickwire serve --http2``: the same app on hypercorn over TLS, HTTP/2 first (ALPN ``h2``,
then ``http/1.1``), with the same clean shutdown as the uvicorn server.

Exports: ``serve_h2`` (async), ``run_h2``, ``local_certificate``.

Why: a browser opens at most 6 HTTP/1.1 connections per origin, so a page with more than six
``EventSource`` streams stalls the seventh; over HTTP/2 every stream shares one connection
(docs/protocols.md, claim 2). Browsers speak HTTP/2 only over TLS: without ``--tls-cert`` and
``--tls-key`` a self-signed certificate for the bind address, ``localhost`` and
``127.0.0.1`` is made in ``<data dir>/tls/`` (kept and reused until it is within a day of
expiry) and its SHA-256 fingerprint printed.

What differs from uvicorn (docs/architecture.md): the market-data streams and WebSockets
are written through ASGI ``send`` (``exchange.gateway.writers`` finds no uvicorn transport),
and the connection limits of ``exchange.gateway.edge`` (per address, in total, header bytes
and time) are uvicorn's; here hypercorn's own limits apply (``h11_max_incomplete_size``,
``h2_max_concurrent_streams``, keep-alive timeout). The ``Host`` check, the direct
market-data routes and the WebSocket close with 1001 on shutdown are the same.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import ipaddress
import logging
import signal
from pathlib import Path
from typing import Any

from exchange.config import Settings

__all__ = ["local_certificate", "run_h2", "serve_h2"]

log = logging.getLogger("tickwire.h2")

#: A made certificate is valid this long, and made again within a day of its expiry.
CERT_DAYS = 30
#: HTTP/2 streams one connection may have open at once (8 market-data streams need 8).
H2_MAX_STREAMS = 100


def _names(host: str) -> list[str]:
    names = ["localhost", "127.0.0.1", "::1"]
    if host and host not in names and host not in ("0.0.0.0", "::"):
        names.append(host)
    return names


def _san(names: list[str]) -> Any:
    from cryptography import x509

    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def local_certificate(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path, str]:
    """A self-signed certificate and key (EC P-256) for local HTTPS in ``directory``:
    the one there when it still covers ``host`` for more than a day, else a new one.
    Returns ``(cert, key, sha256 fingerprint)``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    names = _names(host)
    now = dt.datetime.now(dt.UTC)
    if cert_path.exists() and key_path.exists():
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            covered = {str(v) for v in san.get_values_for_type(x509.IPAddress)}
            covered |= set(san.get_values_for_type(x509.DNSName))
            fresh = cert.not_valid_after_utc - now > dt.timedelta(days=1)
            if fresh and all(_normal(n) in covered for n in names):
                return cert_path, key_path, _fingerprint(cert_path.read_bytes())
        except ValueError:
            pass  # unreadable: made again below
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tickwire local")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERT_DAYS))
        .add_extension(_san(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path.write_bytes(pem)
    return cert_path, key_path, _fingerprint(pem)


def _normal(name: str) -> str:
    """An address as ``x509.IPAddress`` values print (``::1``), a name as it is."""
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name


def _fingerprint(pem: bytes) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def hypercorn_config(settings: Settings, cert: Path, key: Path) -> Any:
    from hypercorn.config import Config

    config = Config()
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    config.bind = [f"{host}:{settings.port}"]
    config.certfile, config.keyfile = str(cert), str(key)
    config.alpn_protocols = ["h2", "http/1.1"]
    config.h2_max_concurrent_streams = H2_MAX_STREAMS
    config.h11_max_incomplete_size = settings.max_header_bytes
    config.websocket_max_message_size = settings.max_frame_bytes
    config.websocket_ping_interval = settings.ping_interval_s or None
    config.graceful_timeout = 5.0
    config.accesslog = None
    config.errorlog = log  # one log format: the server's own (exchange.options.configure_logging)
    config.loglevel = settings.log_level.upper()
    return config


async def serve_h2(app: Any, settings: Settings, cert: Path, key: Path,
                   stop: asyncio.Event | None = None) -> None:  # fmt: skip
    """Serve ``app`` until SIGINT/SIGTERM (or ``stop``), then close like the uvicorn server:
    WebSockets with 1001, SSE streams ended, the journal made durable by the lifespan."""
    from hypercorn.asyncio import serve

    from exchange.gateway.server import ExposeTransport, close_connections

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    node = app.state.node

    async def shutdown_trigger() -> None:
        await stop.wait()
        await close_connections(node)

    config = hypercorn_config(settings, cert, key)
    await serve(ExposeTransport(app, native=False), config, shutdown_trigger=shutdown_trigger)


def run_h2(app: Any, settings: Settings, cert: Path, key: Path) -> None:
    """``serve_h2`` on a uvloop event loop (blocking)."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve_h2(app, settings, cert, key))
