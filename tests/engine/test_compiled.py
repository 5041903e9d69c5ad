"""The compiled engine (``exchange.compiled``): which form imports, and both forms agree.

Every check runs the real import machinery in a fresh interpreter: a process decides its
engine's form once, when ``exchange`` is first imported. Without a build (no C compiler, or
``make compiled`` not run) the same tests check the pure form's answers instead.
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from exchange import compiled

ROOT = Path(__file__).resolve().parents[2]
SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)

PROBE = """
import exchange.engine.book as book, shared.values as values
from exchange.compiled import engine_build
print(book.__file__)
print(values.__file__)
print(engine_build())
"""

# One seeded session of every command kind, malformed ones included (wrong Python types
# where client strings belong); prints a digest of every outcome, rendered payload, the
# snapshot and the state hash, so the two forms can be compared line for line.
SESSION = """
import hashlib, random
from exchange.compiled import engine_build
from exchange.engine import Engine
from exchange.engine.render import render_market, render_private
from exchange.engine.types import (
    BookDelta, CancelAll, CancelOrder, Candle, NewOrder, OpenAccount, ReplaceOrder,
    SetSymbolState, SymbolSpec, SymbolStatus, Tick, Ticker, Trade,
)

SPECS = [SymbolSpec("BTC-USD", 2, 4, 1, 1, 1), SymbolSpec("ETH-USD", 2, 2, 5, 1, 10)]
MARKET = (BookDelta, Trade, Ticker, Candle, SymbolStatus)
WRONG = [1, 2.5, None, True, ["x"], "", "1e3", "-1"]
rng = random.Random(15)
eng = Engine(SPECS, maker_fee_bps=1, taker_fee_bps=3, exec_history=500)
for name in "abc":
    eng.handle(OpenAccount(name, 10**12, (("BTC-USD", 10**8), ("ETH-USD", 10**6))))
digest = hashlib.sha256()
ts = 10**18
coids = []

def new_order(i, acct):
    sym = rng.choice(["BTC-USD", "ETH-USD"])
    otype = "limit" if rng.random() < 0.8 else "market"
    price = f"{rng.randint(1990, 2010) // 5 * 5 / 100 + 100:.2f}" if otype == "limit" else None
    qty = f"{rng.randint(1, 40) * 10 / 100:.2f}"
    tif = rng.choice([None, None, "gtc", "ioc", "fok"]) if otype == "limit" else "ioc"
    coids.append((acct, f"c{i}"))
    return NewOrder(acct, f"c{i}", sym, rng.choice(["buy", "sell"]), otype, qty, price, tif,
                    otype == "limit" and tif in (None, "gtc") and rng.random() < 0.1, ts)

def malformed(i, acct):
    kind = rng.randrange(3)
    if kind == 0:
        good = new_order(i, acct)
        field = rng.choice(["account", "client_order_id", "symbol", "side", "order_type",
                            "qty", "price", "tif", "post_only"])
        fields = {f: getattr(good, f) for f in good.__dataclass_fields__}
        return NewOrder(**{**fields, field: rng.choice(WRONG)})
    if kind == 1:
        return CancelOrder(acct, rng.choice(WRONG), rng.choice(WRONG), ts)
    return ReplaceOrder(acct, rng.choice(WRONG), rng.choice(WRONG), rng.choice(WRONG),
                        rng.choice(WRONG), ts)

for i in range(4000):
    ts += rng.randint(0, 2 * 10**9)  # crosses candle intervals
    acct = rng.choice("abc")
    r = rng.random()
    if r < 0.55 or not coids:
        cmd = new_order(i, acct)
    elif r < 0.7:
        owner, coid = rng.choice(coids)
        cmd = CancelOrder(owner, coid, None, ts)
    elif r < 0.8:
        owner, coid = rng.choice(coids)
        cmd = ReplaceOrder(owner, f"r{i}", coid, f"{rng.randint(19900, 20100) / 200:.2f}",
                           rng.choice([None, "0.30", "1.00"]), ts)
    elif r < 0.95:
        cmd = malformed(i, acct)
    elif r < 0.97:
        cmd = Tick(ts)
    elif r < 0.98:
        cmd = CancelAll(acct, rng.choice([None, "BTC-USD"]), "canceled", ts)
    else:
        cmd = SetSymbolState(rng.choice(["BTC-USD", "ETH-USD", 7]), rng.choice(["open", "halted", "open"]), ts)
    try:
        events = eng.handle(cmd)
    except Exception as exc:  # a bug either way, but it must be the same bug
        digest.update(f"raised {type(exc).__name__}".encode())
        continue
    for event in events:
        digest.update(repr(event).encode())
        rendered = render_market(event, eng) if isinstance(event, MARKET) else render_private(event, eng)
        digest.update(repr(rendered).encode())
snapshot = eng.to_snapshot()
print(digest.hexdigest())
print(hashlib.sha256(snapshot).hexdigest(), eng.state_hash())
print(Engine.from_snapshot(snapshot).state_hash())
print(engine_build().split()[0])
"""


def run(code: str, *, root: Path = ROOT, pure: bool = False) -> list[str]:
    """Run ``code`` in a fresh interpreter that imports ``exchange`` from ``root``."""
    env = {k: v for k, v in os.environ.items() if k != compiled.ENV_PURE}
    if pure:
        env[compiled.ENV_PURE] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def expected_default(root: Path = ROOT) -> str:
    problem = compiled.build_problem(root)
    return "compiled" if problem is None else f"pure ({problem})"


def copy_of_repo(dest: Path) -> Path:
    """The ``exchange`` and ``shared`` packages (compiled extensions and stamp included)."""
    for package in ("exchange", "shared"):
        shutil.copytree(
            ROOT / package, dest / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return dest


def test_pure_python_when_asked() -> None:
    book, values, build = run(PROBE, pure=True)
    assert book == str(ROOT / "exchange" / "engine" / "book.py")
    assert values == str(ROOT / "shared" / "values.py")
    assert build == "pure (TICKWIRE_PURE_PYTHON)"


def test_default_form_follows_the_build() -> None:
    book, values, build = run(PROBE)
    assert build == expected_default()
    if build == "compiled":
        assert book.endswith(SUFFIXES) and values.endswith(SUFFIXES)
        # mypyc names a grouped module's file after the group library's folder
        # (shared/exchange/engine/...): the extension itself is the shim beside book.py
        assert Path(book).name.startswith("book.")
        assert list((ROOT / "exchange" / "engine").glob(f"book.*{Path(book).suffix}"))
    else:
        assert book.endswith(".py") and values.endswith(".py")
    # the command-line form says the same, without runpy's "found in sys.modules" warning
    status = run("from exchange.compiled.__main__ import main; main(['status'])")
    assert status[0] == build


def test_python_m_status_runs_without_warnings() -> None:
    env = {k: v for k, v in os.environ.items() if k != compiled.ENV_PURE}
    done = subprocess.run(
        [sys.executable, "-W", "error", "-m", "exchange.compiled", "status"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and not done.stderr, done.stderr
    assert done.stdout.splitlines()[0] == expected_default()


def test_an_edited_source_makes_the_build_stale(tmp_path: Path) -> None:
    repo = copy_of_repo(tmp_path)
    # a stamp that matches these sources (what a build writes), built or not
    stamp = repo / "exchange" / ".compiled-stamp"
    stamp.write_text(json.dumps({"sources": compiled.source_hash(repo), "python": sys.version}))
    assert compiled.build_problem(repo) in (None, "not built")
    book = repo / "exchange" / "engine" / "book.py"
    if compiled.build_problem(repo) is None:  # the extension beside it must be passed over
        assert any(p.name.endswith(SUFFIXES) for p in book.parent.glob("book.*"))
    book.write_text(book.read_text() + "\n# edited after the build\n")
    assert compiled.build_problem(repo) == "stale build"
    lines = run(PROBE, root=repo)
    assert lines == [str(book), str(repo / "shared" / "values.py"), "pure (stale build)"]


def test_a_fresh_build_is_used_from_a_copy(tmp_path: Path) -> None:
    """The stamp check is about the sources beside the extensions, wherever they are."""
    repo = copy_of_repo(tmp_path)
    lines = run(PROBE, root=repo)
    assert lines[2] == expected_default(repo) == expected_default(ROOT)
    assert lines[0].startswith(str(repo))


def test_a_stamp_from_another_python_is_stale(tmp_path: Path) -> None:
    repo = copy_of_repo(tmp_path)
    stamp = repo / "exchange" / ".compiled-stamp"
    stamp.write_text(json.dumps({"sources": compiled.source_hash(repo), "python": "2.7.18"}))
    assert run(PROBE, root=repo)[2] == "pure (stale build)"


def test_both_forms_give_the_same_events_and_state() -> None:
    pure = run(SESSION, pure=True)
    default = run(SESSION)
    assert pure[-1] == "pure" and default[-1] == expected_default().split()[0]
    assert pure[:-1] == default[:-1]
    state_hash = pure[1].split()[1]
    assert pure[2] == state_hash  # the snapshot restores the same state


def test_this_process_reports_what_it_imported() -> None:
    import exchange.engine.book

    build = compiled.engine_build()
    assert build.startswith(("compiled", "pure ("))
    assert (build == "compiled") == exchange.engine.book.__file__.endswith(SUFFIXES)
    if os.environ.get(compiled.ENV_PURE) == "1":
        assert build == "pure (TICKWIRE_PURE_PYTHON)"
