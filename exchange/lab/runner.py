"""``tickwire lab``: start a server per network condition, run the probe, write the results.

Exports: ``LabOptions``, ``add_arguments``, ``run``, ``run_lab``, ``start_server``,
``transports_for``, ``CONDITIONS``.

For each condition the lab starts a fresh ``tickwire serve`` (synthetic feed at ``--rate``
events/s, simulator off, throwaway data directory), then runs
``python -m exchange.lab.probe`` (neither is pinned: on a shared machine a pinned core may be
another program's; the probe reports the server's CPU wait instead). On loopback both run here; under an
emulated link the server runs in the lab's server namespace and the probe in its client
namespace (``exchange.lab.netns``). Results go to ``<out>/lab.json`` and PNG plots.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from exchange.options import answers_health

__all__ = [
    "CONDITIONS",
    "QUIET_LOAD",
    "LabOptions",
    "add_arguments",
    "busy_reason",
    "run",
    "run_lab",
    "start_server",
    "transports_for",
]

REPO = Path(__file__).resolve().parents[2]

#: name -> (delay ms, jitter ms, loss %) of the emulated link; ``clean`` is plain loopback.
CONDITIONS: dict[str, tuple[float, float, float]] = {
    "clean": (0.0, 0.0, 0.0),
    "link": (0.0, 0.0, 0.0),  # the emulated link with no impairment: its own cost
    "delay": (20.0, 5.0, 0.0),
    "loss1": (0.0, 0.0, 1.0),
    "loss5": (0.0, 0.0, 5.0),
    # a long-distance link that loses packets: retransmissions cost a 20 ms round trip or more
    "wan5": (20.0, 5.0, 5.0),
}
_NET_CHOICES = {
    "clean": ("clean",),
    "link": ("link",),
    "delay": ("delay",),
    "loss": ("loss1", "loss5"),
    "loss1": ("loss1",),
    "loss5": ("loss5",),
    "wan5": ("wan5",),
    "all": ("clean", "link", "delay", "loss1", "loss5"),
}


#: The 1-minute load average above which the machine counts as busy: the lab then refuses to
#: measure (its figures would measure the other work too) unless ``--force`` is given, and a
#: forced run's report says ``busy``. The project's rule for published figures (README).
QUIET_LOAD = 1.5


def busy_reason(load: float, limit: float = QUIET_LOAD) -> str:
    """Why the machine is too busy to measure on (``""``: it is quiet enough)."""
    if load <= limit:
        return ""
    return f"load average {load:.2f} > {limit:g} when the lab started: other work shared the CPUs"


@dataclass
class LabOptions:
    clients: int = 10
    rate: float = 200.0
    duration: float = 5.0
    net: str = "clean"
    out: Path = Path("lab-out")
    url: str | None = None
    server_pid: int = 0
    outage: float = 0.25
    connects: int = 5
    plots: bool = True
    notes: list[str] = field(default_factory=list)
    #: comma-separated race transports; "" = ws,sse,poll, plus rtc when aiortc is importable
    transports: str = ""
    #: the port of the server the lab starts (0: a free one; emulated links use 8000 when 0)
    port: int = 0
    #: why the figures were taken on a busy machine (``--force``); "" for a quiet one
    busy: str = ""


def transports_for(opts: LabOptions) -> tuple[str, ...]:
    """The race transports of a run (``--transports``, or the default)."""
    if opts.transports:
        chosen = tuple(t.strip() for t in opts.transports.split(",") if t.strip())
        unknown = [t for t in chosen if t not in ("ws", "sse", "poll", "rtc")]
        if unknown or not chosen:
            raise ValueError(f"--transports takes ws, sse, poll, rtc; not {unknown}")
        return chosen
    from exchange.lab.rtcwire import rtc_importable

    return ("ws", "sse", "poll", "rtc") if rtc_importable() else ("ws", "sse", "poll")


def _net(value: str) -> str:
    """``--net``: one or more of the choices, comma-separated."""
    bad = [n for n in value.split(",") if n not in _NET_CHOICES]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown --net {bad}; choose from {sorted(_NET_CHOICES)}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``tickwire lab`` options (the CLI registers the sub-command with this)."""
    p.add_argument("--clients", type=int, default=10, help="clients per transport (default 10)")
    p.add_argument("--rate", type=float, default=200.0, help="feed events per second (200)")
    p.add_argument("--duration", type=float, default=5.0, help="seconds per measurement (5)")
    p.add_argument("--net", type=_net, default="clean",
                   help="network conditions: clean loopback, link, delay, loss (1%% and 5%%), "
                        "loss1, loss5, wan5 (20 ms and 5 %%) or all; several comma-separated")  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("lab-out"), help="output directory")
    p.add_argument("--url", help="measure this running server instead of starting one")
    p.add_argument("--port", type=int, default=0,
                   help="port of the server the lab starts (default: a free one)")  # fmt: skip
    p.add_argument("--server-pid", type=int, default=0,
                   help="with --url: the server's pid, for CPU and memory figures")  # fmt: skip
    p.add_argument("--outage", type=float, default=0.25,
                   help="seconds a dropped client stays away before it reconnects")  # fmt: skip
    p.add_argument("--connects", type=int, default=5,
                   help="connections timed for time-to-first-event (default 5)")  # fmt: skip
    p.add_argument("--transports", default="",
                   help="race transports, comma-separated, from ws,sse,poll,rtc "
                        "(default: all four when aiortc is installed)")  # fmt: skip
    p.add_argument("--no-plots", dest="plots", action="store_false",
                   help="write the tables only, no PNG plots (default: plots too)")  # fmt: skip
    p.add_argument("--force", action="store_true",
                   help=f"measure even when the load average is above {QUIET_LOAD:g} "
                        "(the report is then marked busy)")  # fmt: skip
    p.set_defaults(func=run)


@contextlib.contextmanager
def start_server(
    host: str,
    port: int,
    rate: float,
    prefix: Sequence[str] = (),
    ready_url: str | None = None,
    extra: Sequence[str] = (),
    verify: Any = None,
    data: str | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """A ``tickwire serve`` child with the synthetic feed at ``rate``; stopped on exit.
    ``prefix`` runs it elsewhere (``ip netns exec NS``); then it is not polled for health
    from here (the probe waits for it from its own namespace); otherwise ``ready_url`` (None:
    ``host:port``) is polled until it answers (``verify``: its TLS trust, as httpx takes it).
    ``extra``: more ``serve`` options (``--http2``, ``--tls-cert``...); ``data``: the data
    directory (None: a fresh one, removed after)."""
    data = data or tempfile.mkdtemp(prefix="tickwire-lab-")
    env = dict(os.environ, TICKWIRE_MD_SYNTHETIC_RATE=str(rate), PYTHONPATH=str(REPO))
    # every lab client comes from one address: the server's per-address WebRTC limits
    # (made for the public) would refuse the lab's own clients
    env.update(TICKWIRE_RTC_MAX_PEERS_PER_IP="0", TICKWIRE_RTC_OFFER_RATE="0",
               TICKWIRE_MAX_CONNECTIONS_PER_IP="0")  # fmt: skip
    # the sse-br lane: brotli is off by default (its memory per connection, docs/protocols.md)
    env.update(TICKWIRE_SSE_ENCODINGS="gzip,br")
    # the lab may bind a network namespace's address: its demo login is meant
    env.update(TICKWIRE_ALLOW_DEMO_LOGIN_REMOTE="1")
    cmd = [*prefix, sys.executable, "-m", "exchange.cli", "serve", "--host", host,
           "--port", str(port), "--data-dir", data, "--sim-rate", "0", "--fsync", "off",
           "--log-level", "warning", *extra]  # fmt: skip
    log = open(Path(data) / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=log, stderr=log)
    url = ready_url or f"http://{host}:{port}"
    try:
        deadline = time.monotonic() + 90  # a loaded machine imports slowly
        while not prefix and not answers_health(url, verify=verify):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (Path(data) / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the lab server did not start:\n{tail}")
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        log.close()
        with contextlib.suppress(OSError):
            import shutil

            shutil.rmtree(data)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _probe(
    opts: LabOptions, url: str, pid: int, prefix: Sequence[str], say: Callable[[str], None]
) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="twlab-probe-") as tmp:
        result_file = Path(tmp) / "result.json"
        cmd = [*prefix, sys.executable, "-m", "exchange.lab.probe", "--url", url,
               "--server-pid", str(pid), "--clients", str(opts.clients),
               "--rate", str(opts.rate), "--duration", str(opts.duration),
               "--outage", str(opts.outage), "--connects", str(opts.connects),
               "--transports", ",".join(transports_for(opts)),
               "--result-file", str(result_file)]  # fmt: skip
        env = dict(os.environ, PYTHONPATH=str(REPO))
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:  # progress lines only; the result comes in a file
                with contextlib.suppress(orjson.JSONDecodeError):
                    msg = orjson.loads(line)
                    if isinstance(msg, dict) and "progress" in msg:
                        say(str(msg["progress"]))
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if proc.returncode != 0 or not result_file.exists():
            raise RuntimeError(f"the lab probe failed (exit {proc.returncode})")
        result = orjson.loads(result_file.read_bytes())
    if not isinstance(result, dict):
        raise RuntimeError("the lab probe wrote a result that is not an object")
    return result


def _run_condition(opts: LabOptions, name: str, say: Callable[[str], None]) -> dict[str, object]:
    delay, jitter, loss = CONDITIONS[name]
    if opts.url:
        return _probe(opts, opts.url, opts.server_pid, (), say)
    if name == "clean":
        port = opts.port or _free_port()
        with start_server("127.0.0.1", port, opts.rate) as proc:
            return _probe(opts, f"http://127.0.0.1:{port}", proc.pid, (), say)
    from exchange.lab.netns import emulated_link

    with emulated_link(delay_ms=delay, jitter_ms=jitter, loss_pct=loss) as link:
        port = opts.port or 8000
        url = f"http://{link.server_addr}:{port}"
        with start_server(link.server_addr, port, opts.rate, link.server_prefix) as proc:
            result = _probe(opts, url, proc.pid, link.client_prefix, say)
        result["link"] = link.describe()
        return result


def conditions_for(opts: LabOptions) -> tuple[list[str], list[str]]:
    """(conditions to run, notes on those skipped and why)."""
    wanted = list(dict.fromkeys(c for n in opts.net.split(",") for c in _NET_CHOICES[n]))
    notes: list[str] = []
    if opts.url:
        if wanted != ["clean"]:
            notes.append("--url: the lab measures that server as it is; conditions need its own")
        return ["clean"], notes
    if any(c != "clean" for c in wanted) and os.geteuid() != 0:
        notes.append("not root: emulated links need network namespaces; ran the clean case only")
        wanted = ["clean"]
    return wanted, notes


def run_lab(opts: LabOptions, say: Callable[[str, str], None] | None = None) -> dict[str, object]:
    """Run every condition and return the figures (also written to ``<out>/lab.json``)."""
    from exchange.lab.report import environment

    names, notes = conditions_for(opts)
    report: dict[str, object] = {
        "command": "tickwire lab " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["lab"] else "",
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(opts).items()},
        "environment": environment(),
        "notes": [*notes, *([f"BUSY MACHINE: {opts.busy}"] if opts.busy else [])],
        "busy": opts.busy,
        "conditions": {},
    }
    conds: dict[str, dict[str, object]] = {}
    for name in names:

        def phase_done(phase: str, cond: str = name) -> None:
            if say is not None:
                say(cond, phase)

        result = _run_condition(opts, name, phase_done)
        delay, jitter, loss = CONDITIONS[name]
        result["condition"] = {"delay_ms": delay, "jitter_ms": jitter, "loss_pct": loss}
        conds[name] = result
        report["conditions"] = conds
        # written after every condition, so a run that fails later keeps what it measured
        opts.out.mkdir(parents=True, exist_ok=True)
        (opts.out / "lab.json").write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    report["conditions"] = conds
    report["loadavg_at_end"] = Path("/proc/loadavg").read_text().strip()
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "lab.json").write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    if opts.plots:
        from exchange.lab.plots import write_plots

        report["plots"] = [str(p) for p in write_plots(report, opts.out)]
        (opts.out / "lab.json").write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    return report


def run(args: argparse.Namespace) -> int:
    """The ``tickwire lab`` command: progress bar while it runs, then the table."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from exchange.lab.probe import phase_count
    from exchange.lab.report import render_table

    busy = busy_reason(os.getloadavg()[0])
    if busy and not args.force:
        print(f"tickwire lab: not measuring: {busy}; wait for a quiet machine, or --force to "
              "measure anyway (the report is then marked busy)", file=sys.stderr)  # fmt: skip
        return 2
    opts = LabOptions(
        clients=args.clients, rate=args.rate, duration=args.duration, net=args.net,
        out=args.out, url=args.url, server_pid=args.server_pid, outage=args.outage,
        connects=args.connects, plots=args.plots, transports=args.transports,
        port=args.port, busy=busy,
    )  # fmt: skip
    console = Console(width=max(150, Console().width))

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # unwinds every context manager: server, namespaces

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    names, _notes = conditions_for(opts)
    phases = phase_count(transports_for(opts))
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("starting", total=len(names) * phases)

        def say(cond: str, phase: str) -> None:
            bar.update(task, advance=1, description=f"{cond}: {phase}")

        report = run_lab(opts, say)
        bar.update(task, completed=len(names) * phases, description="done")
    render_table(report, console)
    console.print(f"figures: {opts.out / 'lab.json'}")
    for p in report.get("plots", []):  # type: ignore[attr-defined]
        console.print(f"plot: {p}")
    return 0
