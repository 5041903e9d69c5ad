"""The compiled engine: parts of ``exchange.engine`` and ``shared.values`` built with mypyc.

Exports: ``MODULES``, ``STAMP``, ``build``, ``clean``, ``install``, ``build_problem``,
``engine_build`` (and ``hashed_files``, ``source_hash`` for tests).

``build()`` (``python -m exchange.compiled build``, run by ``make setup``) compiles ``MODULES``
into extension modules beside their ``.py`` files and then writes ``STAMP``: a hash of the
sources, the Python version and the mypy version. The ``.py`` files stay the fallback.

``install()`` (called by ``exchange/__init__.py``, before anything imports the engine) decides
once per process which form is imported. The compiled one is used only when ``STAMP`` matches
the sources on disk (``MODULES`` and the engine modules they import: ``hashed_files``);
otherwise (``TICKWIRE_PURE_PYTHON=1``, never built, a source edited after the build) a
``sys.meta_path`` finder makes every module of ``MODULES`` load from its ``.py`` source, so
stale native code never runs old logic. ``shared.values`` imported before
``exchange`` (a program that imports ``shared`` first) is loaded by the normal import system,
compiled or not, before the finder exists; ``engine_build()`` then says so.

This module imports nothing heavy: it runs in every process that imports ``exchange``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

__all__ = [
    "MODULES",
    "STAMP",
    "build",
    "build_problem",
    "clean",
    "engine_build",
    "install",
]

#: The directory that holds the ``exchange`` and ``shared`` packages (the repository root).
ROOT = Path(__file__).resolve().parents[2]

#: The source files compiled, relative to ``ROOT``: every ``exchange/engine/*.py`` but
#: ``__init__.py`` and ``types.py``, and ``shared/values.py``. ``types.py`` (the commands)
#: stays interpreted: mypyc makes dataclasses native classes that check each field's declared
#: type when built, so a command carrying a wrong-typed client value (``qty=1``) would raise
#: ``TypeError`` instead of reaching validation and becoming a BAD_REQUEST reject. The events
#: (``events.py``), which only the engine builds, are native. For the same reason the
#: command handlers take commands as ``validation.Raw`` (``Any``): compiled code checks a
#: declared type on every attribute read. ``Engine`` and its bases (``core``, ``queries``,
#: ``replace``) compile together: a native class cannot have an interpreted subclass.
MODULES: tuple[str, ...] = (
    "exchange/engine/accounts.py",
    "exchange/engine/book.py",
    "exchange/engine/core.py",
    "exchange/engine/engine.py",
    "exchange/engine/errors.py",
    "exchange/engine/events.py",
    "exchange/engine/marketdata.py",
    "exchange/engine/orders.py",
    "exchange/engine/queries.py",
    "exchange/engine/render.py",
    "exchange/engine/replace.py",
    "exchange/engine/snapshot.py",
    "exchange/engine/stops.py",
    "exchange/engine/validation.py",
    "shared/values.py",
)

#: Written by a successful ``build()``; the compiled form is used only while it matches.
STAMP = ROOT / "exchange" / ".compiled-stamp"
#: The shared library mypyc puts the code of every module in (each module's own extension
#: is a shim that loads it). It lives in ``shared`` so that a compiled ``shared.values``
#: imports nothing of ``exchange``; ``shared`` never imports the engine, so there is no cycle.
GROUP = "shared._compiled"
#: mypyc's C sources, object files and the build log.
BUILD_DIR = ROOT / "build" / "mypyc"
#: Changing these rebuilds (they are part of the source hash).
OPT_LEVEL = "3"

ENV_PURE = "TICKWIRE_PURE_PYTHON"

_decision: str | None = None  # after install(): "" for compiled, else why pure
_installed = False
_answer: str | None = None  # engine_build()'s


def module_name(path: str) -> str:
    """``exchange/engine/book.py`` -> ``exchange.engine.book``."""
    return path.removesuffix(".py").replace("/", ".")


def hashed_files(root: Path = ROOT) -> list[str]:
    """What the stamp covers: ``MODULES`` and what mypyc saw of their imports (every engine
    module, ``shared/errors.py``), since compiled code may rely on their types and constants."""
    engine = [p.relative_to(root).as_posix() for p in (root / "exchange" / "engine").glob("*.py")]
    return sorted({*MODULES, *engine, "shared/errors.py"})


def source_hash(root: Path = ROOT) -> str:
    """SHA-256 over ``hashed_files`` under ``root``, the module list and the build options."""
    options = f"mypyc opt_level={OPT_LEVEL} group={GROUP} modules={','.join(MODULES)}\0"
    digest = hashlib.sha256(options.encode())
    for path in hashed_files(root):
        digest.update(path.encode() + b"\0" + (root / path).read_bytes() + b"\0")
    return digest.hexdigest()


def _read_stamp(stamp: Path) -> dict[str, str] | None:
    try:
        data = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _extension_of(root: Path, path: str) -> Path | None:
    """The compiled extension module beside ``path``, if there is one."""
    base = root / path.removesuffix(".py")
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = base.with_name(base.name + suffix)
        if candidate.exists():
            return candidate
    return None


def build_problem(root: Path = ROOT) -> str | None:
    """Why the compiled form under ``root`` must not be used (``None``: it is fresh).

    ``"not built"`` (no stamp, or an extension missing) or ``"stale build"`` (the stamp does
    not match the sources or this Python). Ignores ``TICKWIRE_PURE_PYTHON``.
    """
    recorded = _read_stamp(root / STAMP.relative_to(ROOT))
    if recorded is None:
        return "not built"
    try:
        current = source_hash(root)
    except OSError:
        return "stale build"
    if recorded.get("sources") != current or recorded.get("python") != sys.version:
        return "stale build"
    if any(_extension_of(root, path) is None for path in MODULES):
        return "not built"
    return None


class _SourceFinder:
    """A ``sys.meta_path`` finder that loads the given modules from their ``.py`` files.

    It sits ahead of the path finder, which would prefer an extension module beside them.
    """

    def __init__(self, sources: dict[str, Path]) -> None:
        self.sources = sources

    def find_spec(
        self, fullname: str, path: object = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        source = self.sources.get(fullname)
        if source is None:
            return None
        loader = importlib.machinery.SourceFileLoader(fullname, str(source))
        return importlib.util.spec_from_file_location(fullname, source, loader=loader)


def install() -> None:
    """Decide the engine's form for this process (once); force the ``.py`` files if pure.

    Must run before ``exchange.engine`` is imported: ``exchange/__init__.py`` calls it.
    """
    global _decision, _installed
    if _installed:
        return
    _installed = True
    if os.environ.get(ENV_PURE, "") not in ("", "0"):
        _decision = ENV_PURE
    else:
        _decision = build_problem() or ""
    if _decision:
        finder = _SourceFinder({module_name(p): ROOT / p for p in MODULES})
        sys.meta_path.insert(0, finder)


def _is_extension(module: ModuleType) -> bool:
    file = getattr(module, "__file__", None) or ""
    return file.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def engine_build() -> str:
    """``"compiled"`` or ``"pure (why)"``: what this process actually imported.

    Imports the ``MODULES`` (so the engine) if they are not imported yet. When only some are
    compiled (``shared.values`` imported before ``exchange`` with a stale build), the answer
    is pure and names the compiled ones.
    """
    global _answer
    if _answer is None:
        install()
        names = [module_name(p) for p in MODULES]
        compiled = [n for n in names if _is_extension(importlib.import_module(n))]
        if len(compiled) == len(names):
            _answer = "compiled"
        else:
            why = _decision or "compiled form not loaded"
            if compiled:
                why += "; compiled: " + ", ".join(compiled)
            _answer = f"pure ({why})"
    return _answer  # a module once imported stays in its form: computed once


# --------------------------------------------------------------------------- building

# Run in a subprocess from ROOT: setuptools' build_ext over mypycify's extensions, without
# setup() (which would read pyproject.toml as this build's own project).
_BUILD_SCRIPT = """
import sys
from setuptools import Distribution
from mypyc.build import mypycify

build_dir, opt_level, group, *paths = sys.argv[1:]
# its own mypy cache: `make test` runs this build beside `mypy` (lint), which uses .mypy_cache
flags = ["--cache-dir", build_dir + "/mypy-cache"]
extensions = mypycify(
    [*flags, *paths], opt_level=opt_level, group_name=group, target_dir=build_dir
)
dist = Distribution({"name": "tickwire-compiled-engine", "ext_modules": extensions})
dist.script_name = "exchange.compiled"
dist.script_args = ["build_ext", "--inplace", "--build-temp", build_dir + "/temp",
                    "--build-lib", build_dir + "/lib"]
dist.parse_command_line()
dist.run_commands()
"""


def _toolchain_problem() -> str | None:
    """What is missing to compile C extensions here (``None``: nothing)."""
    import shutil
    import sysconfig

    if importlib.util.find_spec("mypyc") is None:
        return "mypyc is not installed (it comes with mypy, a dev dependency)"
    compiler = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler})"
    include = sysconfig.get_paths()["include"]
    if not Path(include, "Python.h").exists():
        return f"no Python headers ({include}/Python.h; Debian: python3-dev)"
    return None


def _mypy_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mypy")
    except PackageNotFoundError:
        return "none"


def clean() -> None:
    """Remove every compiled extension of ``exchange/engine`` and ``shared``, and the stamp."""
    STAMP.unlink(missing_ok=True)
    for directory in (ROOT / "exchange" / "engine", ROOT / "shared"):
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            for path in directory.glob(f"*{suffix}"):
                path.unlink()


def build(*, force: bool = False) -> int:
    """Compile ``MODULES`` in place and stamp them; 0 on success or when nothing is to do.

    A no-op when the stamp matches the sources, this Python and the installed mypy. Without
    a C compiler, Python headers or mypyc it prints one warning and returns 0: the pure form
    keeps working. A failed build prints the end of its log and returns 1.
    """
    import subprocess
    import time

    recorded = _read_stamp(STAMP)
    mypy_version = _mypy_version()
    if (
        not force
        and build_problem() is None
        and recorded is not None
        and recorded.get("mypy") == mypy_version
    ):
        print("compiled engine: up to date")
        return 0
    problem = _toolchain_problem()
    if problem is not None:
        print(f"warning: compiled engine not built: {problem}; the pure-Python engine runs")
        return 0
    clean()  # no half-old set of extensions, none left from a longer MODULES
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    log = BUILD_DIR / "build.log"
    sources = source_hash()  # hashed before compiling: an edit during the build is stale
    started = time.monotonic()
    with log.open("w") as out:
        done = subprocess.run(
            [sys.executable, "-c", _BUILD_SCRIPT, str(BUILD_DIR.relative_to(ROOT)), OPT_LEVEL,
             GROUP, *MODULES],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        print(*log.read_text().splitlines()[-30:], sep="\n")
        clean()
        print(f"error: compiled engine build failed (log: {log}); the pure-Python engine runs")
        return 1
    stamp = {"sources": sources, "python": sys.version, "mypy": mypy_version}
    STAMP.write_text(json.dumps({**stamp, "modules": list(MODULES)}, indent=1) + "\n")
    elapsed = time.monotonic() - started
    print(f"compiled engine: built {len(MODULES)} modules in {elapsed:.0f} s (log: {log})")
    return 0
