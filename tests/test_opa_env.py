"""Go's garbage collector settings soc2opa gives the opa it runs (docs/performance.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from soc2opa import opaproc
from soc2opa.engine import LocalEngine
from soc2opa.planfile import parse_plan
from tests.conftest import BUNDLE

SOC2OPA = Path(sys.executable).parent / "soc2opa"
DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo" / "plan.json"


def _mib(value: str) -> int:
    assert value.endswith("MiB"), value
    return int(value[:-3])


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOGC", "GOMEMLIMIT", "SOC2OPA_OPA_MEMORY", "GODEBUG", opaproc.DATA_LIMIT_KEY):
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


@pytest.mark.usefixtures("clean_env")
def test_a_one_shot_eval_runs_without_the_collector_under_a_data_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(opaproc, "memory_cap", lambda: 8 << 30)
    env = opaproc.opa_env(10 << 20, processes=2, collector=False)
    assert env["GODEBUG"] == "sbrk=1" and env["GOGC"] == "off"
    assert int(env[opaproc.DATA_LIMIT_KEY]) == (8 << 30) * 3 // 2 // 2
    # A server (and any caller that does not ask) keeps the collector.
    assert "GODEBUG" not in opaproc.opa_env(10 << 20)
    monkeypatch.setenv(opaproc.DATA_LIMIT_KEY, "1")
    assert opaproc.DATA_LIMIT_KEY not in opaproc.opa_env(10 << 20)
    # GODEBUG, GOGC or GOMEMLIMIT of the user's, or an unknown memory size: Go as configured.
    monkeypatch.setenv("GODEBUG", "")
    assert opaproc.opa_env(1 << 20, collector=False)["GODEBUG"] == ""
    monkeypatch.delenv("GODEBUG")
    monkeypatch.setenv("GOGC", "100")
    assert "GODEBUG" not in opaproc.opa_env(1 << 20, collector=False)
    monkeypatch.delenv("GOGC")
    monkeypatch.setattr(opaproc, "memory_cap", lambda: None)
    assert "GODEBUG" not in opaproc.opa_env(1 << 20, collector=False)
    # A plan whose expected memory without collection exceeds the share keeps the collector.
    monkeypatch.setattr(opaproc, "memory_cap", lambda: 2 << 30)
    assert opaproc.opa_env(40 << 20, collector=False)["GODEBUG"] == "sbrk=1"
    assert "GODEBUG" not in opaproc.opa_env(70 << 20, collector=False)


def test_out_of_room_is_only_the_data_limit_of_a_run_without_collector() -> None:
    env = {"GODEBUG": opaproc.NO_COLLECTOR}
    stopped = subprocess.CompletedProcess(
        ["opa"], 2, b"", b"fatal error: runtime: cannot allocate memory\n\nruntime stack:"
    )
    assert opaproc.out_of_room(stopped, env)
    assert not opaproc.out_of_room(stopped, {})
    assert not opaproc.out_of_room(stopped, None)
    thread = subprocess.CompletedProcess(["opa"], 2, b"", b"runtime/cgo: pthread_create failed")
    assert opaproc.out_of_room(thread, env)
    other = subprocess.CompletedProcess(["opa"], 1, b"", b"1 error occurred: x.rego:3: bad")
    assert not opaproc.out_of_room(other, env)


@pytest.mark.usefixtures("clean_env", "private_cache")
@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("why", ["limit reached", "limit refused"])
def test_a_run_without_room_is_judged_again_with_the_collector(
    monkeypatch: pytest.MonkeyPatch, opa: Path, jobs: int, why: str
) -> None:
    plan = parse_plan(DEMO.read_bytes(), str(DEMO))
    engine = LocalEngine(opa, BUNDLE, timeout=60)
    engine.jobs = jobs
    expected = engine.evaluate(plan)
    spawned: list[str | None] = []
    real = opaproc._spawn

    def spy(path: Path, args: list[str], env: dict[str, str] | None, *, with_input: bool) -> Any:
        spawned.append((env or {}).get("GODEBUG"))
        if env and opaproc.DATA_LIMIT_KEY in env and why == "limit reached":
            # 160 MiB: opa without its collector cannot compile the policy in it.
            env = {**env, opaproc.DATA_LIMIT_KEY: str(160 << 20)}
        return real(path, args, env, with_input=with_input)

    monkeypatch.setattr(opaproc, "_spawn", spy)
    if why == "limit refused":

        def refuse(*_args: object) -> None:
            raise PermissionError(1, "Operation not permitted")

        monkeypatch.setattr(opaproc.resource, "prlimit", refuse)
    assert engine.evaluate(plan) == expected
    first = [g for g in spawned if g == opaproc.NO_COLLECTOR]
    assert first and spawned[: len(first)] == first
    assert spawned[len(first) :] == [None] * jobs


def test_memory_cap_reads_this_machine() -> None:
    cap = opaproc.memory_cap()
    assert cap is not None and 0 < cap < os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _opa_environments(tmp_path: Path, opa: Path, extra_env: dict[str, str]) -> list[dict[str, str]]:
    """Run soc2opa eval on the demo plan through an opa that records its environment."""
    log = tmp_path / "env.log"
    wrapper = tmp_path / "opa"
    wrapper.write_text(
        f'#!/bin/sh\necho "GOGC=${{GOGC-unset}} GOMEMLIMIT=${{GOMEMLIMIT-unset}} '
        f'GODEBUG=${{GODEBUG-unset}}" >> {log}\n'
        f'exec {opa} "$@"\n'
    )
    wrapper.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("GOGC", "GOMEMLIMIT", "GODEBUG")}
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
    assert all(e["GODEBUG"] == opaproc.NO_COLLECTOR for e in envs)


def test_eval_passes_the_users_gogc_through(tmp_path: Path, opa: Path) -> None:
    envs = _opa_environments(tmp_path, opa, {"GOGC": "100"})
    assert envs and all(
        e == {"GOGC": "100", "GOMEMLIMIT": "unset", "GODEBUG": "unset"} for e in envs
    )
