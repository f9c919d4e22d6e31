"""The published schemas the evidence exports are validated against (see schemas/PROVENANCE.md)."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft7Validator, validators
from jsonschema.protocols import Validator

from tests.conftest import ROOT

SCHEMAS = ROOT / "tests" / "schemas"


def oscal_schema(name: str) -> dict[str, Any]:
    """An OSCAL 1.1.3 JSON schema, its Unicode classes rewritten for Python's re."""

    # Python's re has no \p{..} classes; see tests/schemas/PROVENANCE.md.
    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: v.replace(r"\p{L}", r"[^\W\d_]").replace(r"\p{N}", r"\d")
                if k == "pattern" else fix(v)
                for k, v in node.items()
            }  # fmt: skip
        if isinstance(node, list):
            return [fix(x) for x in node]
        return node

    schema: dict[str, Any] = fix(json.loads((SCHEMAS / "oscal-1.1.3" / name).read_text()))
    return schema


def oscal_ar_validator() -> Draft7Validator:
    """A validator of OSCAL 1.1.3 Assessment Results documents (formats checked)."""
    return Draft7Validator(
        oscal_schema("oscal_assessment-results_schema.json"),
        format_checker=Draft7Validator.FORMAT_CHECKER,
    )


def hdf_validator() -> Validator:
    """A validator of Heimdall exec-json documents."""
    schema = json.loads((SCHEMAS / "hdf" / "exec-json.json").read_text())
    validator: Validator = validators.validator_for(schema)(schema)
    return validator
