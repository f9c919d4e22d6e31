"""The cache's modules without METADATA: same values from opa, same lines, nothing else touched.

Reports of every shared plan, planned example and synthetic plan judged from these modules are
compared with the whole bundle's in tests/test_selection.py and tests/test_shards.py.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from soc2opa.bundlecache import cached_bundle
from soc2opa.leanrego import META_RULE, lean_module
from tests.conftest import BUNDLE

pytestmark = pytest.mark.usefixtures("private_cache")

CONTROL = (
    b"""# DO NOT EDIT: generated
# METADATA
# title: A
# custom:
#   id: a
package soc2opa.controls.a

# A comment that stays.

# METADATA
# description: This control's metadata.
"""
    + META_RULE
    + b"""

msg := `raw
# METADATA
# description: inside a raw string, so kept
`

hash := "a # METADATA \\" # still a string"

# METADATA
# description: a rule's
x := 1 # METADATA
"""
)


def _opa_value(opa: Path, module: Path, query: str) -> Any:
    proc = subprocess.run(
        [str(opa), "eval", "--format", "json", "--data", str(module), query],
        capture_output=True,
        check=True,
    )
    return json.loads(proc.stdout)["result"][0]["expressions"][0]["value"]


def test_metadata_blocks_are_blanked_and_the_rest_kept(tmp_path: Path, opa: Path) -> None:
    original = tmp_path / "a.rego"
    original.write_bytes(CONTROL)
    meta = _opa_value(opa, original, "data.soc2opa.controls.a.meta")
    lean = lean_module(CONTROL, meta)
    assert lean.count(b"\n") == CONTROL.count(b"\n")
    assert b"# title" not in lean and b"a rule's" not in lean and b"control's metadata" not in lean
    assert b"# A comment that stays." in lean and b"x := 1 # METADATA" in lean
    assert b"# description: inside a raw string, so kept" in lean
    rewritten = tmp_path / "lean" / "a.rego"
    rewritten.parent.mkdir()
    rewritten.write_bytes(lean)
    query = "data.soc2opa.controls.a"
    assert _opa_value(opa, rewritten, query) == _opa_value(opa, original, query)


@pytest.mark.parametrize(
    "text",
    [
        CONTROL.replace(b"meta := [", b"meta = ["),  # a meta rule written otherwise
        CONTROL + b"\n" + META_RULE + b"\n",  # two of them
        CONTROL + b"\nother := rego.metadata.rule()\n",  # another reader of annotations
        CONTROL.replace(b'hash := "a', b"hash := `a"),  # a raw string that does not end
        b"msg := `\n" + META_RULE + b"\n`\n" + CONTROL.replace(META_RULE, b"meta := 1"),
    ],
)
def test_a_control_it_cannot_rewrite_safely_is_kept_whole(text: bytes) -> None:
    assert lean_module(text, {"title": "A"}) == text


def test_a_library_that_reads_annotations_is_kept_whole() -> None:
    text = b"# METADATA\n# title: L\npackage l\n\nt := rego.metadata.chain()\n"
    assert lean_module(text) == text
    assert lean_module(text.replace(b"rego.metadata.chain()", b"1")) == b"\n\npackage l\n\nt := 1\n"


def test_the_cache_writes_every_module_lean_with_its_lines(opa: Path) -> None:
    cached = cached_bundle(BUNDLE)
    assert cached is not None
    with tarfile.open(BUNDLE) as tar:
        members = {
            m.name.lstrip("/"): tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile() and m.name.endswith(".rego")
        }
    written = [*cached.base, *cached.modules.values()]
    assert {n for n in written if n.endswith(".rego")} == set(members)
    for name, text in members.items():
        lean = (cached.folder / name).read_bytes()
        assert lean.count(b"\n") == text.count(b"\n"), name
        assert b"# METADATA" not in lean, name
    assert cached.sizes == {p: len(members[p]) for p in cached.modules.values()}
    # Every control's meta, read by opa from the lean modules, is the bundle's own.
    query = "{id: c.meta | some id, c in data.soc2opa.controls}"
    whole = subprocess.run(
        [str(opa), "eval", "--format", "json", "--bundle", str(BUNDLE), query],
        capture_output=True,
        check=True,
    )
    args = [a for n in written if n.endswith(".rego") for a in ("--data", str(cached.folder / n))]
    lean_run = subprocess.run(
        [str(opa), "eval", "--format", "json", *args, query], capture_output=True, check=True
    )
    metas = json.loads(lean_run.stdout)["result"][0]["expressions"][0]["value"]
    assert len(metas) == len(cached.modules)
    assert metas == json.loads(whole.stdout)["result"][0]["expressions"][0]["value"]
