"""--version, doctor, install-opa, the missing-opa message and the config file."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from soc2opa import __version__
from soc2opa.config import Settings, load_config, merge
from soc2opa.errors import UsageError
from soc2opa.install import PINNED_OPA_VERSION
from tests.conftest import ROOT, Run, change, write_plan

DEMO = ROOT / "examples" / "demo" / "plan.json"


def test_version_names_opa_and_bundle(run: Run, opa: Path) -> None:
    proc = run("--version")
    assert proc.returncode == 0
    manifest = json.loads((ROOT / "rego/.manifest").read_text())
    lines = proc.stdout.splitlines()
    assert lines[0] == f"soc2opa, version {__version__}"
    assert lines[1] == f"opa: {opa} (version {PINNED_OPA_VERSION.lstrip('v')})"
    assert lines[2].startswith("bundle: ") and f"revision {manifest['revision']}" in lines[2]


def test_doctor_checks_opa_bundle_and_config(run: Run, tmp_path: Path) -> None:
    (tmp_path / ".soc2opa.yaml").write_text("fail_on: high\nwaivers: w.yaml\n")
    (tmp_path / "w.yaml").write_text(
        "waivers:\n  - control: x\n    reason: r\n    owner: o\n    expires: 2099-01-01\n"
    )
    proc = run("doctor", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^ok +opa ", proc.stdout, re.M) and re.search(
        r"^ok +bundle ", proc.stdout, re.M
    )
    assert "ok    waivers" in proc.stdout and ".soc2opa.yaml: 2 settings" in proc.stdout
    (tmp_path / ".soc2opa.yaml").write_text("fail_on: severe\n")
    bad = run("doctor", cwd=tmp_path)
    assert (
        bad.returncode == 1
        and "FAIL  config" in bad.stdout
        and "fail_on must be one of" in bad.stdout
    )
    broken = run("doctor", "--opa-path", "/nonexistent/opa", cwd=tmp_path)
    assert broken.returncode == 1 and "FAIL  opa" in broken.stdout


def test_install_opa_runs_go_install_into_the_data_folder(run: Run, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    go = bin_dir / "go"
    # A stand-in for go that records its arguments and builds an opa that prints a version.
    go.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > {tmp_path}/go-args\n'
        'printf \'#!/bin/sh\\necho "Version: 1.22.2"\\n\' > "$GOBIN/opa"\n'
        'chmod +x "$GOBIN/opa"\n'
    )
    go.chmod(go.stat().st_mode | stat.S_IEXEC)
    data = tmp_path / "data"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "XDG_DATA_HOME": str(data)}
    proc = run("install-opa", env=env)
    assert proc.returncode == 0, proc.stderr
    target = data / "soc2opa" / "bin" / "opa"
    assert proc.stdout.strip() == f"installed {target} (1.22.2)"
    assert (tmp_path / "go-args").read_text().split() == [
        "install",
        f"github.com/open-policy-agent/opa@{PINNED_OPA_VERSION}",
    ]
    no_go = run("install-opa", env={"PATH": "/nonexistent", "XDG_DATA_HOME": str(data)})
    assert no_go.returncode == 2 and "install-opa needs Go on PATH" in no_go.stderr
    assert os.access(target, os.X_OK)


def test_config_file_then_flags(run: Run, tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path / "plan.json",
        [change("aws_db_instance.bad", "aws_db_instance", {"storage_encrypted": False})],
    )
    (tmp_path / ".soc2opa.yaml").write_text(
        "format: json\nfail-on: critical\ncontrols: rds_instance_storage_encrypted\n"
        "outputs: [sarif=out.sarif]\n"
    )
    proc = run("eval", str(plan), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr  # high failure below fail_on critical
    doc = json.loads(proc.stdout)
    assert doc["settings"]["fail_on"] == "critical" and (tmp_path / "out.sarif").is_file()
    flagged = run("eval", str(plan), "--fail-on", "low", "--format", "text", cwd=tmp_path)
    assert flagged.returncode == 1 and flagged.stdout.startswith("soc2opa ")
    ignored = run("eval", str(plan), "--no-config", "--control", "rds_instance_storage_encrypted",
                  cwd=tmp_path)  # fmt: skip
    assert ignored.returncode == 1 and ignored.stdout.startswith("soc2opa ")
    (tmp_path / "pyproject.toml").write_text('[tool.soc2opa]\nfail_on = "low"\n')
    (tmp_path / ".soc2opa.yaml").unlink()
    py = run("eval", str(plan), "--control", "rds_instance_storage_encrypted", cwd=tmp_path)
    assert py.returncode == 1
    (tmp_path / ".soc2opa.yaml").write_text("fail_on: low\ncolour: red\n")
    bad = run("eval", str(plan), cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith(
        f"soc2opa: error: {tmp_path / '.soc2opa.yaml'}: unknown setting 'colour'"
    )


def test_settings_merge_and_relative_paths(tmp_path: Path) -> None:
    config = tmp_path / "sub" / ".soc2opa.yaml"
    config.parent.mkdir()
    config.write_text("waivers: w.yaml\nexclude_controls: a, b\nstrict: true\ntimeout: 30\n")
    settings = load_config(config)
    assert settings.waivers == config.parent / "w.yaml"
    assert settings.exclude_controls == ("a", "b") and settings.timeout == 30.0
    merged = merge(settings, {"strict": False, "controls": (), "fail_on": None})
    assert merged.strict is False and merged.sources["strict"] == "command line"
    assert merge(Settings(), {}).fail_on == "low"
    config.write_text("strict: yes please\n")
    with pytest.raises(UsageError, match="strict must be a bool"):
        load_config(config)


def test_install_opa_with_the_real_go_gives_a_working_opa(run: Run, tmp_path: Path) -> None:
    go = shutil.which("go")
    if go is None:
        pytest.fail("go is required (make setup builds opa with it)")
    data = tmp_path / "data"
    # The real `go install` of the pinned module; `make setup` warmed Go's module and build caches.
    env = {"PATH": f"{Path(go).parent}:/usr/bin:/bin", "XDG_DATA_HOME": str(data),
           "HOME": os.environ.get("HOME", str(tmp_path))}  # fmt: skip
    proc = run("install-opa", env=env)
    assert proc.returncode == 0, proc.stderr
    target = data / "soc2opa" / "bin" / "opa"
    assert proc.stdout.strip() == f"installed {target} ({PINNED_OPA_VERSION.lstrip('v')})"
    version = subprocess.run([str(target), "version"], capture_output=True, text=True, check=True)
    assert f"Version: {PINNED_OPA_VERSION.lstrip('v')}" in version.stdout
    judged = run("eval", "examples/demo/plan.json", "--opa-path", str(target), "--format", "json")
    assert judged.returncode == 1, judged.stderr
    assert json.loads(judged.stdout)["opa"]["path"] == str(target)
