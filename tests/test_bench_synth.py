"""The synthetic plan generator of the benchmark (benchmarks/synth.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.synth import make_plan, plan_bytes, write_plan

ROOT = Path(__file__).resolve().parents[1]
SOC2OPA = Path(sys.executable).parent / "soc2opa"


@pytest.mark.parametrize("n", [0, 1, 7, 100, 1000])
def test_exact_size_and_unique_addresses(n: int) -> None:
    plan = make_plan(n, seed=3)
    addresses = [rc["address"] for rc in plan["resource_changes"]]
    assert len(addresses) == n
    assert len(set(addresses)) == n


def test_deterministic_and_seeded() -> None:
    assert plan_bytes(500, 1) == plan_bytes(500, 1)
    assert plan_bytes(500, 1) != plan_bytes(500, 2)


def _config_modules(module: dict, prefix: str = ""):
    yield prefix, module
    for name, call in module.get("module_calls", {}).items():
        yield from _config_modules(call["module"], f"{prefix}{name}/")


def test_shape_joins_modules_instances_unknown_and_sensitive() -> None:
    plan = make_plan(2000, seed=0)
    assert plan["format_version"] == "1.2"
    changes = plan["resource_changes"]
    types = {rc["type"] for rc in changes}
    assert {"aws_s3_bucket", "aws_security_group", "aws_kms_key"} <= types
    assert len(types) >= 40
    assert any(rc["address"].count("module.") >= 2 for rc in changes)
    assert any('["' in rc.get("module_address", "") for rc in changes)
    assert any(
        rc.get("module_address", "").endswith("]") and '["' not in rc["module_address"]
        for rc in changes
    )
    assert any("index" in rc for rc in changes)
    assert any(rc["change"]["after_unknown"] for rc in changes)
    assert any(
        rc["change"]["after_sensitive"] and "true" in json.dumps(rc["change"]["after_sensitive"])
        for rc in changes
    )
    refs = [
        ref
        for _, mod in _config_modules(plan["configuration"]["root_module"])
        for r in mod.get("resources", [])
        for e in r.get("expressions", {}).values()
        if isinstance(e, dict)
        for ref in e.get("references", [])
    ]
    assert any(ref.startswith("aws_s3_bucket.") for ref in refs)
    # Every resource reference in a module's configuration names a resource of that module.
    for _, mod in _config_modules(plan["configuration"]["root_module"]):
        declared = {r["address"] for r in mod.get("resources", [])}
        for r in mod.get("resources", []):
            for e in r.get("expressions", {}).values():
                for ref in e.get("references", []) if isinstance(e, dict) else []:
                    if ref.startswith("aws_"):
                        assert ".".join(ref.split(".")[:2]).split("[")[0] in declared, ref
    planned: set[str] = set()
    stack = [plan["planned_values"]["root_module"]]
    while stack:
        mod = stack.pop()
        planned.update(r["address"] for r in mod["resources"])
        stack.extend(mod["child_modules"])
    assert planned == set(addresses_of(changes))


def addresses_of(changes: list[dict]) -> list[str]:
    return [rc["address"] for rc in changes if rc["change"]["after"] is not None]


def test_soc2opa_judges_a_synthetic_plan(tmp_path: Path) -> None:
    plan = write_plan(tmp_path / "plan.json", 300, seed=5)
    env = dict(os.environ)
    env.setdefault("SOC2OPA_OPA", str(ROOT / ".tools/bin/opa"))
    proc = subprocess.run(
        [str(SOC2OPA), "eval", str(plan), "--format", "json"], capture_output=True, env=env
    )
    assert proc.returncode in (0, 1), proc.stderr.decode()[-2000:]
    report = json.loads(proc.stdout)
    results = report["summary"]["results"]
    assert results["pass"] > 0 and results["fail"] > 0
    assert "synthetic-not-a-secret" not in proc.stdout.decode()


def _names(plan: dict, key: str = "name") -> list[str]:
    return [
        rc["change"]["after"][key]
        for rc in plan["resource_changes"]
        if isinstance(rc["change"]["after"], dict)
        and isinstance(rc["change"]["after"].get(key), str)
        and rc["type"] == "aws_iam_role"
    ]


def test_copies_get_their_own_names_unless_shared() -> None:
    own = _names(make_plan(3000, seed=0))
    shared = _names(make_plan(3000, seed=0, shared_names=True))
    assert len(own) == len(shared) > 20
    assert len(set(own)) == len(own)
    assert len(set(shared)) < len(shared) / 2


def test_shape_options_on_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    options = ["--seed", "2", "--account-level", "1.0", "--shared-names"]
    subprocess.run(
        [sys.executable, "-m", "benchmarks.synth", "1500", str(out), *options],
        check=True,
        cwd=ROOT,
    )
    assert out.read_bytes() == plan_bytes(1500, 2, account_level=1.0, shared_names=True)
    trails = [
        rc
        for rc in json.loads(out.read_bytes())["resource_changes"]
        if rc["type"] == "aws_cloudtrail"
    ]
    default = [
        rc for rc in make_plan(1500, seed=2)["resource_changes"] if rc["type"] == "aws_cloudtrail"
    ]
    assert len(trails) > 10 * max(1, len(default))


@pytest.mark.parametrize("bad", ["-1", "0", "nan", "many"])
def test_a_bad_account_level_is_one_usage_error(tmp_path: Path, bad: str) -> None:
    out = tmp_path / "plan.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.synth", "10", str(out), f"--account-level={bad}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"--account-level: give a positive number, not '{bad}'" in proc.stderr
    assert not out.exists()
