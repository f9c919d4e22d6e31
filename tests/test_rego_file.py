"""The rego: file escape hatch: the file beside the control is checked and copied in."""

from __future__ import annotations

import re

import pytest

from generator.compiler import CheckCompiler, split_rego_file
from tests.conftest import ROOT

_GOOD = """# METADATA
# title: t
# scope: package
package soc2opa.controls.x_thing

import data.soc2opa.lib.plan
import data.soc2opa.lib.tri

result(r) := {"status": "pass", "reason": "ok"} if plan.present(r)
"""


def test_rules_below_the_imports_are_copied_and_imports_kept() -> None:
    imports, body = split_rego_file(_GOOD, "x_thing")
    assert imports == ["import data.soc2opa.lib.plan", "import data.soc2opa.lib.tri"]
    assert body.startswith("result(r) :=") and "package" not in body


def test_compiled_node_reads_status_and_reason_from_result() -> None:
    compiler = CheckCompiler("x_thing", _GOOD)
    n = compiler.compile({"rego": "file"}, ["aws_x"])
    text = "".join(compiler.out.functions)
    assert f"_s{n}(r) := result(r).status" in text and "[result(r).reason]" in text
    assert compiler.out.uses_tri and compiler.out.custom_rego.startswith("result(r)")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (_GOOD.replace("x_thing", "other"), "must declare package soc2opa.controls.x_thing"),
        (_GOOD.replace("result(r)", "custom_status(r)"), "must define result(r)"),
        (_GOOD + "\n_status := 1\n", "_status is a name the generated package defines"),
        (_GOOD + "\n_s3(r) := 1\n", "_s3 is a name the generated package defines"),
    ],
)
def test_bad_files_are_refused_with_the_reason(text: str, expected: str) -> None:
    with pytest.raises(ValueError, match=re.escape(expected)):
        CheckCompiler("x_thing", text).compile({"rego": "file"}, ["aws_x"])


def test_missing_file_is_refused() -> None:
    with pytest.raises(ValueError, match=r"needs x_thing\.rego beside it"):
        CheckCompiler("x_thing").compile({"rego": "file"}, ["aws_x"])


def test_no_control_yaml_holds_rego_text() -> None:
    for path in ROOT.glob("controls/*/*.yaml"):
        text = path.read_text()
        assert "rego: |" not in text and "custom_status" not in text, path
    for path in ROOT.glob("controls/*/*.rego"):
        if not path.name.endswith("_test.rego"):
            assert path.with_suffix(".yaml").is_file(), f"{path} has no control beside it"
