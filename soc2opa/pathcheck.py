"""Checks a control's attribute paths, operators and literals against the AWS provider schema.

Every `attr`, `all_items`/`any_items` path and relation `via` is resolved in the schema of the
resource type it reads (the judged types; inside a relation, the related types; inside an item
scope, the list's elements). Nested blocks are lists in plan JSON, so `block[0].attr` or
`block[*].attr`; a single nested block is an object, `block.attr`. A path is valid for a scope of
several types (or the v5 and v6 forms of one) when it resolves in at least one of them. Whether a
check reads a value the provider computes (so it can be unknown at plan time) is derived here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from soc2opa.checks import (
    AccountDefault,
    CheckNode,
    Combine,
    Fail,
    Items,
    Policy,
    Relation,
    Segment,
    Value,
    parse_path,
)
from soc2opa.operators import Operator
from soc2opa.provider_schema import (
    PathError,
    Position,
    ProviderSchema,
    Typed,
    describe,
    element,
    is_list,
    primitive,
    resolve,
)


@dataclass(frozen=True)
class Candidate:
    """One schema a path in a scope may follow: a type (or its elements) in one variant."""

    what: str
    variant: str
    position: Position
    computed: bool


Scope = tuple[Candidate, ...]
UNCHECKED = "unchecked"


class PathChecker:
    """Resolves one control's paths against the provider schema, failing with file and path."""

    def __init__(self, schema: ProviderSchema, fail: Fail) -> None:
        self.schema = schema
        self.fail = fail
        self.computed: list[str] = []
        self.in_check = False

    def roots(self, types: tuple[str, ...] | list[str], where: str) -> Scope:
        """The candidates at resource level for these types; unknown types fail."""
        out: list[Candidate] = []
        for i, name in enumerate(types):
            if not self.schema.knows(name):
                near = self.schema.near(name)
                hint = f"; did you mean {' or '.join(near)}?" if near else ""
                at = f"{where}[{i}]" if len(types) > 1 or where == "resource_types" else where
                self.fail(
                    f"{at}: {name} is not a resource type of hashicorp/aws "
                    f"{self.schema.version}{hint}"
                )
            variants = self.schema.variants(name)
            for variant, block in variants:
                out.append(Candidate(name, variant, block, False))
            if not variants:
                # A provider type the trimmed schema lacks (build --check says: run make schema)
                # cannot refute any path until the schema is regenerated.
                out.append(Candidate(name, UNCHECKED, Typed(name, "dynamic"), False))
        return tuple(out)

    def _resolve(
        self, scope: Scope, path: tuple[Segment, ...], where: str, text: str
    ) -> list[tuple[Candidate, Position, bool]]:
        found = []
        errors: list[tuple[Candidate, PathError]] = []
        for cand in scope:
            try:
                res = resolve(cand.position, path)
            except PathError as exc:
                errors.append((cand, exc))
                continue
            found.append((cand, res.position, cand.computed or res.computed))
        if not found and errors:
            first, problem = errors[0]
            whats = sorted({c.what for c, _ in errors})
            variants = sorted({c.variant for c, _ in errors if c.what == first.what})
            self.fail(
                f'{where}: "{text}" is not a path of {" or ".join(whats)} '
                f"(hashicorp/aws {' or '.join(variants)}): at {problem}"
            )
        return found

    def visit(self, node: CheckNode, scope: Scope) -> bool:
        """Check the node's paths; return whether it reads a value the provider may compute."""
        if isinstance(node, Value):
            return self._value(node, scope)
        if isinstance(node, Combine):
            flags = [self.visit(child, scope) for child in node.children]
            return any(flags)
        if isinstance(node, Items):
            key = f"{node.quantifier}_items"
            found = self._resolve(scope, node.path, f"{node.where}.{key}", node.attr)
            lists = [(c, p, computed) for c, p, computed in found if is_list(p)]
            if found and not lists:
                self.fail(
                    f'{node.where}.{key}: "{node.attr}" is {describe(found[0][1])}, not a list '
                    "of items"
                )
            inner = tuple(
                Candidate(f"{c.what} {node.attr}[*]", c.variant, element(p), computed)
                for c, p, computed in lists
            )
            child = self.visit(node.check, inner)
            if any(computed for _, _, computed in lists):
                self.computed.append(f"{node.where}.{key} {node.attr}")
                return True
            return child
        if isinstance(node, Policy):
            found = self._resolve(scope, node.path, f"{node.where}.policy", node.attr)
            if found and not any(primitive(p) in ("string", "dynamic") for _, p, _ in found):
                self.fail(
                    f'{node.where}.policy: "{node.attr}" is {describe(found[0][1])}, not a '
                    "JSON-encoded policy string"
                )
            if any(computed for _, _, computed in found):
                self.computed.append(f"{node.where}.policy {node.attr}")
                return True
            return False
        if isinstance(node, Relation):
            related = self.roots(node.types, f"{node.where}.{node.kind}.type")
            if node.kind != "in_plan":
                via_scope = related if node.kind == "referenced_by" else scope
                self._resolve(via_scope, node.via_path, f"{node.where}.{node.kind}.via", node.via)
            if node.distinct is not None:
                distinct = tuple(parse_path(node.distinct))
                self._resolve(related, distinct, f"{node.where}.distinct", node.distinct)
            return self.visit(node.check, related) if node.check is not None else False
        if isinstance(node, AccountDefault):
            saved = list(self.computed)
            self.visit(
                node.default_check, self.roots((node.type,), f"{node.where}.account_default")
            )
            self.computed = saved
            return self.visit(node.check, scope)
        return False

    def _value(self, node: Value, scope: Scope) -> bool:
        found = self._resolve(scope, node.path, f"{node.where}.attr", node.attr)
        if not found:
            return bool(node.computed)
        if any(c.variant == UNCHECKED for c, _, _ in found):
            return bool(node.computed)
        positions = [p for _, p, _ in found]
        for op in node.ops:
            self._operator_fits(node, op, positions)
        for op in node.ops:
            if op.argument in ("value", "list"):
                values = node.raw[op.name] if op.argument == "list" else [node.raw[op.name]]
                for value in values:
                    self._literal_fits(node, op.name, value, positions, None)
        if node.default is not None:
            self._literal_fits(node, "default", node.default, positions, node.operator)
        derived = any(computed for _, _, computed in found)
        # In a check, if_unknown: fail turns the unknown case into a failure: no unknown example.
        settles = self.in_check and node.if_unknown == "fail"
        if derived and not settles:
            self.computed.append(f"{node.where}.attr {node.attr}")
        if node.computed is not None and node.computed != derived:
            said = "computed by the provider" if derived else "not computed by the provider"
            self.fail(
                f"{node.where}.computed: {node.computed} contradicts the provider schema, where "
                f'"{node.attr}" is {said}; remove the flag (it is derived from the schema)'
            )
        return derived and not settles

    def _operator_fits(self, node: Value, op: Operator, positions: list[Position]) -> None:
        if op.accepts is None:
            return
        prims = [primitive(p) for p in positions]
        if any(p == "dynamic" or p in op.accepts for p in prims):
            return
        self.fail(
            f'{node.where}.{op.name}: "{node.attr}" is {describe(positions[0])}, but '
            f"{op.name} applies to {' or '.join(sorted(op.accepts))} values"
        )

    def _literal_fits(
        self, node: Value, key: str, value: Any, positions: list[Position], op: Operator | None
    ) -> None:
        kind = _json_type(value)
        for position in positions:
            prim = primitive(position)
            if kind == "null" or prim == "dynamic" or kind == prim:
                return
            if prim is None and kind in ("list", "object"):
                return
            if op is not None and op.accepts and kind in op.accepts and prim in op.accepts:
                return
        hint = ""
        if kind == "bool" and primitive(positions[0]) == "string":
            hint = ' (the provider types it as a string: write "true"/"false", or truthy/falsy)'
        self.fail(
            f'{node.where}.{key}: {json.dumps(value)} is a {kind}, but "{node.attr}" is '
            f"{describe(positions[0])}, so a plan never holds this value there{hint}"
        )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "list" if isinstance(value, list) else "object"


@dataclass(frozen=True)
class Computed:
    """Where a control reads values the provider computes (unknown at plan time when unset)."""

    check: tuple[str, ...]
    when: tuple[str, ...]


def check_control(
    schema: ProviderSchema,
    resource_types: list[str],
    check: CheckNode,
    when: CheckNode | None,
    fail: Fail,
) -> Computed:
    """Check every path of a control; return where its check and when read computed values."""
    checker = PathChecker(schema, fail)
    root = checker.roots(resource_types, "resource_types")
    when_paths: tuple[str, ...] = ()
    if when is not None:
        checker.visit(when, root)
        when_paths = tuple(checker.computed)
        checker.computed = []
    checker.in_check = True
    flagged = checker.visit(check, root)
    paths = tuple(checker.computed) or (("check (computed: true)",) if flagged else ())
    return Computed(paths, when_paths)
