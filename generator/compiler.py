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
from dataclasses import dataclass, field
from typing import Any

from generator.docs import compact_yaml
from soc2opa.catalog import BOUND_OPS

_SEGMENT = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)|\[([0-9]+|\*)\]|\["([^"\\]+)"\]')
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")

Segment = str | int


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


def format_path(segments: list[Segment]) -> str:
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

    def compile(self, node: dict[str, Any], types: list[str]) -> int:
        """Compile a node at resource scope; return its node number."""
        return self._node(node, Scope(types=tuple(types)))

    def _emit(self, text: str) -> None:
        self.out.functions.append(self._pending + text.strip() + "\n")
        self._pending = ""

    def _number(self) -> int:
        n = self._next
        self._next += 1
        comment = self._comments.pop()
        self._pending = "".join(f"# {line}".rstrip() + "\n" for line in comment.splitlines())
        return n

    def _node(
        self, node: dict[str, Any], scope: Scope, written: dict[str, Any] | None = None
    ) -> int:
        if "attr" in node:
            segments = parse_path(node["attr"])
            if "*" in segments:
                return self._node(_desugar_wildcard(node, segments), scope, node)
        self._comments.append(node_comment(written or node))
        if "attr" in node:
            return self._value(node, parse_path(node["attr"]), scope)
        if "all" in node or "any" in node:
            return self._combine(node, scope)
        if "all_items" in node or "any_items" in node:
            return self._items(node, scope)
        if "referenced_by" in node or "refers_to" in node:
            return self._relation(node, scope)
        if "policy" in node:
            return self._policy(node, scope)
        return self._rego(node, scope)

    def _value(self, node: dict[str, Any], segments: list[Segment], scope: Scope) -> int:
        n = self._number()
        path = scope.path(segments)
        default = rego_literal(node.get("default"))
        label = rego_literal(node["label"]) if "label" in node else scope.label_expr(segments)
        op, arg = _operator(node)
        expect = rego_literal(node.get("expect") or _expectation(node))
        if_unknown = node.get("if_unknown", "unknown")
        p = scope.params
        self.out.uses_check = True
        self._emit(
            f'_s{n}({p}) := check.value(r, {path}, "{op}", {arg}, {default}, "{if_unknown}")'
        )
        self._emit(
            f"_w{n}({p}, want) := check.why_value(r, {path}, {label}, {expect}, {default}, "
            f"_s{n}({p}), want)"
        )
        return n

    def _combine(self, node: dict[str, Any], scope: Scope) -> int:
        key = "all" if "all" in node else "any"
        children = [self._node(child, scope) for child in node[key]]
        n = self._number()
        p = scope.params
        self.out.uses_tri = True
        self.out.uses_check = True
        statuses = ", ".join(f"_s{c}({p})" for c in children)
        whys = ", ".join(
            f"check.quiet(want, _w{c}({p}, want))" if child.get("quiet") else f"_w{c}({p}, want)"
            for c, child in zip(children, node[key], strict=True)
        )
        self._emit(f"_s{n}({p}) := tri.{key}_of([{statuses}])")
        self._emit(f"_w{n}({p}, want) := check.why_children(_s{n}({p}), want, [{whys}])")
        return n

    def _items(self, node: dict[str, Any], scope: Scope) -> int:
        key = "all_items" if "all_items" in node else "any_items"
        segments = parse_path(node[key])
        if "*" in segments:
            raise ValueError(f"{self.control_id}: {key} takes a plain path, without [*]")
        var = f"i{len(scope.indices) + 1}"
        list_path = scope.path(segments)
        label = scope.label_expr(segments)
        inner = Scope(
            types=scope.types,
            indices=(*scope.indices, var),
            base=(*scope.base, *(rego_literal(s) for s in segments), var),
            label=scope.label_text(segments) + "[%d]",
        )
        child = self._node(node["check"], inner)
        n = self._number()
        p = scope.params
        empty = node.get("if_empty", "pass" if key == "all_items" else "fail")
        quantifier = "all" if key == "all_items" else "any"
        if_unknown = node.get("if_unknown", "unknown")
        self.out.uses_check = True
        each = f"some {var}, _ in plan.list_at(r, {list_path})"
        self._emit(
            f'_s{n}({p}) := check.items(r, {list_path}, "{quantifier}", '
            f'[_s{child}({p}, {var}) | {each}], "{empty}", "{if_unknown}")'
        )
        self._emit(
            f"_w{n}({p}, want) := check.why_items(r, {list_path}, {label}, _s{n}({p}), want, "
            f"[_w{child}({p}, {var}, want) | {each}])"
        )
        return n

    def _relation(self, node: dict[str, Any], scope: Scope) -> int:
        if scope.indices:
            raise ValueError(f"{self.control_id}: a relation cannot sit inside an item scope")
        key = "referenced_by" if "referenced_by" in node else "refers_to"
        rel = node[key]
        types = [rel["type"]] if isinstance(rel["type"], str) else list(rel["type"])
        via = parse_path(rel["via"])
        child = self._node(node["check"], Scope(types=tuple(types)))
        n = self._number()
        self.out.uses_refs = True
        self.out.uses_check = True
        type_set = "{" + ", ".join(rego_literal(t) for t in types) + "}"
        subject_types = "{" + ", ".join(rego_literal(t) for t in scope.types) + "}"
        via_path = Scope(types=()).path(via)
        if key == "referenced_by":
            self._emit_targets(n, via_path, subject_types)
            self._emit(f"""
_rel{n} := plan.group({{[t.address, i] |
	some ty in {type_set}
	some i in object.get(plan.by_type, ty, [])
	some t in _targets{n}(plan.resources[i])
}})
""")
            self._emit(
                f"_related{n}(r) := [plan.resources[i] | "
                f"some i in object.get(_rel{n}, r.address, [])]"
            )
            none = (
                f"no {' or '.join(types)} in this plan refers to this resource through {rel['via']}"
            )
        else:
            self._emit_targets(n, via_path, type_set)
            self._emit(f"_related{n}(r) := _targets{n}(r)")
            none = f"{rel['via']} does not point at a {' or '.join(types)} in this plan"
        none = rego_literal(" ".join(node.get("none_message", none).split()))
        if_none = node.get("if_none", "fail")
        addressed = f"[[x.address, _w{child}(x, want)] | some x in _related{n}(r)]"
        if "min_count" in node:
            self._emit_counted(n, child, node, types, if_none, none, addressed)
            return n
        self._emit(
            f'_s{n}(r) := check.related([_s{child}(x) | some x in _related{n}(r)], "{if_none}")'
        )
        self._emit(f"_w{n}(r, want) := check.why_related(_s{n}(r), want, {none}, {addressed})")
        return n

    def _policy(self, node: dict[str, Any], scope: Scope) -> int:
        n = self._number()
        segments = parse_path(node["policy"])
        if "*" in segments:
            raise ValueError(f"{self.control_id}: policy takes a plain path, without [*]")
        mode = "none" if "no_statement" in node else "some"
        spec = node["no_statement" if mode == "none" else "some_statement"]
        path = scope.path(segments)
        label = rego_literal(node["label"]) if "label" in node else scope.label_expr(segments)
        pattern = rego_literal(statement_pattern(spec))
        what = rego_literal(list(describe_statement(spec)))
        if_unknown = node.get("if_unknown", "unknown")
        p = scope.params
        self.out.uses_policy = True
        self._emit(f'_s{n}({p}) := policy.status(r, {path}, "{mode}", {pattern}, "{if_unknown}")')
        self._emit(
            f'_w{n}({p}, want) := policy.why(r, {path}, {label}, "{mode}", {pattern}, {what}, '
            f"_s{n}({p}), want)"
        )
        return n

    def _emit_counted(
        self,
        n: int,
        child: int,
        node: dict[str, Any],
        types: list[str],
        if_none: str,
        none: str,
        addressed: str,
    ) -> None:
        # Each related resource is a [status, key] pair; the key is the distinct value when
        # known and set, else the resource's own address (so it counts once).
        minimum = int(node["min_count"])
        if "distinct" in node:
            path = Scope(types=()).path(parse_path(node["distinct"]))
            key = f"check.distinct_key(x, {path})"
            what = f"with distinct {node['distinct']}"
        else:
            key = "x.address"
            what = ""
        noun = " or ".join(types)
        counted = f"[[_s{child}(x), {key}] | some x in _related{n}(r)]"
        self._emit(f'_s{n}(r) := check.related_count({counted}, {minimum}, "{if_none}")')
        short = rego_literal(" ".join(f"fewer than {minimum} {noun} {what} in this plan".split()))
        self._emit(
            f"_w{n}(r, want) := check.why_related_count(_s{n}(r), want, {none}, {short}, "
            f"{addressed})"
        )

    def _emit_targets(self, n: int, via_path: str, types: str) -> None:
        # The identity index is only built when some source has a known value to join by.
        self._emit(f"_ids{n} := refs.identity_index({types})")
        self._emit(f"""
_targets{n}(src) := refs.targets(src, {via_path}, {types}, _ids{n}) if {{
	refs.value_known(src, {via_path})
}} else := refs.referenced(src, {via_path}, {types})
""")

    def _rego(self, node: dict[str, Any], scope: Scope) -> int:
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
        for lib in ("check", "policy", "refs", "tri"):
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
    r"^(meta|resource_types|decision|_judged|_outcome|_why|_status|_reason|_best"
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


def _desugar_wildcard(node: dict[str, Any], segments: list[Segment]) -> dict[str, Any]:
    star = segments.index("*")
    inner = {k: v for k, v in node.items() if k != "attr"}
    inner["attr"] = format_path(segments[star + 1 :])
    if "*" not in segments[star + 1 :]:
        inner.pop("each", None)
    key = "any_items" if node.get("each") == "any" else "all_items"
    items = {key: format_path(segments[:star]), "check": inner}
    if "if_unknown" in node:
        items["if_unknown"] = node["if_unknown"]
    return items


def _operator(node: dict[str, Any]) -> tuple[str, str]:
    """The check.holds operator name and its argument as a Rego term."""
    for op in ("equals", "not_equals"):
        if op in node:
            return op, rego_literal(node[op])
    for op in ("one_of", "none_of"):
        if op in node:
            return op, "{" + ", ".join(rego_literal(x) for x in node[op]) + "}"
    for op in ("exists", "absent", "truthy", "falsy"):
        if op in node:
            return op, "null"
    for op in ("matches", "not_matches"):
        if op in node:
            return op, f"`{node[op]}`"
    bounds = {k: node[k] for k in BOUND_OPS if k in node}
    return "bounds", rego_literal(bounds)


def _expectation(node: dict[str, Any]) -> str:
    if "equals" in node:
        return json.dumps(node["equals"])
    if "not_equals" in node:
        return f"anything but {json.dumps(node['not_equals'])}"
    if "one_of" in node:
        return "one of " + ", ".join(json.dumps(x) for x in node["one_of"])
    if "none_of" in node:
        return "none of " + ", ".join(json.dumps(x) for x in node["none_of"])
    if "exists" in node:
        return "a value"
    if "absent" in node:
        return "no value"
    if "truthy" in node:
        return "true"
    if "falsy" in node:
        return "false or unset"
    if "matches" in node:
        return f"a match for /{node['matches']}/"
    if "not_matches" in node:
        return f"no match for /{node['not_matches']}/"
    words = {"gte": ">=", "gt": ">", "lte": "<=", "lt": "<"}
    return " and ".join(f"{words[k]} {node[k]}" for k in BOUND_OPS if k in node)


def statement_pattern(spec: dict[str, Any]) -> dict[str, Any]:
    """The statement pattern as rego/lib/policy.rego matches it (condition keys in lower case)."""
    keys = ("effect", "principal", "actions", "actions_any")
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
    if "condition" in spec:
        conds = spec["condition"] if isinstance(spec["condition"], list) else [spec["condition"]]
        shown = [f"{c['test']} {c['key']} {json.dumps(_text(c['value']))}" for c in conds]
        words.append("under condition " + " or ".join(shown))
    text = " ".join(words)
    article = "an" if text[0].lower() in "aeiou" else "a"
    return f"{article} {text}", text
