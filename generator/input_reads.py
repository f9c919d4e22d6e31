"""Which top-level members of a plan the bundle's Rego reads, found in the Rego itself.

The build writes them into the manifest (metadata.selection.input) so that soc2opa eval gives
opa only those (soc2opa/plantrim.py). Every mention of `input` in the bundle's Rego must be one
of the forms below, each naming its member; any other use (a dynamic key, `input` passed whole)
means the Rego may read anything, and the build records nothing, so the engine passes the whole
plan. docs/performance.md explains the design.
"""

from __future__ import annotations

import re
from pathlib import Path

from soc2opa.plantrim import SENSITIVE_VALUES, PolicyReads

_COMMENT_LINE = re.compile(r"^\s*#.*$", re.MULTILINE)
_TRAILING_COMMENT = re.compile(r"\s#[^\"`\n]*$", re.MULTILINE)
# Forms that name the member they read.
_NAMED = (
    re.compile(r"\binput\.([A-Za-z_][A-Za-z0-9_]*)"),
    re.compile(r'\bobject\.get\(input, \[?"([A-Za-z_][A-Za-z0-9_]*)"'),
    re.compile(r'"([A-Za-z_][A-Za-z0-9_]*)" in object\.keys\(input\)'),
)
# Forms that read no member.
_NONE = re.compile(r"\bis_object\(input\)")
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_INPUT = re.compile(r"\binput\b")


def rego_reads(text: str) -> set[str] | None:
    """The members one module reads; None when it uses input in any other way."""
    code = _TRAILING_COMMENT.sub("", _COMMENT_LINE.sub("", text))
    found: set[str] = set()
    for form in _NAMED:
        found.update(form.findall(code))
        code = form.sub("", code)
    code = _STRING.sub('""', _NONE.sub("", code))
    return None if _INPUT.search(code) else found


def policy_reads(folder: Path) -> PolicyReads | None:
    """What the bundle staged in folder reads of a plan (test files excluded); None if unknown.

    planned_values is read for its resources' sensitivity markings only when resource_changes
    is a non-empty list (`_pv_sensitive` and `resources` in rego/lib/plan.rego); the golden
    comparison in tests/test_plantrim.py holds the Rego to that.
    """
    keys: set[str] = set()
    for path in sorted(folder.glob("**/*.rego")):
        if path.name.endswith("_test.rego"):
            continue
        found = rego_reads(path.read_text())
        if found is None:
            return None
        keys |= found
    return PolicyReads(frozenset(keys), SENSITIVE_VALUES if "planned_values" in keys else None)
