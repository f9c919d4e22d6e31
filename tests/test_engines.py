"""The local and remote engines give identical findings; engine failures are one line, exit 2."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BUNDLE, Run

PLANS = [
    "checkov__plan_tfplan.json",
    "checkov__plan_module_with_connected_resources_tfplan.json",
    "checkov__terraform_runner_tf_plan_skip_check_regex_resource_skip_directory_tfplan2.json",
    "checkov__plan_with_lifecycle_check_tfplan.json",
    "checkov__plan_after_unknown_tfplan.json",
    "checkov__plan_tags_tfplan.json",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(opa: Path, *args: str) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [str(opa), "run", "--server", "--addr", f"127.0.0.1:{port}", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health?bundles", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("the OPA server did not come up on 127.0.0.1")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def opa_server(opa: Path) -> Iterator[str]:
    """A real OPA server with the soc2opa bundle, on loopback, stopped after the tests."""
    yield from _serve(opa, "--bundle", str(BUNDLE))


@pytest.fixture(scope="module")
def empty_opa_server(opa: Path) -> Iterator[str]:
    """A real OPA server without the bundle."""
    yield from _serve(opa)


def _comparable(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in ("engine", "opa", "generated_at", "bundle")}


@pytest.mark.parametrize("plan", PLANS)
def test_local_and_remote_engines_agree(
    run: Run, shared_plans: Path, opa_server: str, plan: str
) -> None:
    local = run("eval", str(shared_plans / plan), "--format", "json")
    remote = run("eval", str(shared_plans / plan), "--format", "json", "--opa-url", opa_server)
    assert local.returncode == remote.returncode, (local.stderr, remote.stderr)
    assert local.returncode in (0, 1)
    lrep, rrep = json.loads(local.stdout), json.loads(remote.stdout)
    assert lrep["engine"] == "opa-local" and rrep["engine"] == "opa-remote"
    assert lrep["opa"]["version"] == rrep["opa"]["version"] == "1.22.2"
    assert lrep["opa"]["path"] and rrep["opa"]["url"] == opa_server
    assert lrep["bundle"]["revision"] == rrep["bundle"]["revision"]
    assert _comparable(lrep) == _comparable(rrep)
    assert lrep["results"], "the plan should give at least one result"


def test_remote_bad_input_is_refused_the_same_way(
    run: Run, tmp_path: Path, opa_server: str
) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"version": 4, "serial": 1, "lineage": "l", "resources": []}))
    proc = run("eval", str(path), "--opa-url", opa_server)
    assert proc.returncode == 2
    assert "state file" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_remote_without_bundle(run: Run, shared_plans: Path, empty_opa_server: str) -> None:
    proc = run("eval", str(shared_plans / PLANS[0]), "--opa-url", empty_opa_server)
    assert proc.returncode == 2
    assert "load the soc2opa bundle" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_remote_unreachable(run: Run, shared_plans: Path) -> None:
    proc = run(
        "eval", str(shared_plans / PLANS[0]), "--opa-url", f"http://127.0.0.1:{_free_port()}"
    )
    assert proc.returncode == 2
    assert "cannot reach OPA server" in proc.stderr
    assert "Traceback" not in proc.stderr


def _fake_opa(tmp_path: Path, body: str) -> Path:
    fake = tmp_path / "opa"
    fake.write_text("#!/bin/sh\n" + body + "\n")
    fake.chmod(0o755)
    return fake


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "echo 'panic: runtime error' >&2; exit 3",
            "opa eval failed (exit 3): panic: runtime error",
        ),
        ("echo 'this is not json'", "output soc2opa cannot read"),
        ('echo \'{"result": [{"expressions": [{"value": {"nope": 1}}]}]}\'', "no soc2opa report"),
        ("sleep 30", "timed out after 1s"),
    ],
    ids=["crash", "garbage", "wrong-shape", "timeout"],
)
def test_engine_failures(
    run: Run, shared_plans: Path, tmp_path: Path, body: str, expected: str
) -> None:
    fake = _fake_opa(tmp_path, body)
    proc = run("eval", str(shared_plans / PLANS[0]), "--opa-path", str(fake), "--timeout", "1")
    assert proc.returncode == 2
    assert expected in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_opa_path_that_is_not_a_binary(run: Run, shared_plans: Path, tmp_path: Path) -> None:
    proc = run("eval", str(shared_plans / PLANS[0]), "--opa-path", str(tmp_path / "missing-opa"))
    assert proc.returncode == 2
    assert "--opa-path" in proc.stderr and "not an executable opa binary" in proc.stderr


def test_opa_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from soc2opa import tools
    from soc2opa.errors import EngineError

    explicit = _fake_opa(tmp_path, "exit 0")
    on_path = tmp_path / "bin"
    on_path.mkdir()
    _fake_opa(on_path, "exit 0")
    monkeypatch.setattr(tools, "_REPO_DIR", tmp_path / "no-repo")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(on_path))
    monkeypatch.setenv("SOC2OPA_OPA", str(explicit))
    assert tools.find_opa(str(explicit)) == explicit
    assert tools.find_opa() == explicit
    monkeypatch.delenv("SOC2OPA_OPA")
    assert tools.find_opa() == on_path / "opa"
    # The install's own tools folder comes before PATH ...
    install = tmp_path / "install"
    (install / ".tools" / "bin").mkdir(parents=True)
    _fake_opa(install / ".tools" / "bin", "exit 0")
    monkeypatch.setattr(tools, "_REPO_DIR", install)
    assert tools.find_opa() == install / ".tools" / "bin" / "opa"
    monkeypatch.setattr(tools, "_REPO_DIR", tmp_path / "no-repo")
    # ... but a .tools/bin in the current directory (a scanned repository) is never used,
    # nor a relative PATH entry that means the current directory.
    local = tmp_path / ".tools" / "bin"
    local.mkdir(parents=True)
    _fake_opa(local, "exit 0")
    assert tools.find_opa() == on_path / "opa"
    monkeypatch.chdir(local)
    monkeypatch.setenv("PATH", f".:{on_path}")
    assert tools.find_opa() == on_path / "opa"
    monkeypatch.setenv("PATH", "/nonexistent:.:")
    with pytest.raises(
        EngineError,
        match=r"opa not found: install OPA v[0-9.]+ from https://github.com/open-policy-agent/opa/releases",
    ):
        tools.find_opa()
