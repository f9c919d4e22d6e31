"""if_unknown: default, the one way to judge an unset Optional+Computed value by its AWS default.

It replaced `unset_if_undeclared: true`; the two differed in the message and in plans without
configuration. Now an undeclared unknown value takes the default and says so; a written one, or
one on a resource whose configuration the plan lacks, stays unknown.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from generator.compiler import CheckCompiler
from tests.conftest import ROOT, outcome

PLAN = ROOT / "tests/plans/dynamodb/dynamodb_table_kms_encrypted.json"


def test_compiled_reason_names_the_default() -> None:
    compiler = CheckCompiler("x")
    node = {"attr": "a", "truthy": True, "default": False, "if_unknown": "default"}
    compiler.compile(node, ["aws_dynamodb_table"])
    text = "".join(compiler.out.functions)
    assert 'check.value(r, ["a"], "truthy", null, false, "default")' in text
    assert "check.why_default(r, " in text
    assert "config." not in text


def _examples() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(PLAN.read_text())["examples"]
    return doc


def test_undeclared_block_takes_the_default_with_that_reason(
    eval_json: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    plan = _examples()["planned_table_without_server_side_encryption"]
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    report = eval_json(path, "--control", "dynamodb_table_kms_encrypted")
    [result] = [r for r in report["results"] if r["resource_type"] == "aws_dynamodb_table"]
    assert result["status"] == "fail"
    assert "is not set in the configuration, so false by default" in result["message"]


def test_without_configuration_an_unknown_value_stays_unknown(
    eval_json: Callable[..., dict[str, Any]], shared_plans: Path
) -> None:
    # The same stack with and without configuration: the gateway's vpc_id is written
    # (aws_vpc.web_vpc.id), so only the plan that carries the configuration can tell.
    report = eval_json(
        shared_plans
        / "checkov__terraform_runner_tf_plan_skip_check_regex_resource_skip_directory_tfplan2.json",
        "--control",
        "vpc_igw_attached_to_authorized_vpc",
    )
    address = "aws_internet_gateway.web_igw"
    assert outcome(report, "vpc_igw_attached_to_authorized_vpc", address) == "unknown"
    with_cfg = eval_json(
        shared_plans / "checkov__plan_tfplan.json",
        "--control",
        "vpc_igw_attached_to_authorized_vpc",
    )
    assert outcome(with_cfg, "vpc_igw_attached_to_authorized_vpc", address) == "pass"
