"""The GitHub Action and the pre-commit hooks, by running their commands with the real opa."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from soc2opa.install import PINNED_OPA_VERSION
from tests.conftest import ROOT, SOC2OPA, Run

DEMO = ROOT / "examples" / "demo" / "plan.json"
WAIVERS = ROOT / "examples" / "waivers" / "waivers.yaml"
_EXPR = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


def _action() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text())
    return doc


def _expand(value: str, inputs: dict[str, str], outputs: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        expr = m.group(1)
        if expr.startswith("inputs."):
            return inputs[expr.removeprefix("inputs.")]
        if expr == "github.action_path":
            return str(ROOT)
        if expr.startswith("steps.eval.outputs."):
            return outputs.get(expr.rsplit(".", 1)[1], "")
        raise AssertionError(f"unexpected expression {expr}")

    return _EXPR.sub(sub, value)


def _run_action(tmp_path: Path, opa: Path, **given: str) -> tuple[dict[str, str], Path, int]:
    action = _action()
    inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
    inputs.update(given)
    temp = tmp_path / "runner"
    temp.mkdir()
    files = {n: tmp_path / n for n in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_STEP_SUMMARY")}
    for f in files.values():
        f.write_text("")
    outputs: dict[str, str] = {}
    code = 0
    for step in action["runs"]["steps"]:
        assert step["id"] in {"install", "install-opa", "eval", "summary", "upload", "verdict"}
        if "run" not in step or step["id"] in ("install", "install-opa"):
            continue  # installing needs the network; soc2opa and opa are already here
        assert "${{" not in step["run"], f"{step['id']}: expressions go through env, not the script"
        env = {k: _expand(str(v), inputs, outputs) for k, v in step.get("env", {}).items()}
        proc = subprocess.run(
            ["bash", "-e", "-c", step["run"]],
            env={
                "PATH": f"{SOC2OPA.parent}:/usr/bin:/bin", "SOC2OPA_OPA": str(opa), "CI": "true",
                "RUNNER_TEMP": str(temp), **{k: str(v) for k, v in files.items()}, **env,
            },
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        outputs = dict(
            line.split("=", 1) for line in files["GITHUB_OUTPUT"].read_text().splitlines()
        )
        if step["id"] == "eval":
            assert proc.returncode == 0, proc.stderr
            annotations = proc.stdout
        if step["id"] == "verdict":
            code = proc.returncode
    outputs["annotations"] = annotations
    return outputs, files["GITHUB_STEP_SUMMARY"], code


def test_action_steps_judge_a_real_plan(opa: Path, tmp_path: Path) -> None:
    sarif = tmp_path / "out.sarif"
    outputs, summary, code = _run_action(
        tmp_path, opa, plans=str(DEMO), waivers=str(WAIVERS), **{"sarif-file": str(sarif)}
    )
    assert outputs["exit-code"] == "1" and code == 1
    assert "::error " in outputs["annotations"] and "::notice " in outputs["annotations"]
    assert summary.read_text().startswith("### ❌ soc2opa: ")
    log = json.loads(sarif.read_text())
    assert log["version"] == "2.1.0" and log["runs"][0]["results"]
    again = tmp_path / "again"
    again.mkdir()
    clean, summary, code = _run_action(
        again, opa, plans=str(DEMO), args="--control cloudfront_minimum_tls_version",
        **{"sarif-file": str(sarif)},
    )  # fmt: skip
    assert clean["exit-code"] == "0" and code == 0
    assert summary.read_text().startswith("### ✅ soc2opa: nothing failing")


def test_action_pins_the_tested_opa_and_uploads_sarif() -> None:
    action = _action()
    assert action["runs"]["using"] == "composite"
    assert action["inputs"]["opa-version"]["default"] == PINNED_OPA_VERSION
    steps = {s["id"]: s for s in action["runs"]["steps"]}
    assert steps["upload"]["uses"].startswith("github/codeql-action/upload-sarif@")
    assert "GITHUB_STEP_SUMMARY" in steps["summary"]["run"]
    assert "pip install" in steps["install"]["run"]


def test_pinned_opa_version_matches_tools_mk() -> None:
    pinned = re.search(r"^OPA_VERSION := (\S+)", (ROOT / "tools.mk").read_text(), re.M)
    assert pinned and pinned.group(1) == PINNED_OPA_VERSION


def test_pre_commit_hooks_run(run: Run, tmp_path: Path) -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    gate = hooks["soc2opa"]
    files = re.compile(gate["files"])
    assert files.search("plan.json") and files.search("envs/prod/tfplan.json")
    assert not files.search("package.json")
    entry = gate["entry"].split()
    assert entry[0] == "soc2opa"
    proc = run(*entry[1:], str(DEMO), str(DEMO))
    lines = proc.stdout.splitlines()
    assert proc.returncode == 1 and lines[-1].startswith("Combined: 2 plans (2 failing)")
    assert len(lines) == 3 and all(ln.startswith(f"{DEMO}: Summary: ") for ln in lines[:2])
    waivers = hooks["soc2opa-waivers"]
    assert re.search(waivers["files"], "examples/waivers/waivers.yaml")
    ok = run(*waivers["entry"].split()[1:], str(WAIVERS))
    assert ok.returncode == 0 and "4 waivers: 3 live, 1 expired" in ok.stdout
    bad = tmp_path / "waivers.yaml"
    bad.write_text("waivers:\n  - control: x\n    reason: r\n    owner: o\n")
    refused = run(*waivers["entry"].split()[1:], str(WAIVERS), str(bad))
    assert refused.returncode == 2 and "waiver 1 (x): expires is required" in refused.stderr
    assert os.path.basename(entry[0]) == "soc2opa"
