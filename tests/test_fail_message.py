"""fail_message: a node's fixed reason for a fail, so a message never names unrelated values."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from generator.compiler import CheckCompiler
from soc2opa.catalog import load_catalog
from soc2opa.errors import CatalogError
from tests.conftest import ROOT

PLANS = ROOT / "tests/plans/rds/rds_instance_ssl_enforced.json"


def _messages(eval_json: Callable[..., dict[str, Any]], tmp_path: Path, slug: str) -> list[str]:
    plan = json.loads(PLANS.read_text())["examples"][slug]
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    report = eval_json(path, "--control", "rds_instance_ssl_enforced")
    return [
        r["message"]
        for r in report["results"]
        if r["status"] == "fail" and r["resource_address"].endswith("aws_db_instance.db")
    ]


def test_ssl_enforced_fail_names_only_the_parameters_it_needs(
    eval_json: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    # The group sets rds.force_ssl = "0"; the message once also said 'require_secure_transport
    # is "0"', naming a parameter the group does not have.
    slug = "postgresql_14_instance_whose_group_leaves_rds_force_ssl_off"
    [message] = _messages(eval_json, tmp_path, slug)
    assert message.endswith(
        "aws_db_parameter_group.pg: no parameter sets rds.force_ssl = 1 or "
        "require_secure_transport = ON or 1"
    ), message
    assert "require_secure_transport is" not in message
    assert "rds.force_ssl is" not in message


def test_fail_message_wraps_the_reasons_of_its_node() -> None:
    compiler = CheckCompiler("x")
    compiler.compile({"attr": "a", "equals": 1, "fail_message": "a must be one"}, ["aws_s3_bucket"])
    text = "".join(compiler.out.functions)
    assert 'check.fail_message(want, "a must be one", check.why_value(' in text


def test_fail_message_on_a_wildcard_path_belongs_to_the_list() -> None:
    compiler = CheckCompiler("x")
    node = {"attr": "rule[*].x", "equals": 1, "fail_message": "no rule sets x"}
    compiler.compile(node, ["aws_s3_bucket"])
    text = "".join(compiler.out.functions)
    assert text.count("check.fail_message(") == 1
    assert 'check.fail_message(want, "no rule sets x", check.why_items(' in text


@pytest.mark.parametrize("node", [{"in_backup_plan": True}, {"rego": "file"}])
def test_fail_message_is_refused_where_reasons_are_custom(
    node: dict[str, Any], tmp_path: Path
) -> None:
    src = ROOT / "controls/dynamodb/dynamodb_table_in_backup_plan.yaml"
    text = src.read_text().replace(
        "in_backup_plan: true", "in_backup_plan: true\n  fail_message: x"
    )
    if "rego" in node:
        text = text.replace("in_backup_plan: true", "rego: file")
    folder = tmp_path / "controls/dynamodb"
    folder.mkdir(parents=True)
    (folder / src.name).write_text(text)
    (folder / "dynamodb_table_in_backup_plan.rego").write_text("")
    with pytest.raises(CatalogError, match="fail_message: not for in_backup_plan or rego"):
        load_catalog(tmp_path / "controls")
