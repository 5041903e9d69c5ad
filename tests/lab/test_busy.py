"""The lab refuses to measure on a busy machine unless forced, and a forced report says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.cli import main
from exchange.lab import runner
from exchange.lab.runner import QUIET_LOAD, busy_reason


def test_busy_reason_names_the_load_only_above_the_limit() -> None:
    assert busy_reason(0.2) == "" and busy_reason(QUIET_LOAD) == ""
    reason = busy_reason(3.25)
    assert "3.25" in reason and f"{QUIET_LOAD:g}" in reason


def test_a_busy_machine_is_refused_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(runner.os, "getloadavg", lambda: (4.0, 3.0, 2.0))
    out = tmp_path / "lab-out"
    assert main(["lab", "--out", str(out), "--duration", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "load average 4.00" in err and "--force" in err
    assert not out.exists()


def test_force_passes_the_reason_to_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[runner.LabOptions] = []

    def fake_run_lab(opts: runner.LabOptions, say: object = None) -> dict[str, object]:
        seen.append(opts)  # below the transport layer: what run() hands the lab
        return {"conditions": {}, "notes": [], "busy": opts.busy}

    monkeypatch.setattr(runner.os, "getloadavg", lambda: (4.0, 3.0, 2.0))
    monkeypatch.setattr(runner, "run_lab", fake_run_lab)
    assert main(["lab", "--out", str(tmp_path), "--force", "--no-plots"]) == 0
    assert seen and "load average 4.00" in seen[0].busy
