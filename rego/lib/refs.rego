# METADATA
# title: Joins between resources
# description: >-
#   Finds which resources an attribute of another resource points at, through the plan's
#   configuration expression references (inside modules, through module inputs and
#   outputs, across count and for_each instances), and falls back to comparing known
#   values for resources that already exist.
# scope: package
package soc2opa.lib.refs

import data.soc2opa.lib.plan

_cfg_root := input.configuration.root_module if is_object(input.configuration.root_module)

else := {}

# Module instance address without instance keys: module.a["x"].module.b[0] -> module.a.module.b
strip_keys(addr) := regex.replace(addr, `\[[^\]]*\]`, "")

_module_names(mod) := [m[1] | some m in regex.find_all_string_submatch_n(`module\.([^.\[]+)`, strip_keys(mod), -1)]

_module_cfg_path(mod) := [seg | some n in _module_names(mod); some seg in ["module_calls", n, "module"]]

_module_cfg(mod) := object.get(_cfg_root, _module_cfg_path(mod), {})

_join(m, s) := s if m == ""

else := sprintf("%s.%s", [m, s])

# The enclosing module instance of a module instance: module.a["x"].module.b -> module.a["x"]
_parent(mod) := p if {
	parts := regex.find_all_string_submatch_n(`^(.*)\.module\.[^.\[]+(\[[^\]]*\])?$`, mod, 1)
	count(parts) == 1
	p := parts[0][1]
} else := ""

_own_name(mod) := n if {
	names := _module_names(mod)
	n := names[count(names) - 1]
}

_modules := {plan.module_of(r) | some r in plan.resources}

_stripped := {m: strip_keys(m) | some m in _modules}

_module_keys := {k | some k in _stripped}

# Every resource block of the configuration, by module (without keys) and relative address.
_cfg_resources[k] := {c.address: c |
	some c in object.get(_module_cfg(k), "resources", [])
	c.mode == "managed"
} if {
	some k in _module_keys
}

# METADATA
# description: >-
#   The configuration block of a resource: the resource of its module's configuration with the
#   same type and name; undefined when the plan's configuration has none.
block(r) := _cfg_resources[_stripped[plan.module_of(r)]][sprintf("%s.%s", [r.type, r.name])]

# METADATA
# description: The configuration expressions of a resource's block, or {} when the plan has none.
expressions(r) := e if {
	e := block(r).expressions
} else := {}

# An attribute's references; each.value stands for the element of the block's for_each, so
# `for_each = aws_s3_bucket.b` with `bucket = each.value.id` points at the matching instance.
_references(r, path) := _with_for_each(r, object.get(expressions(r), array.concat(path, ["references"]), []))

_with_for_each(r, refs) := array.concat(refs, object.get(block(r), ["for_each_expression", "references"], [])) if {
	some ref in refs
	startswith(ref, "each.value")
} else := refs

_reserved := {"var", "local", "module", "data", "each", "count", "path", "terraform", "self"}

# A reference in a module instance scope ([address, wild]; a wild scope matches any instance
# of the module), classified once: ["resource", scope, type, name, key], ["var", scope, name,
# "", ""], ["module", scope, call, output, ""] or ["other", scope, "", "", ""]. Plain string
# splitting serves the common cases; a regular expression only quoted keys, which may hold dots.
_classify(scope, ref) := _classify_parts(scope, ref, split(ref, "."))

_classify_parts(scope, _, parts) := ["var", scope, _name_key(parts[1])[0], "", ""] if {
	parts[0] == "var"
	count(parts) > 1
} else := ["module", scope, _name_key(parts[1])[0], parts[2], ""] if {
	parts[0] == "module"
	count(parts) > 2
	not contains(parts[1], `"`)
} else := ["module", scope, m[1], m[2], ""] if {
	parts[0] == "module"
	m := regex.find_all_string_submatch_n(`^module\.([A-Za-z_][A-Za-z0-9_-]*)(?:\[[^\]]+\])?\.([A-Za-z_][A-Za-z0-9_-]*)`, concat(".", parts), 1)[0]
} else := ["other", scope, "", "", ""] if {
	parts[0] in _reserved
} else := ["resource", scope, parts[0], nk[0], nk[1]] if {
	count(parts) > 1
	not contains(parts[1], `"`)
	nk := _name_key(parts[1])
} else := ["resource", scope, m[1], m[2], m[3]] if {
	m := regex.find_all_string_submatch_n(`^([a-z][a-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_-]*)(\[[^\]]+\])?`, concat(".", parts), 1)[0]
} else := ["other", scope, "", "", ""]

_name_key(s) := [substring(s, 0, i), substring(s, i, -1)] if {
	i := indexof(s, "[")
	i >= 0
} else := [s, ""]

_terminals(entries) := [c | some c in entries; c[0] == "resource"]

# One hop: module inputs resolve in the calling module, module outputs inside the called one.
_step(entries) := array.concat(_input_hops(entries), _output_hops(entries))

_input_hops(entries) := [_classify([_parent(scope[0]), scope[1]], r) |
	some [kind, scope, name, _, _] in entries
	kind == "var"
	scope[0] != ""
	call := object.get(_module_cfg(_parent(scope[0])), ["module_calls", _own_name(scope[0])], {})
	some r in object.get(call, ["expressions", name, "references"], [])
]

_output_hops(entries) := [_classify([_join(scope[0], sprintf("module.%s", [child])), true], r) |
	some [kind, scope, child, output, _] in entries
	kind == "module"
	cfg := _module_cfg(_join(strip_keys(scope[0]), sprintf("module.%s", [child])))
	some r in object.get(cfg, ["outputs", output, "expression", "references"], [])
]

# METADATA
# description: >-
#   The classified resource references an attribute's expression leads to, following up to
#   three module hops.
resolved(r, path) := _resolve(r, _references(r, path))

_resolve(r, refs) := _terminals(c0) if {
	c0 := _start(r, refs)
	not _has_hops(c0)
} else := array.concat(array.concat(_terminals(c0), _terminals(c1)), array.concat(_terminals(c2), _terminals(c3))) if {
	c0 := _start(r, refs)
	c1 := _step(c0)
	c2 := _step(c1)
	c3 := _step(c2)
}

_start(r, refs) := [_classify([plan.module_of(r), false], ref) | some ref in refs]

_has_hops(entries) if {
	some c in entries
	c[0] in {"var", "module"}
}

default _has_hops(_) := false

# Whether the expression picks the instance matching the source's own key (count/for_each).
_aligned(refs) if {
	some ref in refs
	_is_alignment(ref)
} else := false

_is_alignment(ref) if startswith(ref, "count.index")

_is_alignment(ref) if startswith(ref, "each.")

_unquote(s) := to_number(s) if regex.match(`^[0-9]+$`, s)

else := json.unmarshal(s)

_address(scope, t, name, key) := _join(scope, sprintf("%s.%s%s", [t, name, key]))

_key_of(index) := sprintf("[%d]", [index]) if is_number(index)

else := sprintf("[%s]", [json.marshal(index)])

_lookup(addr) := [plan.by_address[addr]] if plan.by_address[addr]

else := []

# The instances of a resource block: rare on the hot path, so a scan of its type is fine.
_block(scope, t, name) := [i |
	some i in object.get(plan.by_type, t, [])
	res := plan.resources[i]
	res.name == name
	_same_module(scope, plan.module_of(res))
]

_same_module([mod, true], m) := strip_keys(m) == strip_keys(mod)

_same_module([mod, false], m) := m == mod

# The instances a reference picks: the one it names by key, the one aligned with the source
# by count.index or each.key, the single instance, or else every instance of the block.
_pick(src, aligned, scope, t, name, key) := [i |
	some i in _block(scope, t, name)
	plan.resources[i].index == _unquote(trim(key, "[]"))
] if {
	scope[1]
	key != ""
} else := _lookup(_address(scope[0], t, name, key)) if {
	key != ""
} else := hit if {
	not scope[1]
	aligned
	src.index != null
	hit := _lookup(_address(scope[0], t, name, _key_of(src.index)))
	count(hit) == 1
} else := hit if {
	not scope[1]
	hit := _lookup(_address(scope[0], t, name, ""))
	count(hit) == 1
} else := _block(scope, t, name)

_by_reference(src, path, types) := direct if {
	direct := _direct(src, _references(src, path), types)
} else := general(src, path, types)

# The common shape without the general machinery: every reference names a resource of the
# source's own module instance directly (no module hop, key, count or for_each), and those of
# the wanted types are single instances; no references at all point at nothing. Anything else
# takes the general path.
_direct(src, refs, types) := {i |
	some ref in refs
	parts := split(ref, ".")
	parts[0] in types
	i := plan.by_address[_join(plan.module_of(src), concat(".", [parts[0], parts[1]]))]
} if {
	every ref in refs {
		_plain(src, ref, types)
	}
}

_plain(src, ref, types) if {
	not contains(ref, "[")
	parts := split(ref, ".")
	count(parts) > 1
	not parts[0] in _reserved
	_single(src, parts, types)
}

_single(_, parts, types) if not parts[0] in types

_single(src, parts, types) if {
	parts[0] in types
	plan.by_address[_join(plan.module_of(src), concat(".", [parts[0], parts[1]]))]
}

# METADATA
# description: Targets by configuration references through the general resolver (hops, keys, alignment).
general(src, path, types) := {i |
	refs := _references(src, path)
	found := _resolve(src, refs)
	indexed := {[c[1], c[2], c[3]] | some c in found; c[4] != ""}
	aligned := _aligned(refs)
	some c in found
	c[2] in types
	not _shadowed(c, indexed)
	some i in _pick(src, aligned, c[1], c[2], c[3], c[4])
}

# METADATA
# description: >-
#   Sources and attributes where the direct path disagrees with the general resolver
#   (empty unless a bug); the tests check it on every real plan.
fast_path_disagreements := [[r.address, attr] |
	some r in plan.resources
	some attr, _ in expressions(r)
	refs := _references(r, [attr])
	direct := _direct(r, refs, plan._types)
	direct != general(r, [attr], plan._types)
]

# Terraform lists the bare block (aws_s3_bucket.b) beside an indexed reference to it
# (aws_s3_bucket.b[0]); the indexed one is what the expression uses.
_shadowed(c, indexed) if {
	c[4] == ""
	[c[1], c[2], c[3]] in indexed
}

# Known identifying values of a resource that other resources use to point at it.
_identities(r) := {v |
	some k in ["id", "arn", "bucket", "name"]
	v := r.change.after[k]
	is_string(v)
	v != ""
}

# METADATA
# description: The resources of the given types by "type|identifying value", for joins by value.
identity_index(types) := plan.group({[sprintf("%s|%s", [t, v]), i] |
	some t in types
	some i in object.get(plan.by_type, t, [])
	some v in _identities(plan.resources[i])
})

_by_value(src, path, types, ids) := {i |
	v := object.get(src.change.after, path, null)
	is_string(v)
	v != ""
	some t in types
	some i in object.get(ids, sprintf("%s|%s", [t, v]), [])
}

# METADATA
# description: >-
#   Resources of the given types that the attribute at path of src points at, through
#   configuration references or, for resources that already exist, by known value (ids is
#   the identity_index of those types).
targets(src, path, types, ids) := [plan.resources[i] | some i in (_by_reference(src, path, types) | _by_value(src, path, types, ids))]

# METADATA
# description: Like targets, through configuration references only.
referenced(src, path, types) := [plan.resources[i] | some i in _by_reference(src, path, types)]

# METADATA
# description: True when src's attribute at path is a known, non-empty string to join by value.
value_known(src, path) if {
	v := object.get(src.change.after, path, null)
	is_string(v)
	v != ""
}

default value_known(_, _) := false

# METADATA
# description: >-
#   True when the plan's configuration holds the resource's block and the block does not set
#   the attribute name (so an unknown value there is one the provider computes).
not_configured(r, name) if {
	b := block(r)
	not name in object.keys(object.get(b, "expressions", {}))
}

# METADATA
# description: >-
#   The resources of the given types that src points at through the attribute at path, by
#   known value when src's value is known, else by configuration reference. OPA keeps a
#   function's result per arguments for the whole evaluation, so every control asking for the
#   same join shares one computation.
related(src, path, types) := targets(src, path, types, identity_index(types)) if {
	value_known(src, path)
} else := referenced(src, path, types)

# METADATA
# description: >-
#   Who points at whom, built once per evaluation for a (source types, path, target types)
#   triple: {target address: [indices of the source resources that point at it]}.
referenced_by(source_types, path, target_types) := plan.group({[t.address, i] |
	some ty in source_types
	some i in object.get(plan.by_type, ty, [])
	some t in related(plan.resources[i], path, target_types)
})
