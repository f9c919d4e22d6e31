"""Check nodes parsed once into typed objects, shared by the catalog validator and the compiler.

`parse_node` turns a schema-valid YAML check mapping into `Value`, `Combine`, `Items`,
`Relation` or `Custom` objects, reporting what the JSON Schema cannot say (one operator per
value check, valid regular expressions, scoping rules) through the `fail` callback with the
node's location in the file (`check.all[2].check`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

from soc2opa.operators import BOUND_OPS, IF_UNKNOWN, VALUE_OPS, Operator, operators_in

Segment = str | int
Fail = Callable[[str], NoReturn]

_SEGMENT = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)|\[([0-9]+|\*)\]|\["([^"\\]+)"\]')
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def parse_path(path: str) -> list[Segment]:
    """Split a path such as ``rule[*].apply[0].sse_algorithm`` into segments ("*" for [*]).

    Map keys that are not names are quoted: ``default_arguments["--enable-metrics"]``.
    """
    segments: list[Segment] = []
    for m in _SEGMENT.finditer(path):
        if m.group(1) is not None:
            segments.append(m.group(1))
        elif m.group(3) is not None:
            segments.append(m.group(3))
        else:
            idx = m.group(2)
            segments.append("*" if idx == "*" else int(idx))
    return segments


def format_path(segments: list[Segment] | tuple[Segment, ...]) -> str:
    """The inverse of parse_path."""
    out = ""
    for seg in segments:
        if isinstance(seg, int) or seg == "*":
            out += f"[{seg}]"
        elif not _NAME.fullmatch(seg):
            out += f'["{seg}"]'
        else:
            out += ("." if out else "") + seg
    return out


@dataclass(frozen=True)
class Node:
    """Fields every node has: its location in the control file and its YAML mapping."""

    where: str
    raw: dict[str, Any]

    @property
    def quiet(self) -> bool:
        """On a child of all/any: its reasons are left out of the parent's message."""
        return bool(self.raw.get("quiet"))


@dataclass(frozen=True)
class Value(Node):
    """`attr` plus one operator (or several bounds)."""

    attr: str
    path: tuple[Segment, ...]
    ops: tuple[Operator, ...]
    default: Any
    each: str
    if_unknown: str
    label: str | None
    expect: str | None
    computed: bool | None

    @property
    def operator(self) -> Operator:
        """The node's operator (the first bound when several are combined)."""
        return self.ops[0]


@dataclass(frozen=True)
class Combine(Node):
    """`all:` or `any:` over child nodes."""

    quantifier: str
    children: tuple[CheckNode, ...]


@dataclass(frozen=True)
class Items(Node):
    """`all_items:` or `any_items:` over the elements of a list, with an element check."""

    quantifier: str
    attr: str
    path: tuple[Segment, ...]
    check: CheckNode
    if_empty: str
    if_unknown: str


@dataclass(frozen=True)
class Relation(Node):
    """`referenced_by:` or `refers_to:` another resource type, or `in_plan:` every resource of
    a type anywhere in the plan; without a check, a related resource that exists passes."""

    kind: str
    types: tuple[str, ...]
    via: str
    via_path: tuple[Segment, ...]
    check: CheckNode | None
    if_none: str
    none_message: str | None
    min_count: int | None
    distinct: str | None


@dataclass(frozen=True)
class Policy(Node):
    """`policy:` a JSON-encoded policy document, with `no_statement:` or `some_statement:`."""

    attr: str
    path: tuple[Segment, ...]
    mode: str
    statement: dict[str, Any]
    label: str | None
    if_unknown: str


@dataclass(frozen=True)
class Custom(Node):
    """The `rego: file` escape hatch: the rules are in <id>.rego beside the control."""

    rego: str


@dataclass(frozen=True)
class AccountDefault(Node):
    """`account_default:` a region-level resource whose passing check settles `check`'s unknown."""

    type: str
    label: str
    default_check: CheckNode
    check: CheckNode


@dataclass(frozen=True)
class Backup(Node):
    """`in_backup_plan: true`: an aws_backup_selection in the plan selects the resource."""


CheckNode = Value | Combine | Items | Relation | Policy | Custom | AccountDefault | Backup

_SCOPES = ("all_items", "any_items", "referenced_by", "refers_to", "in_plan", "account_default")
_RELATIONS = ("referenced_by", "refers_to", "in_plan")


def parse_node(node: dict[str, Any], where: str, fail: Fail, in_items: bool = False) -> CheckNode:
    """Parse one schema-valid check mapping (and its children) into typed nodes."""
    is_scope = any(k in node for k in _SCOPES)
    if (
        any(k in node for k in ("all_items", "any_items", "account_default"))
        and "check" not in node
    ):
        fail(f"{where}: needs a check for the items")
    if not is_scope and "check" in node:
        fail(f"{where}.check: only {', '.join(_SCOPES)} take a check")
    if node.get("if_unknown", "unknown") not in IF_UNKNOWN:
        fail(f"{where}.if_unknown: one of {', '.join(IF_UNKNOWN)}")
    if ("policy" in node) != (("no_statement" in node) != ("some_statement" in node)):
        fail(f"{where}: a policy check takes exactly one of no_statement or some_statement")
    is_relation = any(k in node for k in ("referenced_by", "refers_to"))
    for key in ("min_count", "distinct"):
        if key in node and not is_relation:
            fail(f"{where}: {key} belongs with referenced_by or refers_to")
    if "min_count" in node and "check" not in node:
        fail(f"{where}: min_count needs a check")
    if "distinct" in node and "min_count" not in node:
        fail(f"{where}: distinct needs min_count")
    if "attr" in node:
        return _value(node, where, fail)
    stray = [k for k in (*VALUE_OPS, *BOUND_OPS, "default", "each", "computed") if k in node]
    if "if_unknown" in node and not any(k in node for k in ("all_items", "any_items", "policy")):
        stray.append("if_unknown")
    if stray:
        fail(f"{where}: {stray[0]} belongs with attr")
    if "policy" in node:
        path = tuple(parse_path(node["policy"]))
        if "*" in path:
            fail(f"{where}.policy: takes a plain path, without [*]")
        mode = "none" if "no_statement" in node else "some"
        if node.get("if_unknown") == "default":
            fail(f"{where}.if_unknown: default applies to attr and item checks, not policies")
        return Policy(
            where,
            node,
            node["policy"],
            path,
            mode,
            node["no_statement" if mode == "none" else "some_statement"],
            node.get("label"),
            node.get("if_unknown", "unknown"),
        )
    for key in ("all", "any"):
        if key in node:
            if all(child.get("quiet") for child in node[key]):
                fail(f"{where}.{key}: at least one child must not be quiet")
            children = tuple(
                parse_node(child, f"{where}.{key}[{i}]", fail, in_items)
                for i, child in enumerate(node[key])
            )
            return Combine(where, node, key, children)
    for key in ("all_items", "any_items"):
        if key in node:
            path = tuple(parse_path(node[key]))
            if "*" in path:
                fail(f"{where}.{key}: takes a plain path, without [*] (the check runs per element)")
            return Items(
                where,
                node,
                "all" if key == "all_items" else "any",
                node[key],
                path,
                parse_node(node["check"], f"{where}.check", fail, True),
                node.get("if_empty", "pass" if key == "all_items" else "fail"),
                node.get("if_unknown", "unknown"),
            )
    for key in _RELATIONS:
        if key in node:
            if in_items:
                fail(f"{where}: {key} sits at resource level, not inside all_items/any_items")
            rel = node[key]
            types = (rel["type"],) if isinstance(rel["type"], str) else tuple(rel["type"])
            via = rel.get("via", "id")
            return Relation(
                where,
                node,
                key,
                types,
                via,
                tuple(parse_path(via)),
                parse_node(node["check"], f"{where}.check", fail) if "check" in node else None,
                node.get("if_none", "fail"),
                node.get("none_message"),
                node.get("min_count"),
                node.get("distinct"),
            )
    if "account_default" in node:
        if in_items:
            fail(f"{where}: account_default sits at resource level, not inside all_items/any_items")
        spec = node["account_default"]
        return AccountDefault(
            where,
            node,
            spec["type"],
            spec.get("label", spec["type"]),
            parse_node(spec["check"], f"{where}.account_default.check", fail),
            parse_node(node["check"], f"{where}.check", fail),
        )
    if "fail_message" in node and any(k in node for k in ("in_backup_plan", "rego")):
        fail(f"{where}.fail_message: not for in_backup_plan or rego (they give their own reasons)")
    if "in_backup_plan" in node:
        if in_items:
            fail(f"{where}.in_backup_plan: sits at resource level only")
        return Backup(where, node)
    if in_items:
        fail(f"{where}.rego: the escape hatch sits at resource level only")
    return Custom(where, node, node["rego"])


def _value(node: dict[str, Any], where: str, fail: Fail) -> Value:
    ops = operators_in(node)
    bounds = [op for op in ops if op.argument == "bound"]
    if len(ops) - len(bounds) + (1 if bounds else 0) != 1:
        fail(f"{where}: an attr check needs exactly one of {', '.join(VALUE_OPS)} or bounds")
    for op in ops:
        if op.argument == "pattern":
            try:
                re.compile(node[op.name])
            except re.error as exc:
                fail(f"{where}.{op.name}: invalid regular expression: {exc}")
            if "`" in node[op.name]:
                fail(f"{where}.{op.name}: a backtick cannot appear in a pattern")
    path = tuple(parse_path(node["attr"]))
    if "each" in node and "*" not in path:
        fail(f"{where}.each: only a path with [*] takes each")
    return Value(
        where,
        node,
        node["attr"],
        path,
        tuple(ops),
        node.get("default"),
        node.get("each", "all"),
        node.get("if_unknown", "unknown"),
        node.get("label"),
        node.get("expect"),
        node.get("computed"),
    )


def walk(node: CheckNode) -> Iterator[CheckNode]:
    """The node and every node below it, depth first."""
    yield node
    if isinstance(node, Combine):
        for child in node.children:
            yield from walk(child)
    elif isinstance(node, Items | Relation) and node.check is not None:
        yield from walk(node.check)
    elif isinstance(node, AccountDefault):
        yield from walk(node.check)
        yield from walk(node.default_check)
