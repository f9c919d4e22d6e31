"""The check language's value operators: the one table the schema, validator, compiler and docs use.

Each operator is a key next to `attr` in a control's check. From this table come the operator
properties of the control JSON Schema (`soc2opa/schemas/operators.schema.json`), the validator's
"exactly one operator" and argument rules, the compiler's `check.value` call and expected-value
text, and the operator table in docs/check-language.md. `soc2opa build --check` fails when the
generated schema or docs table no longer match it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Argument = Literal["value", "list", "flag", "pattern", "bound"]

# The plan value types an operator can meaningfully apply to (cty primitive names), None = any.
Accepts = frozenset[str] | None


def _json(value: Any) -> str:
    return json.dumps(value)


def _rego_term(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@dataclass(frozen=True)
class Operator:
    """One operator: its YAML key, argument kind, meaning and how it compiles."""

    name: str
    argument: Argument
    meaning: str
    describe: Callable[[Any], str]
    accepts: Accepts = None

    @property
    def rego_name(self) -> str:
        """The operator name `check.value` in rego/lib/check.rego dispatches on."""
        return "bounds" if self.argument == "bound" else self.name

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of this operator's argument."""
        shapes: dict[Argument, dict[str, Any]] = {
            "value": {},
            "list": {"type": "array", "minItems": 1},
            "flag": {"const": True},
            "pattern": {"type": "string"},
            "bound": {"type": "number"},
        }
        return {**shapes[self.argument], "description": f"Passes when the value {self.meaning}."}


_SCALARS = frozenset({"string", "number", "bool"})

OPERATORS: tuple[Operator, ...] = (
    Operator(
        "equals",
        "value",
        'is exactly X (types matter: `true` is not `"true"`)',
        _json,
    ),
    Operator(
        "not_equals",
        "value",
        "is not exactly X",
        lambda x: f"anything but {_json(x)}",
    ),
    Operator(
        "one_of",
        "list",
        "is one of the list",
        lambda xs: "one of " + ", ".join(_json(x) for x in xs),
    ),
    Operator(
        "none_of",
        "list",
        "is none of the list",
        lambda xs: "none of " + ", ".join(_json(x) for x in xs),
    ),
    Operator(
        "exists",
        "flag",
        'is set (null, `""`, `[]`, `{}` count as not set)',
        lambda _: "a value",
    ),
    Operator("absent", "flag", "is not set", lambda _: "no value"),
    Operator(
        "truthy",
        "flag",
        'is `true` or `"true"` (providers type some booleans as strings)',
        lambda _: "true",
        frozenset({"bool", "string"}),
    ),
    Operator(
        "falsy",
        "flag",
        'is not `true` or `"true"` (false, `"false"`, unset)',
        lambda _: "false or unset",
        frozenset({"bool", "string"}),
    ),
    Operator(
        "matches",
        "pattern",
        "is a string matching the regular expression (RE2)",
        lambda p: f"a match for /{p}/",
        frozenset({"string"}),
    ),
    Operator(
        "not_matches",
        "pattern",
        "is a string not matching the regular expression (RE2)",
        lambda p: f"no match for /{p}/",
        frozenset({"string"}),
    ),
    Operator(
        "gte",
        "bound",
        "is a number (or numeric string) >= N; bounds may be combined",
        lambda x: f">= {x}",
        frozenset({"number", "string"}),
    ),
    Operator(
        "gt",
        "bound",
        "is a number (or numeric string) > N; bounds may be combined",
        lambda x: f"> {x}",
        frozenset({"number", "string"}),
    ),
    Operator(
        "lte",
        "bound",
        "is a number (or numeric string) <= N; bounds may be combined",
        lambda x: f"<= {x}",
        frozenset({"number", "string"}),
    ),
    Operator(
        "lt",
        "bound",
        "is a number (or numeric string) < N; bounds may be combined",
        lambda x: f"< {x}",
        frozenset({"number", "string"}),
    ),
)

# The if_unknown options: the outcome when a value (or list) is unknown until apply. Never pass.
IF_UNKNOWN: dict[str, str] = {
    "unknown": "the check is unknown (the default)",
    "fail": "fails: suits Optional+Computed attributes whose unknown means 'not configured'",
    "default": (
        "a value the configuration does not write (nor the block holding it) is judged by "
        "`default`, the value AWS applies (an Optional+Computed attribute or block, such as a "
        "DynamoDB table's server_side_encryption); one written to a value known only after "
        "apply, or on a resource whose configuration the plan lacks, stays unknown"
    ),
}


@dataclass(frozen=True)
class StatementField:
    """One field of a policy node's statement pattern: its JSON Schema and what it matches."""

    name: str
    schema: dict[str, Any]
    shown: str
    meaning: str


_ACTION = {"type": "string", "pattern": "^[A-Za-z0-9-]+:[A-Za-z0-9*?]+$|^\\*$"}
_CONDITION_KEYS = (
    "`aws:SourceAccount`, `aws:SourceArn`, `aws:SourceOwner`, `aws:SourceVpc`, `aws:SourceVpce`, "
    "`aws:SourceIp`, `aws:SourceOrgID`, `aws:SourceOrgPaths`, `aws:PrincipalOrgID`, "
    "`aws:PrincipalOrgPaths`, `aws:PrincipalAccount`, `aws:PrincipalArn`, `kms:CallerAccount`"
)

# The statement pattern of `policy:` nodes (`no_statement` / `some_statement`); a statement
# matches when it satisfies every field the pattern gives (rego/lib/policy.rego).
STATEMENT_FIELDS: tuple[StatementField, ...] = (
    StatementField(
        "effect",
        {"enum": ["Allow", "Deny"]},
        "`effect: Allow` / `Deny`",
        "has this `Effect`",
    ),
    StatementField(
        "principal",
        {"enum": ["everyone", "public"]},
        "`principal: everyone`, `public`",
        'everyone: applies to everyone, `Principal` `"*"` or `{"AWS": "*"}` (alone or in a '
        "list), or any `NotPrincipal` (everyone but the named ones). public: applies to everyone "
        "and no condition restricts it: no `restricted_by` key under a non-negated operator "
        "(`StringEquals`, `ArnLike`, `IpAddress`, `ForAnyValue:…`, `…IfExists`; not "
        '`StringNotEquals`, `NotIpAddress`, `Null`) with a value other than `"*"`',
    ),
    StatementField(
        "restricted_by",
        {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "pattern": "^[A-Za-z0-9-]+:[A-Za-z0-9_/-]+$"},
        },
        "`restricted_by: [keys]`",
        "(with `public`) the condition keys that make a statement for everyone non-public; "
        f"default {_CONDITION_KEYS}",
    ),
    StatementField(
        "actions",
        {"type": "array", "minItems": 1, "items": _ACTION},
        "`actions: [..]`",
        "covers every listed action (`Action` patterns with IAM wildcards, or a `NotAction` "
        "that names none of them)",
    ),
    StatementField(
        "actions_any",
        {"type": "array", "minItems": 1, "items": _ACTION},
        "`actions_any: [..]`",
        "covers at least one listed action",
    ),
    StatementField(
        "resources",
        {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
        "`resources: [..]`",
        "covers every listed resource ARN: a `Resource` pattern matches it as written (`*` is "
        'covered by `"*"` only, not by `arn:aws:s3:::logs/*`), or a `NotResource` names none '
        "of it, or the statement has neither",
    ),
    StatementField(
        "condition",
        {
            "oneOf": [
                {"$ref": "#/$defs/condition"},
                {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/condition"}},
            ]
        },
        "`condition: {test, key, value}` or a list of them",
        "has one of them: operator `test` (or `testIfExists`) on `key` with `value` among its "
        "values",
    ),
)

BY_NAME: dict[str, Operator] = {op.name: op for op in OPERATORS}
BOUND_OPS: tuple[str, ...] = tuple(op.name for op in OPERATORS if op.argument == "bound")
VALUE_OPS: tuple[str, ...] = tuple(op.name for op in OPERATORS if op.argument != "bound")


def operators_in(node: dict[str, Any]) -> list[Operator]:
    """The operators a check mapping uses, in table order."""
    return [op for op in OPERATORS if op.name in node]


def rego_argument(ops: list[Operator], node: dict[str, Any]) -> str:
    """The Rego term `check.value` receives for the node's operator (all bounds together)."""
    op = ops[0]
    if op.argument == "bound":
        return _rego_term({o.name: node[o.name] for o in ops})
    value = node[op.name]
    if op.argument == "value":
        return _rego_term(value)
    if op.argument == "list":
        return "{" + ", ".join(_rego_term(x) for x in value) + "}"
    if op.argument == "pattern":
        return f"`{value}`"
    return "null"


def describe(ops: list[Operator], node: dict[str, Any]) -> str:
    """What the node expects, in the words messages use (bounds joined by "and")."""
    return " and ".join(op.describe(node[op.name]) for op in ops)


def operators_json_schema() -> dict[str, Any]:
    """The generated JSON Schema fragment with one property per operator."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://soc2opa.dev/schemas/operators.schema.json",
        "$comment": "DO NOT EDIT: generated by soc2opa build from soc2opa/operators.py",
        "title": "soc2opa check operators",
        "description": "The operator keys of an attr check node (one operator, or several bounds).",
        "type": "object",
        "properties": {op.name: op.json_schema() for op in OPERATORS},
        "$defs": {
            "statement": {
                "type": "object",
                "additionalProperties": False,
                "minProperties": 1,
                "description": "A policy statement pattern: a statement matches when it "
                "satisfies every field given.",
                "properties": {
                    f.name: {**f.schema, "description": f"The statement {_plain(f.meaning)}."}
                    for f in STATEMENT_FIELDS
                },
            },
            "condition": {
                "type": "object",
                "additionalProperties": False,
                "required": ["test", "key", "value"],
                "properties": {
                    "test": {"type": "string", "pattern": "^[A-Za-z:]+$"},
                    "key": {"type": "string", "minLength": 3},
                    "value": {"type": ["string", "number", "boolean"]},
                },
            },
            "if_unknown": {
                "enum": list(IF_UNKNOWN),
                "description": "Outcome when the value (or list) is unknown until apply. "
                + " ".join(f"{k}: {v}." for k, v in IF_UNKNOWN.items()),
            },
        },
    }


def _plain(text: str) -> str:
    return text.replace("`", "")


def operators_json_text() -> str:
    """The generated operators.schema.json, whose first line says DO NOT EDIT."""
    schema = operators_json_schema()
    comment = schema.pop("$comment")
    body = json.dumps(schema, indent=2)
    return '{"$comment": ' + json.dumps(comment) + ",\n" + body[2:] + "\n"


_ARG_DOC: dict[Argument, str] = {
    "value": "X",
    "list": "[X, …]",
    "flag": "true",
    "pattern": "RE",
    "bound": "N",
}

DOCS_BEGIN = "<!-- BEGIN operator table -->"
_DOCS_NOTE = "<!-- DO NOT EDIT: generated by soc2opa build from soc2opa/operators.py -->"
DOCS_END = "<!-- END operator table -->"


def docs_table() -> str:
    """The Markdown operator table, between its generated-region markers."""
    rows = [
        "| operator | passes when the value … | applies to |",
        "| --- | --- | --- |",
    ]
    for op in OPERATORS:
        applies = ", ".join(sorted(op.accepts)) if op.accepts else "any type"
        rows.append(f"| `{op.name}: {_ARG_DOC[op.argument]}` | {op.meaning} | {applies} |")
    return "\n".join([DOCS_BEGIN, _DOCS_NOTE, *rows, DOCS_END])


STATEMENT_DOCS_BEGIN = "<!-- BEGIN statement table -->"
STATEMENT_DOCS_END = "<!-- END statement table -->"


def statement_docs_table() -> str:
    """The Markdown table of statement pattern fields, between its generated-region markers."""
    rows = ["| field | the statement … |", "| --- | --- |"]
    rows += [f"| {f.shown} | {f.meaning} |" for f in STATEMENT_FIELDS]
    return "\n".join([STATEMENT_DOCS_BEGIN, _DOCS_NOTE, *rows, STATEMENT_DOCS_END])


def docs_regions() -> list[tuple[str, str, str]]:
    """Each generated region of docs/check-language.md: begin marker, end marker, content."""
    return [
        (DOCS_BEGIN, DOCS_END, docs_table()),
        (STATEMENT_DOCS_BEGIN, STATEMENT_DOCS_END, statement_docs_table()),
    ]
