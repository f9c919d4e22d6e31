"""Attribute paths are checked against the AWS provider schema; computed is derived from it."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.build import _format_all, render_control
from generator.provider_schema import HEADER, render, trim
from soc2opa.catalog import catalog_types, load_catalog
from soc2opa.errors import CatalogError
from soc2opa.provider_schema import SCHEMA_FILE, provider_schema, staleness
from tests.conftest import ROOT, Run
from tests.test_generator import _copy_checkout

BASE: dict[str, Any] = {
    "id": "schema_case",
    "title": "A control written for a schema test",
    "description": "Exercises one path rule of the validator.",
    "service": "rds",
    "resource_types": ["aws_db_instance"],
    "criteria": ["CC6.1"],
    "severity": "low",
    "check": {"attr": "storage_encrypted", "truthy": True},
    "remediation": {"text": "Fix the resource.", "terraform": 'resource "x" "y" {}'},
    "examples": [
        {"name": "good", "expect": "pass", "values": {}},
        {"name": "bad", "expect": "fail", "values": {}},
        {"name": "later", "expect": "unknown", "values": {}},
    ],
}


def _load(tmp_path: Path, types: list[str], check: dict[str, Any], **extra: Any) -> Path:
    data = copy.deepcopy(BASE)
    data.update(resource_types=types, check=check, **extra)
    folder = tmp_path / "rds"
    folder.mkdir(exist_ok=True)
    path = folder / "schema_case.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    load_catalog(tmp_path)
    return path


def _error(tmp_path: Path, types: list[str], check: dict[str, Any], **extra: Any) -> str:
    with pytest.raises(CatalogError) as info:
        _load(tmp_path, types, check, **extra)
    message = info.value.message
    assert message.startswith(f"{tmp_path / 'rds' / 'schema_case.yaml'}: "), message
    return message


WRONG = {
    "typo": (
        ["aws_db_instance"],
        {"attr": "storage_encryptd", "truthy": True},
        'check.attr: "storage_encryptd" is not a path of aws_db_instance (hashicorp/aws 5.100.0)'
        ': at storage_encryptd: no attribute or block named "storage_encryptd"; '
        "did you mean storage_encrypted?",
    ),
    "block read as an attribute": (
        ["aws_cloudfront_distribution"],
        {"attr": "logging_config.bucket", "exists": True},
        "at logging_config.bucket: 'logging_config', a nested block (list in plan JSON): "
        "write logging_config[0].bucket or logging_config[*].bucket",
    ),
    "single block indexed": (
        ["aws_db_instance"],
        {"attr": "timeouts[0].create", "exists": True},
        "'timeouts', a single nested block (an object in plan JSON) takes no index; "
        "write timeouts.<attribute>",
    ),
    "below a primitive": (
        ["aws_db_instance"],
        {"attr": "storage_encrypted.enabled", "truthy": True},
        "at storage_encrypted.enabled: 'storage_encrypted', a bool attribute has nothing below it",
    ),
    "set attribute not indexed": (
        ["aws_db_instance"],
        {"attr": "vpc_security_group_ids.first", "exists": True},
        "'vpc_security_group_ids', a set of string attribute: index it",
    ),
    "object attribute field": (
        ["aws_acm_certificate"],
        {"attr": "domain_validation_options[*].record_name", "exists": True},
        'has no field "record_name"; did you mean resource_record_name?',
    ),
    "items over a non-list": (
        ["aws_db_instance"],
        {"all_items": "storage_encrypted", "check": {"attr": "x", "exists": True}},
        "check.all_items: \"storage_encrypted\" is 'storage_encrypted', a bool attribute, "
        "not a list of items",
    ),
    "items path relative to the element": (
        ["aws_cloudfront_distribution"],
        {
            "all_items": "ordered_cache_behavior",
            "check": {"attr": "ordered_cache_behavior[0].viewer_protocol_policy", "exists": True},
        },
        'check.check.attr: "ordered_cache_behavior[0].viewer_protocol_policy" is not a path of '
        "aws_cloudfront_distribution ordered_cache_behavior[*]",
    ),
    "referenced_by via on the related type": (
        ["aws_s3_bucket"],
        {
            "referenced_by": {
                "type": "aws_s3_bucket_server_side_encryption_configuration",
                "via": "bucket_name",
            },
            "check": {"attr": "bucket", "exists": True},
        },
        'check.referenced_by.via: "bucket_name" is not a path of '
        "aws_s3_bucket_server_side_encryption_configuration",
    ),
    "refers_to via on the judged type": (
        ["aws_backup_vault"],
        {
            "refers_to": {"type": "aws_kms_key", "via": "kms_key_id"},
            "check": {"attr": "is_enabled", "truthy": True},
        },
        'check.refers_to.via: "kms_key_id" is not a path of aws_backup_vault '
        '(hashicorp/aws 5.100.0): at kms_key_id: no attribute or block named "kms_key_id"; '
        "did you mean kms_key_arn?",
    ),
    "relation check on the related type": (
        ["aws_s3_bucket"],
        {
            "referenced_by": {
                "type": "aws_s3_bucket_server_side_encryption_configuration",
                "via": "bucket",
            },
            "check": {"attr": "sse_algorithm", "exists": True},
        },
        'check.check.attr: "sse_algorithm" is not a path of '
        "aws_s3_bucket_server_side_encryption_configuration",
    ),
    "unknown resource type": (
        ["aws_db_instanse"],
        {"attr": "storage_encrypted", "truthy": True},
        "resource_types[0]: aws_db_instanse is not a resource type of hashicorp/aws 5.100.0; "
        "did you mean aws_db_instance",
    ),
    "unknown related type": (
        ["aws_s3_bucket"],
        {
            "referenced_by": {"type": "aws_s3_bucket_versioning_config", "via": "bucket"},
            "check": {"attr": "bucket", "exists": True},
        },
        "check.referenced_by.type: aws_s3_bucket_versioning_config is not a resource type",
    ),
    "bool literal on a string-typed boolean": (
        ["aws_launch_template"],
        {"attr": "block_device_mappings[*].ebs[*].encrypted", "equals": True},
        'check.equals: true is a bool, but "block_device_mappings[*].ebs[*].encrypted" is '
        "'encrypted', a string attribute, so a plan never holds this value there "
        '(the provider types it as a string: write "true"/"false", or truthy/falsy)',
    ),
    "operator on the wrong type": (
        ["aws_db_instance"],
        {"attr": "storage_encrypted", "matches": "^t"},
        "check.matches: \"storage_encrypted\" is 'storage_encrypted', a bool attribute, but "
        "matches applies to string values",
    ),
    "default of the wrong type": (
        ["aws_db_instance"],
        {"attr": "storage_encrypted", "truthy": True, "default": 0},
        "check.default: 0 is a number, but \"storage_encrypted\" is 'storage_encrypted', a bool",
    ),
    "computed flag contradicting the schema": (
        ["aws_db_instance"],
        {"attr": "storage_encrypted", "truthy": True, "computed": True},
        'check.computed: True contradicts the provider schema, where "storage_encrypted" is '
        "not computed by the provider; remove the flag",
    ),
    "policy document that is not a string": (
        ["aws_db_instance"],
        {"policy": "storage_encrypted", "no_statement": {"effect": "Allow"}},
        "check.policy: \"storage_encrypted\" is 'storage_encrypted', a bool attribute, not a "
        "JSON-encoded policy string",
    ),
    "policy path typo": (
        ["aws_s3_bucket_policy"],
        {"policy": "policy_document", "no_statement": {"effect": "Allow"}},
        'check.policy: "policy_document" is not a path of aws_s3_bucket_policy',
    ),
    "v6 path shape mixed with v5": (
        ["aws_bedrock_model_invocation_logging_configuration"],
        {"attr": "logging_config[0].s3_config.bucket_name", "exists": True},
        "(hashicorp/aws 5.100.0 or v6)",
    ),
}


@pytest.mark.parametrize("case", sorted(WRONG))
def test_wrong_paths_name_the_file_and_the_path(tmp_path: Path, case: str) -> None:
    types, check, expected = WRONG[case]
    assert expected in _error(tmp_path, types, check)


RIGHT = {
    "list block element": (["aws_cloudfront_distribution"], {"attr": "logging_config[0].bucket"}),
    "every element": (
        ["aws_cloudfront_distribution"],
        {"attr": "ordered_cache_behavior[*].compress"},
    ),
    "nested blocks": (
        ["aws_launch_template"],
        {"attr": "block_device_mappings[*].ebs[*].encrypted"},
    ),
    "list attribute of objects": (
        ["aws_acm_certificate"],
        {"attr": "domain_validation_options[*].resource_record_name"},
    ),
    "map attribute key": (["aws_db_instance"], {"attr": "tags.Owner"}),
    "quoted map key": (["aws_db_instance"], {"attr": 'tags["aws:cloudformation:stack-name"]'}),
    "single block as an object (v5)": (
        ["aws_bedrock_model_invocation_logging_configuration"],
        {"attr": "logging_config.s3_config.bucket_name"},
    ),
    "single block as a list (v6)": (
        ["aws_bedrock_model_invocation_logging_configuration"],
        {"attr": "logging_config[0].s3_config[0].bucket_name"},
    ),
    "a block removed in v6 is still valid in v5": (
        ["aws_redshift_cluster"],
        {"attr": "logging[0].enable"},
    ),
    "a path of one of several judged types": (
        ["aws_db_instance", "aws_rds_cluster"],
        {"attr": "cluster_identifier"},
    ),
}


@pytest.mark.parametrize("case", sorted(RIGHT))
def test_right_paths_validate(tmp_path: Path, case: str) -> None:
    types, check = RIGHT[case]
    _load(tmp_path, types, {**check, "exists": True})


def test_items_scope_and_relations_resolve(tmp_path: Path) -> None:
    _load(
        tmp_path,
        ["aws_s3_bucket"],
        {
            "any": [
                {
                    "any_items": "server_side_encryption_configuration",
                    "check": {
                        "attr": "rule[*].apply_server_side_encryption_by_default[0].sse_algorithm",
                        "exists": True,
                    },
                },
                {
                    "referenced_by": {
                        "type": "aws_s3_bucket_server_side_encryption_configuration",
                        "via": "bucket",
                    },
                    "check": {
                        "all_items": "rule",
                        "check": {"attr": "bucket_key_enabled", "truthy": True},
                    },
                },
            ]
        },
    )


def test_computed_is_derived_from_the_schema(tmp_path: Path) -> None:
    no_unknown = [e for e in BASE["examples"] if e["expect"] != "unknown"]
    # Optional+Computed in the schema: the control must show the unknown outcome.
    message = _error(
        tmp_path, ["aws_ebs_volume"], {"attr": "encrypted", "truthy": True}, examples=no_unknown
    )
    assert (
        "examples: check.attr encrypted is computed by the provider (unknown at plan time when "
        "the configuration leaves it out), so the control needs an expect: unknown example"
    ) in message
    # Computed-only attributes count, and so does a computed list an item scope walks.
    for check in (
        {"attr": "arn", "exists": True},
        {"attr": "vpc_security_group_ids[*]", "matches": "^sg-"},
    ):
        with pytest.raises(CatalogError, match="needs an expect: unknown example"):
            _load(tmp_path, ["aws_db_instance"], check, examples=no_unknown)
    # Optional without computed: no unknown example needed.
    _load(
        tmp_path,
        ["aws_db_instance"],
        {"attr": "storage_encrypted", "truthy": True},
        examples=no_unknown,
    )
    # A flag that agrees with the schema is redundant but accepted.
    _load(tmp_path, ["aws_ebs_volume"], {"attr": "encrypted", "truthy": True, "computed": True})


def test_v6_string_booleans_and_defaults_validate_in_both_forms(tmp_path: Path) -> None:
    for literal in (True, "true"):
        _load(tmp_path, ["aws_redshift_cluster"], {"attr": "encrypted", "equals": literal})
    message = _error(tmp_path, ["aws_redshift_cluster"], {"attr": "encrypted", "equals": 1})
    assert "check.equals: 1 is a number" in message


V6_CONTROL = {
    **BASE,
    "id": "redshift_v5_and_v6",
    "service": "redshift",
    "resource_types": ["aws_redshift_cluster"],
    "check": {
        "all": [
            {"attr": "encrypted", "truthy": True, "default": False},
            # v5 defaults publicly_accessible to true, v6 to false: a plan that omits the value
            # cannot say which provider made it, so the less safe default is assumed.
            {"attr": "publicly_accessible", "falsy": True, "default": True},
        ]
    },
    "examples": [
        {
            "name": "v5 plan, bool",
            "expect": "pass",
            "values": {"encrypted": True, "publicly_accessible": False},
        },
        {
            "name": "v6 plan, string",
            "expect": "pass",
            "values": {"encrypted": "true", "publicly_accessible": False},
        },
        {
            "name": "v5 plan, unencrypted",
            "expect": "fail",
            "values": {"encrypted": False, "publicly_accessible": False},
        },
        {
            "name": "v6 plan, unencrypted",
            "expect": "fail",
            "values": {"encrypted": "false", "publicly_accessible": False},
        },
        {
            "name": "v5 default public",
            "expect": "fail",
            "values": {"encrypted": True, "publicly_accessible": True},
        },
        {"name": "no value in the plan", "expect": "fail", "values": {"encrypted": True}},
        {
            "name": "unencrypted by default",
            "expect": "fail",
            "values": {"publicly_accessible": False},
        },
    ],
}


def test_v5_and_v6_forms_judged_alike_by_opa(tmp_path: Path, opa: Path) -> None:
    folder = tmp_path / "controls" / "redshift"
    folder.mkdir(parents=True)
    (folder / "redshift_v5_and_v6.yaml").write_text(yaml.safe_dump(V6_CONTROL, sort_keys=False))
    (control,) = load_catalog(tmp_path / "controls")
    files = _format_all(render_control(control, tmp_path), opa)
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    lib = [str(p) for p in (ROOT / "rego" / "lib").glob("*.rego") if "_test" not in p.name]
    proc = subprocess.run(
        [str(opa), "test", "-v", *lib, str(tmp_path / "rego")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    passed = [x for x in proc.stdout.splitlines() if x.startswith("data.soc2opa.controls.redshift")]
    assert len(passed) == len(V6_CONTROL["examples"]) and all(": PASS" in x for x in passed)


def test_typo_fails_soc2opa_build_naming_file_and_path(run: Run, tmp_path: Path) -> None:
    root = _copy_checkout(tmp_path / "repo")
    source = root / "controls/rds/rds_instance_storage_encrypted.yaml"
    text = source.read_text()
    assert "attr: storage_encrypted\n" in text
    source.write_text(text.replace("attr: storage_encrypted\n", "attr: storage_encryption\n", 1))
    proc = run("build", "--root", str(root))
    assert proc.returncode == 2
    assert re.fullmatch(
        r"soc2opa: error: controls/rds/rds_instance_storage_encrypted\.yaml: check(\.\w+\[\d+\])*"
        + re.escape(
            '.attr: "storage_encryption" is not a path of aws_db_instance (hashicorp/aws 5.100.0): '
            'at storage_encryption: no attribute or block named "storage_encryption"; '
            "did you mean storage_encrypted?"
        ),
        proc.stderr.strip(),
    ), proc.stderr


def test_build_check_reports_a_trimmed_schema_that_lacks_a_type(run: Run, tmp_path: Path) -> None:
    root = _copy_checkout(tmp_path / "repo")
    assert run("build", "--check", "--root", str(root)).returncode == 0
    trimmed = json.loads((root / SCHEMA_FILE).read_text())
    del trimmed["resource_types"]["aws_db_instance"]
    (root / SCHEMA_FILE).write_text(render(trimmed))
    proc = run("build", "--check", "--root", str(root))
    assert proc.returncode == 1
    assert f"{SCHEMA_FILE} (lacks aws_db_instance: run `make schema`)" in proc.stderr
    # A plain build still works (paths of that type go unchecked, even where a control also
    # judges a type the schema has) and says what to run.
    built = run("build", "--root", str(root))
    assert built.returncode == 0, built.stderr
    assert "lacks aws_db_instance: run `make schema`" in built.stderr


def test_build_check_reports_types_no_control_uses(run: Run, tmp_path: Path) -> None:
    root = _copy_checkout(tmp_path / "repo")
    trimmed = json.loads((root / SCHEMA_FILE).read_text())
    trimmed["resource_types"]["aws_example_unused"] = {"attributes": {}}
    (root / SCHEMA_FILE).write_text(render(trimmed))
    proc = run("build", "--check", "--root", str(root))
    assert proc.returncode == 1
    assert "(has aws_example_unused, which no control uses: run `make schema`)" in proc.stderr


def test_committed_schema_fits_the_catalog_and_says_do_not_edit() -> None:
    schema = provider_schema()
    assert staleness(schema, catalog_types(ROOT / "controls")) == []
    first = (ROOT / SCHEMA_FILE).read_text().splitlines()[0]
    assert "DO NOT EDIT: generated by make schema (generator/provider_schema.py)" in first
    raw = json.loads((ROOT / SCHEMA_FILE).read_text())
    assert raw["do_not_edit"] == HEADER
    assert len(raw["source_sha256"]) == 64 and raw["version"] == "5.100.0"
    assert "aws_db_instance" in raw["all_resource_types"] and len(raw["all_resource_types"]) > 1000


def test_trim_keeps_types_flags_and_nesting_only() -> None:
    source = json.dumps(
        {
            "format_version": "1.0",
            "provider_schemas": {
                "registry.terraform.io/hashicorp/aws": {
                    "resource_schemas": {
                        "aws_thing": {
                            "version": 0,
                            "block": {
                                "attributes": {
                                    "a": {
                                        "type": "bool",
                                        "optional": True,
                                        "computed": True,
                                        "description": "long text",
                                        "description_kind": "plain",
                                    },
                                    "n": {
                                        "nested_type": {
                                            "nesting_mode": "list",
                                            "attributes": {
                                                "x": {"type": "string", "required": True}
                                            },
                                        },
                                        "optional": True,
                                    },
                                },
                                "block_types": {
                                    "b": {
                                        "nesting_mode": "set",
                                        "max_items": 1,
                                        "block": {
                                            "attributes": {
                                                "c": {"type": "number", "computed": True}
                                            }
                                        },
                                    },
                                },
                            },
                        },
                        "aws_other": {"version": 0, "block": {}},
                    }
                }
            },
        }
    ).encode()
    trimmed = trim(source, {"aws_thing", "aws_missing"})
    assert trimmed["all_resource_types"] == ["aws_other", "aws_thing"]
    assert trimmed["resource_types"] == {
        "aws_thing": {
            "attributes": {
                "a": {"type": "bool", "flags": "optional+computed"},
                "n": {
                    "nested": "list",
                    "flags": "optional",
                    "attributes": {"x": {"type": "string", "flags": "required"}},
                },
            },
            "blocks": {
                "b": {
                    "nesting": "set",
                    "attributes": {"c": {"type": "number", "flags": "computed"}},
                }
            },
        }
    }
    text = render(trimmed)
    assert text.splitlines()[0].startswith('{"do_not_edit": "DO NOT EDIT')
    assert json.loads(text)["resource_types"] == trimmed["resource_types"]
