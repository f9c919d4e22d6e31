"""Go's garbage collector settings soc2opa gives the opa it runs (docs/performance.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from soc2opa import opaproc

SOC2OPA = Path(sys.executable).parent / "soc2opa"
DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo" / "plan.json"


def _mib(value: str) -> int:
    assert value.endswith("MiB"), value
    return int(value[:-3])


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOGC", "GOMEMLIMIT", "SOC2OPA_OPA_MEMORY"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("clean_env")
def test_collection_off_under_a_limit_sized_from_the_input(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(opaproc, "memory_cap", lambda: 64 << 30)
    small = opaproc.opa_env(0)
    assert small["GOGC"] == "off" and _mib(small["GOMEMLIMIT"]) == 256
    large = opaproc.opa_env(100 << 20)
    assert _mib(large["GOMEMLIMIT"]) == 256 + 64 * 100
    # A batch server holds several plans at once.
    assert _mib(opaproc.opa_env(10 << 20, concurrency=4)["GOMEMLIMIT"]) == 256 + 64 * 40


@pytest.mark.usefixtures("clean_env")
def test_limit_capped_by_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    # memory_cap() is half the memory; the limits may use three quarters, shared by processes.
    monkeypatch.setattr(opaproc, "memory_cap", lambda: 2 << 30)
    assert _mib(opaproc.opa_env(1 << 30)["GOMEMLIMIT"]) == 3072
    assert _mib(opaproc.opa_env(1 << 30, processes=2)["GOMEMLIMIT"]) == 1536
    # Too little memory for the fixed part: Go's defaults stay.
    monkeypatch.setattr(opaproc, "memory_cap", lambda: 160 << 20)
    env = opaproc.opa_env(1 << 30)
    assert "GOGC" not in env and "GOMEMLIMIT" not in env


@pytest.mark.usefixtures("clean_env")
def test_the_users_settings_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOGC", "50")
    env = opaproc.opa_env(1 << 20)
    assert env["GOGC"] == "50" and "GOMEMLIMIT" not in env
    monkeypatch.delenv("GOGC")
    monkeypatch.setenv("SOC2OPA_OPA_MEMORY", "3GiB")
    env = opaproc.opa_env(1 << 20)
    assert env["GOMEMLIMIT"] == "3GiB" and "GOGC" not in env


def test_memory_cap_reads_this_machine() -> None:
    cap = opaproc.memory_cap()
    assert cap is not None and 0 < cap < os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _opa_environments(tmp_path: Path, opa: Path, extra_env: dict[str, str]) -> list[dict[str, str]]:
    """Run soc2opa eval on the demo plan through an opa that records its environment."""
    log = tmp_path / "env.log"
    wrapper = tmp_path / "opa"
    wrapper.write_text(
        f'#!/bin/sh\necho "GOGC=${{GOGC-unset}} GOMEMLIMIT=${{GOMEMLIMIT-unset}}" >> {log}\n'
        f'exec {opa} "$@"\n'
    )
    wrapper.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("GOGC", "GOMEMLIMIT")}
    env.update(extra_env, SOC2OPA_CACHE_DIR=str(tmp_path / "cache"), NO_COLOR="1")
    proc = subprocess.run(
        [
            str(SOC2OPA),
            "eval",
            str(DEMO),
            "--opa-path",
            str(wrapper),
            "--no-config",
            "--format",
            "json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr  # the demo plan fails the gate
    assert json.loads(proc.stdout)["summary"]["failing"]
    lines = log.read_text().split("\n")
    return [dict(part.split("=", 1) for part in ln.split()) for ln in lines if ln]


def test_eval_runs_opa_with_collection_off(tmp_path: Path, opa: Path) -> None:
    envs = _opa_environments(tmp_path, opa, {})
    assert envs and all(e["GOGC"] == "off" for e in envs)
    assert all(_mib(e["GOMEMLIMIT"]) >= 256 for e in envs)


def test_eval_passes_the_users_gogc_through(tmp_path: Path, opa: Path) -> None:
    envs = _opa_environments(tmp_path, opa, {"GOGC": "100"})
    assert envs and all(e == {"GOGC": "100", "GOMEMLIMIT": "unset"} for e in envs)
