"""Compiles a control's check expression into Rego v1 functions.

Every node N of the check tree becomes two functions over the same parameters (the subject
resource and, inside item scopes, the element indices):

- ``_sN(...)`` returns "pass", "fail" or "unknown";
- ``_wN(..., want)`` returns the reasons, as strings, why the node's outcome is ``want``.

Reasons are only computed for resources that do not pass, so the per-resource cost of a
passing resource is one call chain of ``_s`` functions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn

from generator.docs import compact_yaml
from soc2opa.checks import (
    AccountDefault,
    Backup,
    CheckNode,
    Combine,
    Custom,
    Items,
    Policy,
    Relation,
    Segment,
    Value,
    format_path,
    parse_node,
    parse_path,
)
from soc2opa.operators import STATEMENT_FIELDS, describe, rego_argument

__all__ = ["CheckCompiler", "CompiledCheck", "Scope", "format_path", "parse_path", "rego_literal"]


def rego_literal(value: Any) -> str:
    """A JSON value written as a Rego term."""
    return json.dumps(value, sort_keys=True)


@dataclass(frozen=True)
class Scope:
    """Where a node is evaluated: the subject variable, index variables and base path."""

    types: tuple[str, ...]
    indices: tuple[str, ...] = ()
    base: tuple[str, ...] = ()
    label: str = ""
    related: bool = False

    @property
    def params(self) -> str:
        """The Rego parameter list: the subject and element indices."""
        return ", ".join(("r", *self.indices))

    def path(self, segments: list[Segment]) -> str:
        """A Rego array term for the path below this scope's base."""
        terms = [*self.base, *(rego_literal(s) for s in segments)]
        return "[" + ", ".join(terms) + "]"

    def label_text(self, segments: list[Segment]) -> str:
        """The human-readable path; inside item scopes it has a %d per element index."""
        tail = format_path(segments)
        if self.label and tail and not tail.startswith("["):
            return f"{self.label}.{tail}"
        return self.label + tail

    def label_expr(self, segments: list[Segment]) -> str:
        """A Rego expression for the human-readable path, with element indices filled in."""
        text = self.label_text(segments)
        if not self.indices:
            return rego_literal(text)
        return f"sprintf({rego_literal(text)}, [{', '.join(self.indices)}])"


@dataclass
class CompiledCheck:
    """The Rego text for one control's check, plus facts the templates need."""

    functions: list[str] = field(default_factory=list)
    custom_rego: str = ""
    custom_imports: list[str] = field(default_factory=list)
    uses_refs: bool = False
    uses_tri: bool = False
    uses_check: bool = False
    uses_policy: bool = False
    uses_config: bool = False
    notes: list[str] = field(default_factory=list)
    uses_backup: bool = False


class CheckCompiler:
    """Turns the YAML check tree of one control into Rego function definitions."""

    def __init__(self, control_id: str, rego_file: str | None = None) -> None:
        self.control_id = control_id
        self.rego_file = rego_file
        self.out = CompiledCheck()
        self._next = 0
        # The YAML of the nodes being compiled; a node's own rules get it as their comment.
        self._comments: list[str] = []
        self._pending = ""
        # A node's fail_message, if any, replaces its reasons for a fail (set per node number).
        self._messages: list[str | None] = []
        self._message: str | None = None

    def compile(self, node: CheckNode | dict[str, Any], types: list[str]) -> int:
        """Compile a node at resource scope (parsed, or a YAML mapping); return its number."""
        if isinstance(node, dict):
            node = parse_node(node, "check", _refuse)
        return self._node(node, Scope(types=tuple(types)))

    def _emit(self, text: str) -> None:
        self.out.functions.append(self._pending + text.strip() + "\n")
        self._pending = ""

    def _emit_why(self, n: int, params: str, reasons: str, tests_status: bool = False) -> None:
        # The status test first, so that the children's reasons (arguments of the lib call)
        # are only built for a node whose outcome is the one explained. A lib call whose
        # arguments cost nothing and that makes the same test itself (tests_status) goes
        # without it: every rule and else branch is one more search of OPA's recursion check.
        if self._message is not None:
            reasons = f"check.fail_message(want, {rego_literal(self._message)}, {reasons})"
            self.out.uses_check = True
        elif tests_status:
            self._emit(f"_w{n}({params}, want) := {reasons}")
            return
        self._emit(f"""
_w{n}({params}, want) := [] if {{
	_s{n}({params}) != want
}} else := {reasons}
""")

    def _number(self) -> int:
        n = self._next
        self._next += 1
        comment = self._comments.pop()
        self._message = self._messages.pop()
        self._pending = "".join(f"# {line}".rstrip() + "\n" for line in comment.splitlines())
        return n

    def _node(self, node: CheckNode, scope: Scope, written: dict[str, Any] | None = None) -> int:
        if isinstance(node, Value) and "*" in node.path:
            return self._node(_desugar_wildcard(node), scope, node.raw)
        self._comments.append(node_comment(written or node.raw))
        self._messages.append(node.raw.get("fail_message"))
        if isinstance(node, Value):
            return self._value(node, scope)
        if isinstance(node, Combine):
            return self._combine(node, scope)
        if isinstance(node, Items):
            return self._items(node, scope)
        if isinstance(node, Relation):
            return self._relation(node, scope)
        if isinstance(node, Policy):
            return self._policy(node, scope)
        if isinstance(node, AccountDefault):
            return self._account_default(node, scope)
        if isinstance(node, Backup):
            return self._backup(scope)
        return self._rego(node, scope)

    def _value(self, node: Value, scope: Scope) -> int:
        n = self._number()
        segments = list(node.path)
        path = scope.path(segments)
        default = rego_literal(node.default)
        label = rego_literal(node.label) if node.label is not None else scope.label_expr(segments)
        op, arg = _operator(node)
        expect = rego_literal(node.expect or _expectation(node))
        if_unknown = node.if_unknown
        p = scope.params
        # With if_unknown "default" the reason names the default that decided an unset value.
        why = "why_default" if if_unknown == "default" else "why_value"
        self.out.uses_check = True
        self._emit(
            f'_s{n}({p}) := check.value(r, {path}, "{op}", {arg}, {default}, "{if_unknown}")'
        )
        self._emit_why(
            n,
            p,
            f"check.{why}(r, {path}, {label}, {expect}, {default}, _s{n}({p}), want)",
            tests_status=True,
        )
        return n

    def _combine(self, node: Combine, scope: Scope) -> int:
        key = node.quantifier
        children = [self._node(child, scope) for child in node.children]
        n = self._number()
        p = scope.params
        self.out.uses_tri = True
        self.out.uses_check = True
        statuses = ", ".join(f"_s{c}({p})" for c in children)
        whys = ", ".join(
            f"check.quiet(want, _w{c}({p}, want))" if child.quiet else f"_w{c}({p}, want)"
            for c, child in zip(children, node.children, strict=True)
        )
        self._emit(f"_s{n}({p}) := tri.{key}_of([{statuses}])")
        self._emit_why(n, p, f"check.why_children(_s{n}({p}), want, [{whys}])")
        return n

    def _items(self, node: Items, scope: Scope) -> int:
        segments = list(node.path)
        if "*" in segments:
            raise ValueError(f"{self.control_id}: {node.quantifier}_items takes a plain path")
        var = f"i{len(scope.indices) + 1}"
        list_path = scope.path(segments)
        label = scope.label_expr(segments)
        inner = Scope(
            types=scope.types,
            indices=(*scope.indices, var),
            base=(*scope.base, *(rego_literal(s) for s in segments), var),
            label=scope.label_text(segments) + "[%d]",
        )
        child = self._node(node.check, inner)
        n = self._number()
        p = scope.params
        empty = node.if_empty
        quantifier = node.quantifier
        if_unknown = node.if_unknown
        self.out.uses_check = True
        each = f"some {var}, _ in plan.list_at(r, {list_path})"
        self._emit(
            f'_s{n}({p}) := check.items(r, {list_path}, "{quantifier}", '
            f'[_s{child}({p}, {var}) | {each}], "{empty}", "{if_unknown}")'
        )
        self._emit_why(
            n,
            p,
            f"check.why_items(r, {list_path}, {label}, _s{n}({p}), want, "
            f"[_w{child}({p}, {var}, want) | {each}])",
        )
        return n

    def _relation(self, node: Relation, scope: Scope) -> int:
        if scope.indices:
            raise ValueError(f"{self.control_id}: a relation cannot sit inside an item scope")
        key = node.kind
        types = list(node.types)
        via = list(node.via_path)
        child = (
            None
            if node.check is None
            else self._node(node.check, Scope(types=tuple(types), related=True))
        )
        n = self._number()
        self.out.uses_refs |= key != "in_plan"
        self.out.uses_check = True
        type_set = "{" + ", ".join(rego_literal(t) for t in types) + "}"
        subject_types = "{" + ", ".join(rego_literal(t) for t in scope.types) + "}"
        via_path = Scope(types=()).path(via)
        if key == "in_plan":
            self._emit(f"_related{n}(_) := plan.of_types({type_set})")
            none = f"no {' or '.join(types)} in this plan"
        elif key == "referenced_by":
            self._emit(
                f"_related{n}(r) := [plan.resources[i] | some i in object.get("
                f"refs.referenced_by({type_set}, {via_path}, {subject_types}), r.address, [])]"
            )
            none = (
                f"no {' or '.join(types)} in this plan refers to this resource through {node.via}"
            )
        else:
            self._emit(f"_related{n}(r) := refs.related(r, {via_path}, {type_set})")
            none = f"{node.via} does not point at a {' or '.join(types)} in this plan"
        none = rego_literal(" ".join((node.none_message or none).split()))
        if_none = node.if_none
        # Without a check, a related resource that exists is enough.
        status = '"pass"' if child is None else f"_s{child}(x)"
        why = "[]" if child is None else f"_w{child}(x, want)"
        addressed = f"[[x.address, {why}] | some x in _related{n}(r)]"
        if node.min_count is not None and child is not None:
            self._emit_counted(n, child, node, types, if_none, none, addressed)
            return n
        if key == "in_plan":
            # The same resources for every subject: the outcome is computed once per
            # evaluation, not once per judged resource over every resource of the types.
            self._emit(
                f"_rel{n} := check.related([{status} | some x in plan.of_types({type_set})], "
                f'"{if_none}")'
            )
            self._emit(f"_s{n}(_) := _rel{n}")
        else:
            self._emit(
                f'_s{n}(r) := check.related([{status} | some x in _related{n}(r)], "{if_none}")'
            )
        self._emit_why(n, "r", f"check.why_related(_s{n}(r), want, {none}, {addressed})")
        return n

    def _policy(self, node: Policy, scope: Scope) -> int:
        n = self._number()
        segments = list(node.path)
        if "*" in segments:
            raise ValueError(f"{self.control_id}: policy takes a plain path, without [*]")
        mode = node.mode
        spec = node.statement
        path = scope.path(segments)
        label = rego_literal(node.label) if node.label is not None else scope.label_expr(segments)
        pattern = rego_literal(statement_pattern(spec))
        what = rego_literal(list(describe_statement(spec)))
        if_unknown = node.if_unknown
        p = scope.params
        self.out.uses_policy = True
        self._emit(f'_s{n}({p}) := policy.status(r, {path}, "{mode}", {pattern}, "{if_unknown}")')
        self._emit_why(
            n,
            p,
            f'policy.why(r, {path}, {label}, "{mode}", {pattern}, {what}, _s{n}({p}), want)',
            tests_status=True,
        )
        return n

    def _emit_counted(
        self,
        n: int,
        child: int,
        node: Relation,
        types: list[str],
        if_none: str,
        none: str,
        addressed: str,
    ) -> None:
        # Each related resource is a [status, key] pair; the key is the distinct value when
        # known and set, else the resource's own address (so it counts once).
        minimum = int(node.min_count or 1)
        if node.distinct is not None:
            path = Scope(types=()).path(parse_path(node.distinct))
            key = f"check.distinct_key(x, {path})"
            what = f"with distinct {node.distinct}"
        else:
            key = "x.address"
            what = ""
        noun = " or ".join(types)
        counted = f"[[_s{child}(x), {key}] | some x in _related{n}(r)]"
        self._emit(f'_s{n}(r) := check.related_count({counted}, {minimum}, "{if_none}")')
        short = rego_literal(" ".join(f"fewer than {minimum} {noun} {what} in this plan".split()))
        self._emit_why(
            n, "r", f"check.why_related_count(_s{n}(r), want, {none}, {short}, {addressed})"
        )

    def _backup(self, scope: Scope) -> int:
        if scope.indices:
            raise ValueError(f"{self.control_id}: in_backup_plan only at resource scope")
        n = self._number()
        self.out.uses_backup = True
        self._emit(f"_s{n}(r) := backup.status(r)")
        self._emit(f"_w{n}(r, want) := backup.why(r, want)")
        return n

    def _account_default(self, node: AccountDefault, scope: Scope) -> int:
        if scope.indices:
            raise ValueError(f"{self.control_id}: account_default cannot sit inside an item scope")
        child = self._node(node.check, scope)
        dflt = self._node(node.default_check, Scope(types=(node.type,), related=True))
        n = self._number()
        label = rego_literal(node.label)
        self.out.uses_config = True
        self._emit(
            f"_d{n} := config.by_provider([d | some d in plan.of_types({{{rego_literal(node.type)}}}); "
            f'_s{dflt}(d) == "pass"])'
        )
        self._emit(f"_s{n}(r) := config.resolved(_s{child}(r), r, _d{n})")
        self._emit_why(n, "r", f"config.why_resolved(_s{n}(r), want, _w{child}(r, want), {label})")
        if not scope.related:
            # A note explains the judged resource's pass; inside a relation r is another one.
            self.out.notes.append(
                f'config.note(_s{child}(r), r, _d{n}, {label}, _w{child}(r, "unknown"))'
            )
        return n

    def _rego(self, node: Custom, scope: Scope) -> int:
        if scope.indices:
            raise ValueError(f"{self.control_id}: rego: only at resource scope")
        if self.out.custom_rego:
            raise ValueError(f"{self.control_id}: only one rego: escape hatch per control")
        if self.rego_file is None:
            raise ValueError(
                f"{self.control_id}: rego: file needs {self.control_id}.rego beside it"
            )
        self.out.custom_imports, self.out.custom_rego = split_rego_file(
            self.rego_file, self.control_id
        )
        for lib in ("backup", "check", "config", "policy", "refs", "tri"):
            if f"import data.soc2opa.lib.{lib}" in self.out.custom_imports:
                setattr(self.out, f"uses_{lib}", True)
        n = self._number()
        self._emit(f"_s{n}(r) := result(r).status")
        self._emit(f"""
_w{n}(r, want) := [result(r).reason] if {{
	_s{n}(r) == want
}} else := []
""")
        return n


_PACKAGE = re.compile(r"^package\s+(\S+)\s*$", re.M)
_RESERVED = re.compile(
    r"^(meta|resource_types|decision|_judged|_outcome|_why|_status|_reason|_best|_any_passes"
    r"|_(?:s|w|rel|ids|targets|related)[0-9]+)\b",
    re.M,
)
_RESULT = re.compile(r"^result\(r\)\s*:?=", re.M)


def split_rego_file(text: str, control_id: str) -> tuple[list[str], str]:
    """The imports and the rules of a control's hand-written .rego file.

    The file is a package of its own, soc2opa.controls.<id>, so that `opa fmt`, `opa check` and
    `opa test` work on it where it lives; the build copies its rules, below its imports, into
    the generated package of the same name.
    """
    m = _PACKAGE.search(text)
    if not m or m.group(1) != f"soc2opa.controls.{control_id}":
        raise ValueError(f"{control_id}.rego: must declare package soc2opa.controls.{control_id}")
    lines = text[m.end() :].splitlines()
    imports: list[str] = []
    while lines and (not lines[0].strip() or lines[0].startswith("import ")):
        line = lines.pop(0)
        if line.strip():
            imports.append(line.strip())
    body = "\n".join(lines).strip() + "\n"
    clash = _RESERVED.search(body)
    if clash:
        raise ValueError(
            f"{control_id}.rego: {clash.group(1)} is a name the generated package defines"
        )
    if not _RESULT.search(body):
        raise ValueError(
            f'{control_id}.rego: must define result(r) := {{"status": ..., "reason": ...}}'
        )
    return imports, body


def node_comment(node: dict[str, Any]) -> str:
    """The YAML node a rule pair comes from, compact, with its child nodes left out."""
    shown: dict[str, Any] = {}
    if node.get("attr") == "":
        # The element check of a [*] path: the path is on the node above.
        node = {k: v for k, v in node.items() if k != "attr"}
    elif "attr" in node:
        node = {"attr": node["attr"], **node}
    for key, value in node.items():
        if key in ("all", "any"):
            shown[key] = f"the {len(value)} nodes above"
        elif key == "check" and isinstance(value, dict):
            shown[key] = "the node above"
        else:
            shown[key] = value
    return compact_yaml(shown, width=94)


def _refuse(message: str) -> NoReturn:
    raise ValueError(message)


def _desugar_wildcard(node: Value) -> Items:
    """`a[*].b` as an item scope over `a` checking `b`; the mappings are what comments show."""
    segments = list(node.path)
    star = segments.index("*")
    rest = segments[star + 1 :]
    inner_raw = {k: v for k, v in node.raw.items() if k != "attr"}
    inner_raw["attr"] = format_path(rest)
    if "*" not in rest:
        inner_raw.pop("each", None)
    inner = replace(
        node,
        raw=inner_raw,
        attr=format_path(rest),
        path=tuple(rest),
        each=node.each if "*" in rest else "all",
    )
    quantifier = "any" if node.each == "any" else "all"
    key = f"{quantifier}_items"
    items_raw: dict[str, Any] = {key: format_path(segments[:star]), "check": inner_raw}
    if "fail_message" in inner_raw:
        items_raw["fail_message"] = inner_raw.pop("fail_message")
    if "if_unknown" in node.raw:
        items_raw["if_unknown"] = node.raw["if_unknown"]
    return Items(
        node.where,
        items_raw,
        quantifier,
        format_path(segments[:star]),
        tuple(segments[:star]),
        inner,
        "pass" if quantifier == "all" else "fail",
        node.if_unknown,
    )


def _operator(node: Value) -> tuple[str, str]:
    """The check.value operator name and its argument as a Rego term."""
    return node.operator.rego_name, rego_argument(list(node.ops), node.raw)


def _expectation(node: Value) -> str:
    return describe(list(node.ops), node.raw)


def statement_pattern(spec: dict[str, Any]) -> dict[str, Any]:
    """The statement pattern as rego/lib/policy.rego matches it (condition keys in lower case)."""
    keys = [f.name for f in STATEMENT_FIELDS if f.name not in ("restricted_by", "condition")]
    pattern: dict[str, Any] = {k: spec[k] for k in keys if k in spec}
    if "restricted_by" in spec:
        pattern["restricted_by"] = sorted({k.lower() for k in spec["restricted_by"]})
    if "condition" in spec:
        conds = spec["condition"] if isinstance(spec["condition"], list) else [spec["condition"]]
        pattern["condition"] = [{k: _text(c[k]) for k in ("test", "key", "value")} for c in conds]
    return pattern


def _text(value: Any) -> str:
    """A condition value as policy documents compare it: JSON text for booleans and numbers."""
    return value if isinstance(value, str) else json.dumps(value)


def describe_statement(spec: dict[str, Any]) -> tuple[str, str]:
    """How messages name the statement pattern: with an article, and without."""
    words = [spec["effect"]] if "effect" in spec else []
    words.append("statement")
    if spec.get("principal") == "everyone":
        words.append("for everyone")
    elif spec.get("principal") == "public":
        words.append("for everyone without a restricting condition")
    if "actions" in spec:
        words.append("covering " + ", ".join(spec["actions"]))
    if "actions_any" in spec:
        words.append("covering any of " + ", ".join(spec["actions_any"]))
    if "resources" in spec:
        words.append("on resource " + ", ".join(spec["resources"]))
    if "condition" in spec:
        conds = spec["condition"] if isinstance(spec["condition"], list) else [spec["condition"]]
        shown = [f"{c['test']} {c['key']} {json.dumps(_text(c['value']))}" for c in conds]
        words.append("under condition " + " or ".join(shown))
    text = " ".join(words)
    article = "an" if text[0].lower() in "aeiou" else "a"
    return f"{article} {text}", text
