"""Shared fragments: controls built from controls/_fragments/ with parameters."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from soc2opa.catalog import load_catalog
from soc2opa.errors import CatalogError
from tests.conftest import ROOT
from tests.test_generator import FIXTURE_SCHEMA

_FRAGMENT = {
    "params": {"kind": "what is judged", "mode": "an allowed mode"},
    "template": {
        "title": "Widgets of kind ${kind} stay safe",
        "description": "A fragment fixture for ${kind} widgets.",
        "service": "example",
        "resource_types": ["aws_example_widget"],
        "severity": "low",
        "check": {"attr": "mode", "one_of": "${mode}"},
        "remediation": {"text": "Set the mode right.", "terraform": "mode = 1"},
        "examples": [
            {"name": "good ${kind}", "expect": "pass", "values": {"mode": "a"}},
            {"name": "bad ${kind}", "expect": "fail", "values": {"mode": "z"}},
        ],
    },
}


def _catalog(tmp_path: Path, control: dict[str, object]) -> Path:
    (tmp_path / "_fragments").mkdir()
    (tmp_path / "_fragments" / "widget.yaml").write_text(yaml.safe_dump(_FRAGMENT))
    (tmp_path / "example").mkdir()
    path = tmp_path / "example" / f"{control['id']}.yaml"
    path.write_text(yaml.safe_dump(control))
    return path


def test_parameters_fill_text_and_whole_values(tmp_path: Path) -> None:
    _catalog(
        tmp_path,
        {
            "id": "widget_blue",
            "use": "widget",
            "with": {"kind": "blue", "mode": ["a", "b"]},
            "criteria": ["CC6.1"],
        },
    )
    [control] = load_catalog(tmp_path, FIXTURE_SCHEMA)
    assert control.data["title"] == "Widgets of kind blue stay safe"
    assert control.data["check"] == {"attr": "mode", "one_of": ["a", "b"]}
    assert [e["name"] for e in control.data["examples"]] == ["good blue", "bad blue"]
    assert "use" not in control.data and "with" not in control.data


def test_the_control_file_overrides_the_template(tmp_path: Path) -> None:
    _catalog(
        tmp_path,
        {
            "id": "widget_red",
            "use": "widget",
            "with": {"kind": "red", "mode": ["a"]},
            "criteria": ["CC6.1"],
            "severity": "high",
        },
    )
    assert load_catalog(tmp_path, FIXTURE_SCHEMA)[0].data["severity"] == "high"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"use": "nothing_here"}, "use: no fragment _fragments/nothing_here.yaml"),
        ({"use": "../x"}, "use: '../x' is not a fragment name"),
        ({"with": {"kind": "x"}}, "with: 'mode' is used by the fragment but not given"),
        ({"with": {"kind": "x", "mode": ["a"], "size": 1}}, "with: 'size' is not a parameter"),
        ({"with": ["kind"]}, "with: a mapping of the fragment's parameters to values"),
    ],
)
def test_mistakes_name_the_control_file(
    tmp_path: Path, change: dict[str, object], expected: str
) -> None:
    control = {"id": "widget_x", "use": "widget", "with": {"kind": "x", "mode": ["a"]}}
    control.update({"criteria": ["CC6.1"], **change})
    path = _catalog(tmp_path, control)
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path, FIXTURE_SCHEMA)
    assert info.value.message.startswith(f"{path}: ") and expected in info.value.message


def test_unused_parameter_is_refused(tmp_path: Path) -> None:
    fragment = {**_FRAGMENT, "params": {**_FRAGMENT["params"], "spare": "never used"}}
    path = _catalog(tmp_path, {"id": "widget_y", "use": "widget", "criteria": ["CC6.1"]})
    (tmp_path / "_fragments" / "widget.yaml").write_text(yaml.safe_dump(fragment))
    path.write_text(
        yaml.safe_dump(
            {
                "id": "widget_y",
                "use": "widget",
                "with": {"kind": "k", "mode": ["a"], "spare": 1},
                "criteria": ["CC6.1"],
            }
        )
    )
    with pytest.raises(CatalogError, match="'spare' is not used by fragment 'widget'"):
        load_catalog(tmp_path, FIXTURE_SCHEMA)


def test_data_event_controls_share_one_fragment_and_differ_where_they_should(
    tmp_path: Path,
) -> None:
    controls = {c.id: c.data for c in load_catalog(ROOT / "controls")}
    read = controls["cloudtrail_s3_data_events_read"]
    write = controls["cloudtrail_s3_data_events_write"]
    for c in ("read", "write"):
        text = (ROOT / f"controls/cloudtrail/cloudtrail_s3_data_events_{c}.yaml").read_text()
        assert "use: cloudtrail_s3_data_events" in text and len(text.splitlines()) < 15
    assert read["check"] != write["check"] and read["criteria"] != write["criteria"]
    assert "ReadOnly" in str(read["check"]) and "WriteOnly" in str(write["check"])
    assert (ROOT / "controls/_fragments/cloudtrail_s3_data_events.yaml").is_file()
    shutil.copytree(ROOT / "controls", tmp_path / "controls")
    assert len(load_catalog(tmp_path / "controls")) == len(controls)
