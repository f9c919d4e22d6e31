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

_block_cfg(r) := _cfg_resources[_stripped[plan.module_of(r)]][sprintf("%s.%s", [r.type, r.name])]

# METADATA
# description: The configuration expressions of a resource's block, or {} when the plan has none.
expressions(r) := e if {
	e := _block_cfg(r).expressions
} else := {}

# An attribute's references; each.value stands for the element of the block's for_each, so
# `for_each = aws_s3_bucket.b` with `bucket = each.value.id` points at the matching instance.
_references(r, path) := array.concat(refs, object.get(_block_cfg(r), ["for_each_expression", "references"], [])) if {
	refs := object.get(expressions(r), array.concat(path, ["references"]), [])
	some ref in refs
	startswith(ref, "each.value")
} else := object.get(expressions(r), array.concat(path, ["references"]), [])

_reserved := {"var", "local", "module", "data", "each", "count", "path", "terraform", "self"}

# A reference in module instance `mod`, as [kind, scope, rest]; `wild` scopes match any instance.
_classify(scope, ref) := ["resource", scope, m[1], m[2], m[3]] if {
	m := regex.find_all_string_submatch_n(`^([a-z][a-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_-]*)(\[[^\]]+\])?`, ref, 1)[0]
	not m[1] in _reserved
}

_classify(scope, ref) := ["var", scope, m[1], "", ""] if {
	m := regex.find_all_string_submatch_n(`^var\.([A-Za-z_][A-Za-z0-9_-]*)`, ref, 1)[0]
}

_classify(scope, ref) := ["module", scope, m[1], m[2], ""] if {
	m := regex.find_all_string_submatch_n(`^module\.([A-Za-z_][A-Za-z0-9_-]*)(?:\[[^\]]+\])?\.([A-Za-z_][A-Za-z0-9_-]*)`, ref, 1)[0]
}

_terminals(pending) := [[scope, ref] | some [scope, ref] in pending; _classify(scope, ref)[0] == "resource"]

# One hop: module inputs resolve in the calling module, module outputs inside the called one.
_step(pending) := array.concat(_input_hops(pending), _output_hops(pending))

_input_hops(pending) := [[[_parent(scope[0]), scope[1]], r] |
	some [scope, ref] in pending
	c := _classify(scope, ref)
	c[0] == "var"
	name := c[2]
	scope[0] != ""
	call := object.get(_module_cfg(_parent(scope[0])), ["module_calls", _own_name(scope[0])], {})
	some r in object.get(call, ["expressions", name, "references"], [])
]

_output_hops(pending) := [[[_join(scope[0], sprintf("module.%s", [child])), true], r] |
	some [scope, ref] in pending
	c := _classify(scope, ref)
	c[0] == "module"
	child := c[2]
	output := c[3]
	cfg := _module_cfg(_join(strip_keys(scope[0]), sprintf("module.%s", [child])))
	some r in object.get(cfg, ["outputs", output, "expression", "references"], [])
]

# METADATA
# description: The resource references an attribute's expression leads to, following up to three module hops.
resolved(r, path) := _terminals(p0) if {
	p0 := _start(r, path)
	not _hops(p0)
} else := array.concat(array.concat(_terminals(p0), _terminals(p1)), array.concat(_terminals(p2), _terminals(p3))) if {
	p0 := _start(r, path)
	p1 := _step(p0)
	p2 := _step(p1)
	p3 := _step(p2)
}

_start(r, path) := [[[plan.module_of(r), false], ref] | some ref in _references(r, path)]

_hops(pending) if {
	some [_, ref] in pending
	regex.match(`^(var|module)\.`, ref)
}

_aligned(r, path) if {
	some ref in object.get(expressions(r), array.concat(path, ["references"]), [])
	regex.match(`^(count\.index|each\.(key|value))`, ref)
}

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
_pick(src, path, scope, t, name, key) := [i |
	some i in _block(scope, t, name)
	plan.resources[i].index == _unquote(trim(key, "[]"))
] if {
	scope[1]
	key != ""
} else := _lookup(_address(scope[0], t, name, key)) if {
	key != ""
} else := _lookup(_address(scope[0], t, name, _key_of(src.index))) if {
	not scope[1]
	_aligned(src, path)
	src.index != null
	count(_lookup(_address(scope[0], t, name, _key_of(src.index)))) == 1
} else := _lookup(_address(scope[0], t, name, "")) if {
	not scope[1]
	count(_lookup(_address(scope[0], t, name, ""))) == 1
} else := _block(scope, t, name)

_by_reference(src, path, types) := {i |
	found := resolved(src, path)
	some [scope, ref] in found
	[_, _, t, name, key] := _classify(scope, ref)
	t in types
	not _indexed_elsewhere(found, scope, t, name, key)
	some i in _pick(src, path, scope, t, name, key)
}

# Terraform lists the bare block (aws_s3_bucket.b) beside an indexed reference to it
# (aws_s3_bucket.b[0]); the indexed one is what the expression uses.
_indexed_elsewhere(found, scope, t, name, "") if {
	some [s2, ref2] in found
	s2 == scope
	c := _classify(s2, ref2)
	c[2] == t
	c[3] == name
	c[4] != ""
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
