"""Every kind of bad input: exit 2, one line naming the file and the problem, no traceback."""

from __future__ import annotations

import codecs
import json
import random
from pathlib import Path

import pytest

from soc2opa.planfile import nesting_depth
from tests.conftest import Run, change, outcome, write_plan

GOOD_PLAN = {
    "format_version": "1.2",
    "terraform_version": "1.9.5",
    "resource_changes": [
        change(
            "aws_db_instance.db",
            "aws_db_instance",
            {"storage_encrypted": False, "engine": "postgres"},
        )
    ],
}


def _assert_one_line_error(proc, path: Path, *fragments: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith("soc2opa: error: ")
    assert str(path) in lines[0]
    for fragment in fragments:
        assert fragment in lines[0]


BAD_INPUTS = {
    "raw_state": (
        json.dumps(
            {
                "version": 4,
                "terraform_version": "1.9.5",
                "serial": 3,
                "lineage": "x",
                "resources": [],
            }
        ),
        "state file",
    ),
    "shown_state_without_modules": (
        json.dumps({"format_version": "1.0", "terraform_version": "1.9.5", "values": []}),
        "root_module is not an object",
    ),
    "hcl": ('resource "aws_s3_bucket" "b" {\n  bucket = "x"\n}\n', "Terraform source (HCL)"),
    "hcl_comment": ("# main.tf\nterraform {\n}\n", "Terraform source (HCL)"),
    "not_json": ("this is not json at all", "not JSON"),
    "empty": ("", "empty"),
    "whitespace": ("  \n\n ", "empty"),
    "truncated": (json.dumps(GOOD_PLAN)[:150], "truncated JSON"),
    "broken": ('{"format_version": "1.2", "resource_changes": [}', "not valid JSON"),
    "array": ("[1, 2, 3]", "the JSON value is an array"),
    "number": ("42", "the JSON value is a number"),
    "json_null": ("null", "the JSON value is null"),
    "future_version": (
        json.dumps({**GOOD_PLAN, "format_version": "2.0"}),
        "unsupported plan format_version 2.0",
    ),
    "no_version": (json.dumps({"resource_changes": []}), "format_version is missing"),
    "no_sections": (
        json.dumps({"format_version": "1.2"}),
        "neither resource_changes nor planned_values",
    ),
    "changes_not_a_list": (
        json.dumps({"format_version": "1.2", "resource_changes": {"a": 1}}),
        "resource_changes is not a list",
    ),
    "change_not_a_change": (
        json.dumps({"format_version": "1.2", "resource_changes": [None, 3]}),
        "resource_changes[0] is not a resource change",
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2(run: Run, tmp_path: Path, kind: str) -> None:
    text, fragment = BAD_INPUTS[kind]
    path = tmp_path / f"{kind}.json"
    path.write_text(text)
    _assert_one_line_error(run("eval", str(path)), path, fragment)


def test_binary_plan_file(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "tfplan"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    _assert_one_line_error(run("eval", str(path)), path, "binary plan file", "terraform show -json")


def test_missing_file_and_directory(run: Run, tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    _assert_one_line_error(run("eval", str(missing)), missing, "no such file")
    _assert_one_line_error(run("eval", str(tmp_path)), tmp_path, "directory")


def test_secret_in_a_truncated_file_is_not_echoed(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(
        '{"format_version": "1.2", "resource_changes": [{"password": "hunter2-very-secret"'
    )
    proc = run("eval", str(path))
    _assert_one_line_error(proc, path, "truncated")
    assert "hunter2" not in proc.stderr


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        ("utf8_bom.json", lambda t: codecs.BOM_UTF8 + t.encode()),
        ("utf16_le.json", lambda t: t.encode("utf-16")),
        ("utf16_be.json", lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be")),
        ("pretty.json", lambda t: json.dumps(json.loads(t), indent=4).encode()),
        ("plan.txt", lambda t: t.encode()),
    ],
)
def test_encodings_and_shapes_give_the_same_verdict(
    run: Run, tmp_path: Path, name: str, encode
) -> None:
    path = tmp_path / name
    path.write_bytes(encode(json.dumps(GOOD_PLAN)))
    proc = run("eval", str(path), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert outcome(report, "rds_instance_storage_encrypted", "aws_db_instance.db") == "fail"


def test_planned_values_only_plan(run: Run, tmp_path: Path) -> None:
    plan = {
        "format_version": "0.1",
        "terraform_version": "0.12.31",
        "planned_values": {"root_module": {"child_modules": [{"address": "module.db", "resources": [{
            "address": "module.db.aws_db_instance.main", "mode": "managed", "type": "aws_db_instance",
            "name": "main", "values": {"storage_encrypted": False, "replicate_source_db": None,
            "snapshot_identifier": None}}]}]}},
    }  # fmt: skip
    path = tmp_path / "pv.json"
    path.write_text(json.dumps(plan))
    proc = run("eval", str(path), "--format", "json")
    report = json.loads(proc.stdout)
    assert report["plan"]["read_from"] == "planned_values"
    result = next(
        r for r in report["results"] if r["control_id"] == "rds_instance_storage_encrypted"
    )
    assert result["resource_address"] == "module.db.aws_db_instance.main"
    assert result["module_address"] == "module.db"
    assert result["status"] == "fail"


def test_sensitive_values_are_never_printed(run: Run, tmp_path: Path) -> None:
    secret = "hunter2-do-not-print"
    path = write_plan(
        tmp_path / "sensitive.json",
        [
            change(
                "aws_db_instance.db",
                "aws_db_instance",
                {"storage_encrypted": secret, "password": secret, "engine": "postgres"},
                sensitive={"storage_encrypted": True, "password": True},
            )
        ],
    )
    for fmt in ("text", "json"):
        proc = run("eval", str(path), "--format", fmt)
        assert proc.returncode == 1, proc.stderr
        assert secret not in proc.stdout + proc.stderr
        assert "(sensitive)" in proc.stdout


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _tricky(rng: random.Random, depth: int) -> object:
    # Strings full of what the byte-level count must skip: brackets, quotes, backslash runs.
    pieces = ["[", "]", "{", "}", '"', "\\", "\\\\", '\\"', "\\n", "a", "é", "\u2028"]
    text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 8)))
    if depth == 0 or rng.random() < 0.3:
        return rng.choice([text, 1, None, True, 2.5])
    if rng.random() < 0.5:
        return [_tricky(rng, depth - 1) for _ in range(rng.randrange(0, 4))]
    return {f"{text}{i}": _tricky(rng, depth - 1) for i in range(rng.randrange(0, 4))}


def test_nesting_depth_counts_brackets_outside_strings_only() -> None:
    rng = random.Random(7)
    for _ in range(400):
        value = _tricky(rng, rng.randrange(0, 12))
        for text in (json.dumps(value), json.dumps(value, ensure_ascii=False, indent=1)):
            assert nesting_depth(text.encode()) == _depth(value), text
    assert nesting_depth(b'{"a": "\\\\\\"[[[", "b": [[["\\\\"]]]}') == 4
