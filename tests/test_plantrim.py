"""opa gets only the parts of a plan the bundle reads, and judges it exactly as the whole plan.

The real opa judges every plan of ../shared/plans, every planned example under tests/plans,
a synthetic plan and crafted ones twice, whole and trimmed; the raw reports and the sensitivity
markings the Rego collects must be equal.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from benchmarks.synth import plan_bytes
from generator.input_reads import policy_reads, rego_reads
from soc2opa.bundlecache import cached_bundle
from soc2opa.engine import QUERY, LocalEngine
from soc2opa.planfile import PlanFile, parse_plan
from soc2opa.plantrim import SENSITIVE_VALUES, PolicyReads, markings_only
from tests.conftest import BUNDLE, ROOT, Run
from tests.example_plans import example_plans

pytestmark = pytest.mark.usefixtures("private_cache")

GROUP = 48
PARTS = 4
# The markings that can mark a value (those holding true somewhere); the engine leaves the rest
# out, and sensitive_at reads only these.
MARKINGS = (
    "{a: ms | some a, all in data.soc2opa.lib.plan._pv_sensitive; "
    "ms := [m | some m in all; [v | walk(m, [_, v]); v == true] != []]; ms != []}"
)
# The report and the markings for each plan of input.plans, in one opa eval.
BOTH = f"[[r, m] | some p in input.plans; r := {QUERY} with input as p; m := {MARKINGS} with input as p]"


def _reads() -> PolicyReads:
    cached = cached_bundle(BUNDLE)
    assert cached is not None and cached.reads is not None, "the bundle declares no input reads"
    return cached.reads


def _judged(opa: Path, inputs: list[bytes]) -> list[str]:
    """Reports and markings of each input from the whole bundle (no selection, no trimming)."""
    out: list[str] = []
    engine = LocalEngine(opa, BUNDLE, select=False)
    for start in range(0, len(inputs), GROUP):
        group = inputs[start : start + GROUP]
        combined = PlanFile(name="plans", data=b'{"plans":[' + b",".join(group) + b"]}")
        value = engine.query(BOTH, combined)
        assert isinstance(value, list) and len(value) == len(group)
        out += [json.dumps(v) for v in value]
    return out


def _assert_same(opa: Path, plans: list[PlanFile]) -> None:
    reads = _reads()
    whole = _judged(opa, [p.data for p in plans])
    trimmed = _judged(opa, [p.for_policy(reads) for p in plans])
    for plan, a, b in zip(plans, whole, trimmed, strict=True):
        assert a == b, f"{plan.name}: the trimmed plan is judged differently"


def test_the_bundle_declares_what_its_rego_reads() -> None:
    reads = _reads()
    assert {"resource_changes", "configuration", "planned_values", "format_version"} <= reads.keys
    assert not {"prior_state", "variables", "output_changes", "resource_drift"} & reads.keys
    assert reads.planned_values == SENSITIVE_VALUES
    assert reads == policy_reads(ROOT / "rego")


def test_shared_plans_trimmed_are_judged_the_same(opa: Path, shared_plans: Path) -> None:
    plans = [parse_plan(p.read_bytes(), p.name) for p in sorted(shared_plans.glob("*.json"))]
    assert len(plans) >= 40
    reads = _reads()
    assert sum(len(p.for_policy(reads)) < len(p.data) for p in plans) >= 40
    _assert_same(opa, plans)


# The examples in parts, so that parallel test workers share them out.
@pytest.mark.parametrize("part", range(PARTS))
def test_planned_examples_trimmed_are_judged_the_same(opa: Path, part: int) -> None:
    plans = example_plans()
    assert len(plans) >= 1000
    _assert_same(opa, plans[part::PARTS])


def test_a_synthetic_plan_trimmed_is_judged_the_same(opa: Path) -> None:
    plan = parse_plan(plan_bytes(1500, seed=3), "synthetic-1500")
    assert plan.markings is not None and len(plan.for_policy(_reads())) < 0.8 * len(plan.data)
    _assert_same(opa, [plan])


def _resource(address: str, marks: Any, **values: Any) -> dict[str, Any]:
    out = {"address": address, "mode": "managed", "type": address.split(".")[0], "name": "x"}
    return {**out, "values": values, "sensitive_values": marks}


def _crafted() -> list[dict[str, Any]]:
    change = {
        "address": "aws_db_instance.db",
        "mode": "managed",
        "type": "aws_db_instance",
        "name": "db",
        "change": {
            "actions": ["create"],
            "after": {"password": "hunter2", "storage_encrypted": False},
        },
    }
    marked = _resource("aws_db_instance.db", {"password": True}, password="hunter2")
    odd_marks = [
        _resource(f"aws_s3_bucket.b{i}", m)
        for i, m in enumerate(
            [0, None, [], {}, False, True, {"tags": {}}, {"n": 1}, {"l": [{}, {"k": True}]}]
        )
    ]
    shapes: list[Any] = [
        {"root_module": {"resources": [marked, *odd_marks]}},
        {"root_module": {"child_modules": [{"resources": [marked]}, {"child_modules": [{}]}]}},
        {"root_module": {"child_modules": {"a": {"resources": [marked]}}}},
        {"root_module": {"resources": {"a": marked}}},
        {"root_module": {"resources": [marked, "not an object"]}},
        {"root_module": []},
        {"outputs": {}},
        [],
        False,
    ]
    deep: dict[str, Any] = {"resources": [marked]}
    for _ in range(9):
        deep = {"child_modules": [deep]}
    shapes.append({"root_module": deep})
    plans = []
    for pv in shapes:
        plans.append({"format_version": "1.2", "resource_changes": [change], "planned_values": pv,
                      "prior_state": {"values": {}}, "variables": {"pw": {"value": "hunter2"}}})  # fmt: skip
    plans.append({"format_version": "1.2", "planned_values": shapes[0]})
    plans.append({"format_version": "1.2", "resource_changes": [], "planned_values": shapes[0]})
    plans.append({"format_version": "1.2", "resource_changes": {}, "planned_values": shapes[0]})
    return plans


def test_crafted_planned_values_are_judged_the_same(opa: Path) -> None:
    plans = [parse_plan(json.dumps(d).encode(), f"crafted-{i}") for i, d in enumerate(_crafted())]
    # Unusual shapes are passed whole; usual ones cut down to their markings.
    usual = [p.markings is not None for p in plans[:10]]
    assert usual == [True, True, False, False, False, False, True, False, False, True]
    assert [p.markings for p in plans[10:]] == [None, None, None]
    sent = json.loads(plans[0].for_policy(_reads()))
    assert set(sent) == {"format_version", "resource_changes", "planned_values"}
    assert '"values"' not in json.dumps(sent["planned_values"])
    _assert_same(opa, plans)


def test_markings_keep_what_the_rego_filters_the_same_way() -> None:
    marked = _resource("a.b", {"password": True}, password="x")
    nested = _resource("a.g", {"tags": {}, "ebs": [{}, {"kms_key_id": True}]})
    whole = _resource("a.h", True)
    unmarked = [_resource("a.c", {}), _resource("a.d", False), _resource("a.e", 0),
                _resource("a.f", None), _resource("a.i", {"tags": {}, "ebs": [{}, []]}),
                _resource("a.j", {"n": 1, "s": "true", "l": [1.0]})]  # fmt: skip
    pv = {"root_module": {"resources": [marked, *unmarked, nested, whole],
                          "child_modules": [{"address": "module.m"}]}}  # fmt: skip
    got = json.loads(markings_only(pv) or b"null")
    assert got == {"root_module": {"resources": [
        {"address": "a.b", "sensitive_values": {"password": True}},
        {"address": "a.g", "sensitive_values": {"tags": {}, "ebs": [{}, {"kms_key_id": True}]}},
        {"address": "a.h", "sensitive_values": True},
    ], "child_modules": [{}]}}  # fmt: skip
    assert markings_only({"root_module": {"child_modules": "x"}}) is None
    assert markings_only({}) == b"{}"


def test_trimmed_bytes_are_the_members_read(tmp_path: Path) -> None:
    text = ('\ufeff {"variables": {"v": "é"}, "format_version" :"1.2", "format_version": "1.1",'
            ' "resource_changes": [{"address": "a.é", "type": "aws_s3_bucket"}] ,'
            ' "prior_state": {"x": "ü"}, "planned_values": {"root_module": {"resources": []}} }\n')  # fmt: skip
    for encoding in ("utf-8", "utf-16", "utf-32"):
        plan = parse_plan(text.encode(encoding), "p")
        reads = PolicyReads(frozenset({"format_version", "resource_changes", "planned_values"}))
        assert json.loads(plan.for_policy(reads)) == {
            "format_version": "1.1",
            "resource_changes": [{"address": "a.é", "type": "aws_s3_bucket"}],
            "planned_values": {"root_module": {"resources": []}},
        }
        marks = PolicyReads(reads.keys, SENSITIVE_VALUES)
        assert json.loads(plan.for_policy(marks))["planned_values"] == {
            "root_module": {"resources": []}
        }
        assert plan.types == {"aws_s3_bucket"}
        assert plan.for_policy(None) == plan.data


def test_rego_reads_names_each_member_or_gives_up() -> None:
    assert rego_reads("x := input.resource_changes\ny := object.get(input, \"a\", 1)") == {
        "resource_changes", "a"}  # fmt: skip
    assert rego_reads('# input[x] in a comment\nx if is_object(input)\ny := "input"') == set()
    assert rego_reads("x := input[k]") is None
    assert rego_reads("x := f(input)") is None
    assert rego_reads("x := object.get(input, k, 1)") is None
    assert rego_reads("x := walk(input)  # reads input.a") is None


def _capturing_opa(tmp_path: Path, opa: Path) -> Path:
    """An opa that keeps a copy of each plan it is given on its standard input."""
    wrapper = tmp_path / "opa"
    wrapper.write_text(
        f'#!/bin/sh\ncase "$*" in *stdin-input*) f={tmp_path}/stdin.$$; cat > "$f"; '
        f'exec {opa} "$@" < "$f";; esac\nexec {opa} "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper


def _sent(tmp_path: Path) -> list[bytes]:
    files = sorted(tmp_path.glob("stdin.*"))
    out = [f.read_bytes() for f in files]
    for f in files:
        f.unlink()
    return out


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_eval_gives_opa_only_what_the_bundle_reads(
    tmp_path: Path, opa: Path, run: Run, jobs: str
) -> None:
    doc = json.loads(plan_bytes(300, seed=1))
    doc["variables"] = {"secret": {"value": "do-not-send"}}
    doc["prior_state"] = {"values": {"root_module": {}}}
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(doc))
    wrapper = _capturing_opa(tmp_path, opa)
    env = {**os.environ, "SOC2OPA_JOBS": jobs}
    whole = run(
        "eval", str(plan), "--format", "json", "--no-select", "--opa-path", str(wrapper), env=env
    )
    assert whole.returncode in (0, 1), whole.stderr
    assert [b"do-not-send" in sent for sent in _sent(tmp_path)] == [True]
    got = run("eval", str(plan), "--format", "json", "--opa-path", str(wrapper), env=env)
    assert got.returncode == whole.returncode, got.stderr
    sent = _sent(tmp_path)
    assert len(sent) == int(jobs)
    for one in sent:
        assert b"do-not-send" not in one and b"prior_state" not in one
        assert b'"resource_changes"' in one and b'"configuration"' in one
    assert json.loads(got.stdout)["controls"] == json.loads(whole.stdout)["controls"]
