"""exchange/engine/ stays sans-I/O: no asyncio, socket, redis, fastapi, time or random."""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = {"asyncio", "socket", "redis", "fastapi", "time", "random"}
ENGINE = Path(__file__).resolve().parents[2] / "exchange" / "engine"


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__":
            roots.add("__import__")
    return roots


def test_engine_modules_import_no_io() -> None:
    modules = sorted(ENGINE.glob("*.py"))
    assert len(modules) >= 10
    for path in modules:
        bad = imported_roots(path) & (FORBIDDEN | {"__import__", "importlib"})
        assert not bad, f"{path.name} imports {bad}"


def test_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nfrom time import monotonic\n")
    assert "time" in imported_roots(probe)
