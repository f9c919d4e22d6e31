"""`soc2opa eval --warm` and `soc2opa warm`: a real opa server kept between runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.synth import write_plan
from soc2opa import warm
from soc2opa.tools import default_bundle

SOC2OPA = Path(sys.executable).parent / "soc2opa"


@pytest.fixture
def env(tmp_path: Path, opa: Path) -> Iterator[dict[str, str]]:
    """A private cache, and an opa that logs each command before running the real one."""
    cache = tmp_path / "cache"
    log = tmp_path / "opa.log"
    wrapper = tmp_path / "opa"
    wrapper.write_text(f'#!/bin/sh\necho "$1" >> {log}\nexec {opa} "$@"\n')
    wrapper.chmod(0o755)
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SOC2OPA_") and k != "XDG_CACHE_HOME"
    }
    environ.pop("GOMEMLIMIT", None)
    environ.pop("CI", None)
    environ.update(
        SOC2OPA_CACHE_DIR=str(cache),
        SOC2OPA_OPA=str(wrapper),
        NO_COLOR="1",
        SOC2OPA_WARM="0",
        # One opa eval per plan, so the log counts plans (tests/test_shards.py covers several).
        SOC2OPA_JOBS="1",
    )
    yield environ
    subprocess.run([str(SOC2OPA), "warm", "stop"], env=environ, capture_output=True, check=False)


def _eval(env: dict[str, str], plan: Path, *extra: str) -> dict[str, Any]:
    proc = subprocess.run(
        [str(SOC2OPA), "eval", str(plan), "--format", "json", "--no-config", *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode in (0, 1), proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    for one in report.get("reports", [report]):
        one.pop("generated_at")
    return report


def _slot(env: dict[str, str]) -> warm.Slot:
    old = os.environ.get("SOC2OPA_CACHE_DIR")
    os.environ["SOC2OPA_CACHE_DIR"] = env["SOC2OPA_CACHE_DIR"]
    try:
        slot = warm.slot_for(Path(env["SOC2OPA_OPA"]), default_bundle())
    finally:
        if old is None:
            del os.environ["SOC2OPA_CACHE_DIR"]
        else:
            os.environ["SOC2OPA_CACHE_DIR"] = old
    assert slot is not None
    return slot


def _commands(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def test_second_run_is_answered_by_the_warm_server_with_the_same_report(
    tmp_path: Path, env: dict[str, str]
) -> None:
    plan = write_plan(tmp_path / "plan.json", 80, seed=4)
    cold = _eval(env, plan)
    log = tmp_path / "opa.log"
    log.unlink()
    first = _eval(env, plan, "--warm")
    assert _commands(log).count("eval") == 1  # no server yet: judged as usual, one started
    assert warm.wait_ready(_slot(env), timeout=120)
    second = _eval(env, plan, "--warm")
    assert _commands(log).count("eval") == 1  # answered by the server: no opa eval
    assert _commands(log).count("run") == 1
    assert first == cold and second == cold
    assert second["results"] and second["controls"]


def test_batch_and_environment_variable(tmp_path: Path, env: dict[str, str]) -> None:
    plans = [write_plan(tmp_path / f"p{i}.json", 40, seed=10 + i) for i in range(3)]
    folder = tmp_path
    cold = _eval(env, folder)
    env = dict(env, SOC2OPA_WARM="1")
    _eval(env, folder)
    assert warm.wait_ready(_slot(env), timeout=120)
    log = tmp_path / "opa.log"
    before = _commands(log)
    again = _eval(env, folder)
    assert _commands(log) == before  # neither opa eval nor a batch server: the warm one
    assert again == cold
    assert len(again["reports"]) == len(plans)


def test_warm_is_the_default_outside_ci(tmp_path: Path, env: dict[str, str]) -> None:
    plan = write_plan(tmp_path / "plan.json", 60, seed=6)
    log = tmp_path / "opa.log"
    ci = dict(env, CI="true")
    del ci["SOC2OPA_WARM"]
    cold = _eval(ci, plan)
    assert _commands(log) == ["eval"]  # CI set: judged by opa eval, no server started
    assert not warm.wait_ready(_slot(env), timeout=3)
    laptop = dict(ci)
    del laptop["CI"]
    assert _eval(laptop, plan) == cold  # outside CI: judged as usual, and a server started
    assert warm.wait_ready(_slot(env), timeout=120)
    assert _eval(laptop, plan) == cold
    assert _commands(log).count("eval") == 2 and _commands(log).count("run") == 1
    assert _eval(dict(laptop, SOC2OPA_WARM="0"), plan) == cold
    assert _commands(log).count("eval") == 3  # SOC2OPA_WARM=0 asks no server
    assert _eval(laptop, plan, "--no-warm") == cold
    assert _commands(log).count("eval") == 4
    bad = subprocess.run(
        [str(SOC2OPA), "eval", str(plan), "--no-config"],
        env=dict(laptop, SOC2OPA_WARM="sometimes"), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.strip() == "soc2opa: error: SOC2OPA_WARM must be 1 or 0, not 'sometimes'"


def test_a_large_plan_is_judged_by_a_one_shot_eval(tmp_path: Path, env: dict[str, str]) -> None:
    from soc2opa.engine import WARM_MAX_BYTES

    small = write_plan(tmp_path / "small.json", 40, seed=8)
    large = write_plan(tmp_path / "large.json", 5600, seed=8)
    assert large.stat().st_size > WARM_MAX_BYTES > small.stat().st_size
    start = [str(SOC2OPA), "warm", "start"]
    assert subprocess.run(start, env=env, capture_output=True, timeout=120).returncode == 0
    log = tmp_path / "opa.log"
    assert _commands(log) == ["run"]
    _eval(env, small, "--warm")
    assert _commands(log) == ["run"]
    _eval(env, large, "--warm")
    assert _commands(log) == ["run", "eval"]


def test_with_several_jobs_a_mid_sized_plan_is_shared_out(
    tmp_path: Path, env: dict[str, str]
) -> None:
    from soc2opa.engine import WARM_MAX_BYTES, WARM_MAX_BYTES_SHARED

    mid = write_plan(tmp_path / "mid.json", 1500, seed=8)
    assert WARM_MAX_BYTES > mid.stat().st_size > WARM_MAX_BYTES_SHARED
    start = [str(SOC2OPA), "warm", "start"]
    assert subprocess.run(start, env=env, capture_output=True, timeout=120).returncode == 0
    log = tmp_path / "opa.log"
    one = _eval(env, mid, "--warm")  # one job: the warm server judges it
    assert _commands(log) == ["run"]
    two = _eval(dict(env, SOC2OPA_JOBS="2"), mid, "--warm")  # two opa eval, no server
    assert _commands(log) == ["run", "eval", "eval"]
    assert two == one


def test_status_stop_and_idle_timeout(tmp_path: Path, env: dict[str, str]) -> None:
    start = [str(SOC2OPA), "warm", "start"]
    status = [str(SOC2OPA), "warm", "status", "--format", "json"]
    done = subprocess.run(start, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    servers = json.loads(subprocess.run(status, env=env, capture_output=True, text=True).stdout)
    assert len(servers) == 1 and servers[0]["idle"] == 900
    # A soft memory limit keeps the long-lived server's heap near its live data.
    environ = Path(f"/proc/{servers[0]['opa_pid']}/environ").read_bytes().split(b"\0")
    assert b"GOMEMLIMIT=1GiB" in environ
    # A second start while it runs shares the same server.
    assert subprocess.run(start, env=env, capture_output=True, timeout=120).returncode == 0
    assert len(json.loads(subprocess.run(status, env=env, capture_output=True).stdout)) == 1
    stopped = subprocess.run(
        [str(SOC2OPA), "warm", "stop"], env=env, capture_output=True, text=True
    )
    assert "stopped 1" in stopped.stdout
    _gone(servers[0])
    # An idle limit ends the server by itself, and it cleans up after itself.
    done = subprocess.run([*start, "--idle", "3"], env=env, capture_output=True, timeout=120)
    assert done.returncode == 0
    server = json.loads(subprocess.run(status, env=env, capture_output=True).stdout)[0]
    _gone(server)
    assert not Path(server["socket"]).exists()
    assert json.loads(subprocess.run(status, env=env, capture_output=True).stdout) == []


def _gone(server: dict[str, Any], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(server["opa_pid"], 0)
            os.kill(server["pid"], 0)
        except ProcessLookupError:
            time.sleep(0.2)
            return
        time.sleep(0.2)
    pytest.fail(f"warm server {server['pid']} still runs after {within} s")


def test_a_dead_server_is_replaced_and_the_run_still_judges(
    tmp_path: Path, env: dict[str, str]
) -> None:
    plan = write_plan(tmp_path / "plan.json", 30, seed=7)
    cold = _eval(env, plan)
    subprocess.run([str(SOC2OPA), "warm", "start"], env=env, check=True, capture_output=True)
    status = [str(SOC2OPA), "warm", "status", "--format", "json"]
    server = json.loads(subprocess.run(status, env=env, capture_output=True).stdout)[0]
    os.kill(server["pid"], signal.SIGKILL)
    os.kill(server["opa_pid"], signal.SIGKILL)
    time.sleep(0.5)
    assert Path(server["socket"]).exists()  # left behind: nobody answers there
    assert _eval(env, plan, "--warm") == cold
    assert warm.wait_ready(_slot(env), timeout=120)
    assert _eval(env, plan, "--warm") == cold


def test_signed_or_foreign_bundles_are_never_served_warm(
    tmp_path: Path, env: dict[str, str]
) -> None:
    foreign = tmp_path / "foreign.tar.gz"
    foreign.write_bytes(b"not a bundle")
    proc = subprocess.run(
        [str(SOC2OPA), "warm", "start", "--bundle", str(foreign)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "only a plain soc2opa bundle" in proc.stderr
