"""The recipes in docs/integrations/ parse, and the soc2opa commands they run work."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, Run

DOCS = ROOT / "docs" / "integrations"


def _blocks(lang: str) -> list[tuple[str, str]]:
    found = []
    for page in sorted(DOCS.glob("*.md")):
        for block in re.findall(rf"```{lang}\n(.*?)```", page.read_text(), re.S):
            found.append((page.name, block))
    return found


def test_every_yaml_recipe_parses() -> None:
    blocks = _blocks("yaml")
    assert len(blocks) >= 5
    for name, block in blocks:
        assert isinstance(yaml.safe_load(block), dict), name


def test_every_page_is_linked_from_the_index() -> None:
    index = (DOCS / "README.md").read_text()
    for page in DOCS.glob("*.md"):
        if page.name != "README.md":
            assert f"({page.name})" in index, page.name


def test_the_eval_commands_in_recipes_run(run: Run, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text((ROOT / "examples/demo/plan.json").read_text())
    commands = set()
    for page in sorted(DOCS.glob("*.md")):
        commands |= set(re.findall(r"soc2opa eval plan\.json[^\n`]*", page.read_text()))
    assert len(commands) >= 3
    for command in sorted(commands):
        args = shlex.split(command)[1:]
        proc = run(*args, cwd=tmp_path)
        assert proc.returncode == 1, (command, proc.stderr)


@pytest.mark.parametrize("target", ["conftest", "spacelift", "tfc", "scalr", "opa"])
def test_the_build_commands_in_recipes_run(run: Run, tmp_path: Path, target: str) -> None:
    proc = run("build", "--target", target, "--output", str(tmp_path / target))
    assert proc.returncode == 0, proc.stderr
    assert any((tmp_path / target).iterdir()), f"the {target} target wrote nothing"
    marker = {"tfc": "policies.hcl", "scalr": "scalr-policy.hcl"}.get(target)
    assert marker is None or (tmp_path / target / marker).is_file()
