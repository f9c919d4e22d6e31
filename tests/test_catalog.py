"""The catalog: every real control validates; each kind of mistake names the file and field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from soc2opa.catalog import load_catalog
from soc2opa.criteria import CRITERIA
from soc2opa.errors import CatalogError
from tests.conftest import ROOT

# A control whose check is a single attr node, which the mutations below rely on.
VALID: dict[str, Any] = yaml.safe_load(
    (ROOT / "controls/rds/rds_instance_deletion_protection.yaml").read_text()
)


def test_real_catalog_is_valid() -> None:
    controls = load_catalog(ROOT / "controls")
    assert len(controls) >= 2
    ids = [c.id for c in controls]
    assert len(ids) == len(set(ids))
    for c in controls:
        assert set(c.data["criteria"]) <= set(CRITERIA)
        assert c.path.stem == c.id and c.path.parent.name == c.service


def _write(root: Path, data: Any, service: str = "rds", name: str | None = None) -> Path:
    folder = root / service
    folder.mkdir(parents=True, exist_ok=True)
    stem = name or (data.get("id") if isinstance(data, dict) else "x")
    path = folder / f"{stem}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _mutated(change) -> dict[str, Any]:
    data = copy.deepcopy(VALID)
    change(data)
    return data


CASES = {
    "missing title": (lambda d: d.pop("title"), "(top level): 'title' is a required property"),
    "bad severity": (lambda d: d.update(severity="severe"), "severity: 'severe' is not one of"),
    "unknown criterion": (
        lambda d: d.update(criteria=["CC6.1", "CC10.1"]),
        "criteria[1]: 'CC10.1' is not a 2017 Trust Services Criteria id",
    ),
    "bad resource type": (lambda d: d.update(resource_types=["s3_bucket"]), "resource_types.0:"),
    "unknown field": (
        lambda d: d.update(colour="red"),
        "Additional properties are not allowed ('colour'",
    ),
    "no operator": (
        lambda d: d["check"].pop("truthy"),
        "check: an attr check needs exactly one of",
    ),
    "two operators": (
        lambda d: d["check"].update(equals=True),
        "check: an attr check needs exactly one of",
    ),
    "bad regex": (
        lambda d: d.update(check={"attr": "engine", "matches": "(unclosed"}),
        "check.matches: invalid regular expression",
    ),
    "bad path": (lambda d: d["check"].update(attr="a..b"), "check.attr:"),
    "no fail example": (
        lambda d: d.update(examples=[{**e, "expect": "pass"} for e in d["examples"]]),
        "needs at least one example with expect: fail",
    ),
    "computed needs unknown": (
        lambda d: (
            d.update(check={"attr": "backup_retention_period", "gte": 7}),
            d.update(examples=[e for e in d["examples"] if e["expect"] != "unknown"]),
        ),
        "needs an expect: unknown example",
    ),
    "example without resource": (
        lambda d: [d["examples"][0].pop(k, None) for k in ("hcl", "values", "resources")],
        "examples[0]: give exactly one of hcl, values (one resource) or resources",
    ),
    "operator outside attr": (
        lambda d: d.update(check={"all": [d["check"]], "equals": 1}),
        "check: equals belongs with attr",
    ),
    "items without check": (
        lambda d: d.update(check={"all_items": "rule"}),
        "check: needs a check for the items",
    ),
    "bad if_unknown": (
        lambda d: d["check"].update(if_unknown="guess"),
        "check.if_unknown: 'guess' is not one of ['unknown', 'fail', 'default']",
    ),
    "if_unknown default on a policy": (
        lambda d: d.update(
            check={"policy": "policy", "no_statement": {"effect": "Allow"}, "if_unknown": "default"}
        ),
        "check.if_unknown: default applies to attr and item checks, not policies",
    ),
    "the old unset_if_undeclared (now if_unknown: default)": (
        lambda d: d["check"].update(unset_if_undeclared=True),
        "Unevaluated properties are not allowed ('unset_if_undeclared'",
    ),
    "fail_message on in_backup_plan": (
        lambda d: d.update(check={"in_backup_plan": True, "fail_message": "x"}),
        "check.fail_message: not for in_backup_plan or rego",
    ),
    "counted relation without check": (
        lambda d: d.update(
            check={
                "referenced_by": {"type": "aws_backup_selection", "via": "resources"},
                "min_count": 2,
            }
        ),
        "check: min_count needs a check",
    ),
    "in_backup_plan inside items": (
        lambda d: d.update(check={"all_items": "tags_all", "check": {"in_backup_plan": True}}),
        "check.check.in_backup_plan: sits at resource level only",
    ),
    "in_plan of an unknown type": (
        lambda d: d.update(check={"in_plan": {"type": "aws_no_such_thing"}}),
        "check.in_plan.type",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_catalog_errors_name_file_and_field(tmp_path: Path, case: str) -> None:
    change, expected = CASES[case]
    path = _write(tmp_path, _mutated(change), name=VALID["id"])
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path)
    assert info.value.message.startswith(f"{path}: ")
    assert expected in info.value.message


def test_id_must_match_file_and_folder(tmp_path: Path) -> None:
    _write(tmp_path, VALID, name="other_name")
    with pytest.raises(CatalogError, match="does not match the file name"):
        load_catalog(tmp_path)
    (tmp_path / "rds" / "other_name.yaml").unlink()
    _write(tmp_path, VALID, service="s3")
    with pytest.raises(CatalogError, match="does not match the folder 's3'"):
        load_catalog(tmp_path)


def test_duplicate_and_retired_ids(tmp_path: Path) -> None:
    _write(tmp_path, VALID)
    (tmp_path / "RETIRED").write_text(f"# retired\n{VALID['id']}  # replaced\n")
    with pytest.raises(CatalogError, match="was retired and cannot be reused"):
        load_catalog(tmp_path)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    folder = tmp_path / "rds"
    folder.mkdir()
    (folder / "broken.yaml").write_text("id: broken\ntitle: [unclosed\n")
    with pytest.raises(CatalogError, match=r"broken.yaml: line \d+: invalid YAML"):
        load_catalog(tmp_path)


def test_empty_catalog(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="no control files"):
        load_catalog(tmp_path)
