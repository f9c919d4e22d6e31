"""The libraries each control needs are found in its Rego, or nothing is recorded.

The report of every plan with the libraries left out is compared with the whole bundle's in
tests/test_selection.py and tests/test_shards.py; here the scan itself, on crafted modules.
"""

from __future__ import annotations

import json
import re
import tarfile

import pytest

from soc2opa.bundlecache import cached_bundle
from soc2opa.libdeps import base_for, library_needs
from tests.conftest import BUNDLE

pytestmark = pytest.mark.usefixtures("private_cache")

LIBS = {
    "lib/plan.rego": b"package soc2opa.lib.plan\n\nx := 1\n",
    "lib/tri.rego": b"package soc2opa.lib.tri\n\nimport data.soc2opa.lib.plan\n",
    "lib/net.rego": b"package soc2opa.lib.net\n\ny := data.soc2opa.lib.tri.z\n",
    "lib/big.rego": b"package soc2opa.lib.big\n",
    "lib/big_more.rego": b"package soc2opa.lib.big\n\nw := 2\n",
}
REST = {"main.rego": b"package soc2opa.main\n\nimport data.soc2opa.lib.plan\n", "data.json": b"{}"}


def _needs(control: bytes) -> dict[str, object] | None:
    files = {**LIBS, **REST, "controls/a.rego": control}
    return library_needs(files, ["controls/a.rego"])


def test_imports_and_inline_references_are_followed_through_libraries() -> None:
    got = _needs(b"package c\n\nimport data.soc2opa.lib.net\n\nq := data.soc2opa.lib.big.w\n")
    assert got == {
        "library": ["lib/big.rego", "lib/big_more.rego", "lib/net.rego", "lib/plan.rego",
                    "lib/tri.rego"],
        "rest": ["lib/plan.rego"],
        "controls": {"controls/a.rego": ["lib/big.rego", "lib/big_more.rego", "lib/net.rego",
                                         "lib/plan.rego", "lib/tri.rego"]},
    }  # fmt: skip
    needs = _needs(b"package c\n\nimport data.soc2opa.lib.tri\n")
    base = sorted([*LIBS, *REST])
    assert base_for(base, needs, ["controls/a.rego"]) == [
        "data.json",
        "lib/plan.rego",
        "lib/tri.rego",
        "main.rego",
    ]
    assert base_for(base, None, ["controls/a.rego"]) == base


@pytest.mark.parametrize(
    "control",
    [
        b"package c\n\nimport data.soc2opa.lib\n\nq := lib.net.y\n",
        b"package c\n\nimport data.soc2opa\n\nq := soc2opa.lib.net.y\n",
        b"package c\n\nimport data.soc2opa as s\n",
        b"package c\n\nimport data\n",
        b'package c\n\nq := data.soc2opa["lib"].net.y\n',
        b'package c\n\nq := data["soc2opa"].lib.net.y\n',
        b"package c\n\nq := data.soc2opa.lib[k].y\n",
        b"package c\n\nq := data.soc2opa.lib.nowhere.y\n",
    ],
)
def test_a_reference_that_cannot_be_followed_loads_every_library(control: bytes) -> None:
    assert _needs(control) is None


def test_the_built_bundle_records_what_its_controls_need() -> None:
    with tarfile.open(BUNDLE) as tar:
        names = [m.name.lstrip("/") for m in tar.getmembers() if m.isfile()]
    cached = cached_bundle(BUNDLE)
    assert cached is not None and cached.libs is not None
    assert set(cached.libs["library"]) == {n for n in names if n.startswith("lib/")}
    assert cached.libs["rest"] == ["lib/plan.rego"]
    per_control = cached.libs["controls"]
    assert set(per_control) == set(cached.modules.values())
    # Each library a control imports is among its needs; no control needs them all.
    for module, needs in per_control.items():
        text = (cached.folder / module).read_text()
        imported = {
            f"lib/{n}.rego" for n in re.findall(r"^import data\.soc2opa\.lib\.(\w+)", text, re.M)
        }
        assert imported <= set(needs), module
    assert max(len(v) for v in per_control.values()) < len(cached.libs["library"])
    assert json.loads(json.dumps(cached.libs)) == cached.libs
