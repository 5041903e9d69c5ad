"""The tickwire app on hypercorn over TLS with HTTP/2 (ALPN ``h2``, then ``http/1.1``), for
the lab's browser demonstration that HTTP/2 lifts the per-origin connection cap on SSE.

Exports: ``make_cert``, ``main`` (``python -m exchange.lab.h2serve --port P --cert C --key K
--data-dir D``; ``TICKWIRE_*`` variables apply, e.g. ``TICKWIRE_MD_SYNTHETIC_RATE``).

The certificate is self-signed for ``127.0.0.1``/``localhost``, made at run time with
``openssl`` (``make_cert``); the browser is told to accept it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
from pathlib import Path

__all__ = ["main", "make_cert"]


def make_cert(directory: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate and key (EC P-256, one day) in ``directory``."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert),
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def main(argv: list[str] | None = None) -> int:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from exchange.config import from_env
    from exchange.gateway.app import create_app

    p = argparse.ArgumentParser(description="tickwire over HTTP/2 + TLS on hypercorn")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert", type=Path, required=True)
    p.add_argument("--key", type=Path, required=True)
    p.add_argument("--data-dir", type=Path, required=True)
    a = p.parse_args(argv)
    settings = from_env().replace(
        host="127.0.0.1", port=a.port, data_dir=a.data_dir, sim_rate=0.0, fsync="off",
        log_level="warning",
    )  # fmt: skip
    app = create_app(settings)
    config = Config()
    config.bind = [f"127.0.0.1:{a.port}"]
    config.certfile, config.keyfile = str(a.cert), str(a.key)
    config.alpn_protocols = ["h2", "http/1.1"]
    config.loglevel = "WARNING"
    config.h2_max_concurrent_streams = 100

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
