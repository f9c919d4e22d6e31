"""The policy node: catalog errors name the field; patterns and messages compile as documented."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.compiler import describe_statement, statement_pattern
from soc2opa.catalog import load_catalog
from soc2opa.errors import CatalogError
from tests.conftest import ROOT

VALID: dict[str, Any] = yaml.safe_load(
    (ROOT / "controls/s3/s3_bucket_policy_no_public_principal.yaml").read_text()
)

CASES = {
    "no statement pattern": (
        lambda c: c.pop("no_statement"),
        "check: a policy check takes exactly one of no_statement or some_statement",
    ),
    "both statement patterns": (
        lambda c: c.update(some_statement={"effect": "Deny"}),
        "check: a policy check takes exactly one of no_statement or some_statement",
    ),
    "pattern without policy": (
        lambda c: (c.pop("policy"), c.update(attr="policy", exists=True)),
        "check: a policy check takes exactly one of no_statement or some_statement",
    ),
    "bad principal": (
        lambda c: c["no_statement"].update(principal="anyone"),
        "check.no_statement.principal: 'anyone' is not one of",
    ),
    "bad effect": (
        lambda c: c["no_statement"].update(effect="allow"),
        "check.no_statement.effect: 'allow' is not one of",
    ),
    "unknown pattern field": (
        lambda c: c["no_statement"].update(resource="*"),
        "Additional properties are not allowed ('resource'",
    ),
    "action without service": (
        lambda c: c["no_statement"].update(actions=["GetObject"]),
        "check.no_statement.actions.0:",
    ),
    "condition without value": (
        lambda c: c["no_statement"].update(condition={"test": "Bool", "key": "aws:x"}),
        "check.no_statement.condition:",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_policy_node_errors_name_file_and_field(tmp_path: Path, case: str) -> None:
    change, expected = CASES[case]
    data = copy.deepcopy(VALID)
    change(data["check"])
    folder = tmp_path / "s3"
    folder.mkdir()
    path = folder / f"{data['id']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path)
    assert info.value.message.startswith(f"{path}: ")
    assert expected in info.value.message


def test_statement_pattern_lowers_condition_keys_and_lists_conditions() -> None:
    spec = {
        "effect": "Allow",
        "principal": "public",
        "restricted_by": ["aws:SourceArn", "aws:sourcearn", "aws:PrincipalOrgID"],
        "condition": {"test": "NumericLessThan", "key": "s3:TlsVersion", "value": 1.2},
    }
    assert statement_pattern(spec) == {
        "effect": "Allow",
        "principal": "public",
        "restricted_by": ["aws:principalorgid", "aws:sourcearn"],
        "condition": [{"test": "NumericLessThan", "key": "s3:TlsVersion", "value": "1.2"}],
    }


def test_statement_descriptions_read_as_phrases() -> None:
    assert describe_statement({"effect": "Allow", "principal": "public"}) == (
        "an Allow statement for everyone without a restricting condition",
        "Allow statement for everyone without a restricting condition",
    )
    deny = {
        "effect": "Deny",
        "principal": "everyone",
        "actions": ["s3:*"],
        "condition": [{"test": "Bool", "key": "aws:SecureTransport", "value": "false"}],
    }
    assert describe_statement(deny)[0] == (
        'a Deny statement for everyone covering s3:* under condition Bool aws:SecureTransport "false"'
    )
    assert (
        describe_statement({"actions_any": ["s3:Get*"]})[1] == "statement covering any of s3:Get*"
    )
