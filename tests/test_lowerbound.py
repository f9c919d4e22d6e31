"""The benchmark's lower-bound policy: valid Rego v1 that judges each (control, resource) once."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.lowerbound import QUERY, write_policy
from benchmarks.synth import write_plan
from soc2opa.bundlecache import cached_bundle
from tests.conftest import BUNDLE


def test_lower_bound_judges_every_pair_once(tmp_path: Path, opa: Path) -> None:
    selection = cached_bundle(BUNDLE)
    assert selection is not None
    assert write_policy(selection.types, tmp_path / "policy") == len(selection.types) >= 240
    check = subprocess.run(
        [str(opa), "check", "--strict", str(tmp_path / "policy")], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    plan = write_plan(tmp_path / "plan.json", 300, seed=2)
    proc = subprocess.run(
        [str(opa), "eval", "-d", str(tmp_path / "policy"), "-i", str(plan), "--format", "json",
         QUERY], capture_output=True, text=True, check=True,
    )  # fmt: skip
    decisions = json.loads(proc.stdout)["result"][0]["expressions"][0]["value"]
    changes = json.loads(plan.read_text())["resource_changes"]
    per_type = Counter(r["type"] for r in changes)
    for cid, types in selection.types.items():
        d = decisions[cid]
        judged = sorted([*d["pass"], *d["fail"]])
        want = sorted(r["address"] for r in changes if r["type"] in types)
        assert judged == want, cid
        assert len(judged) == sum(per_type[t] for t in set(types))
    failing = [a for d in decisions.values() for a in d["fail"]]
    assert failing and len(failing) < sum(
        len(d["pass"]) + len(d["fail"]) for d in decisions.values()
    )


def test_lower_bound_refuses_a_control_id_that_is_not_a_rego_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not a control id"):
        write_policy({"x; package evil": ["aws_s3_bucket"]}, tmp_path)
