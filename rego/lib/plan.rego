# METADATA
# title: Terraform plan navigation
# description: >-
#   Normalises `terraform show -json` plan output (format 0.1 to 1.x) into one list of
#   judged resources, indexed by type once per evaluation, with helpers for values that
#   are unknown until apply, values marked sensitive, and the plan's configuration
#   references used to join resources.
# scope: package
package soc2opa.lib.plan

# Resources are resource_changes entries as they are (no copy per resource), or, for plans
# without resource_changes, planned_values resources put into the same shape.
resources := _from_changes if {
	count(_changes) > 0
} else := _from_planned_values

# METADATA
# description: Which part of the plan the resources were read from.
source := "resource_changes" if {
	count(_changes) > 0
} else := "planned_values"

_changes := input.resource_changes if is_array(input.resource_changes)

else := []

# Deleted and forgotten resources are gone after apply; a replacement ("delete", "create" in
# either order) is still judged. Plain comparisons keep this pass over every resource cheap.
_from_changes := [rc |
	some rc in _changes
	rc.mode == "managed"
	rc.change.actions != ["delete"]
	rc.change.actions != ["forget"]
]

# planned_values nests child modules; Rego has no recursion, so the usual depth is unrolled and
# deeper plans are read with walk, which visits every value and so costs more.
_pv_root := [input.planned_values.root_module] if is_object(input.planned_values.root_module)

else := []

_pv_l1 := [c | some m in _pv_root; some c in object.get(m, "child_modules", [])]

_pv_l2 := [c | some m in _pv_l1; some c in object.get(m, "child_modules", [])]

_pv_l3 := [c | some m in _pv_l2; some c in object.get(m, "child_modules", [])]

_pv_l4 := [c | some m in _pv_l3; some c in object.get(m, "child_modules", [])]

_pv_l5 := [c | some m in _pv_l4; some c in object.get(m, "child_modules", [])]

_pv_l6 := [c | some m in _pv_l5; some c in object.get(m, "child_modules", [])]

_pv_l7 := [c | some m in _pv_l6; some c in object.get(m, "child_modules", [])]

_pv_shallow := array.concat(
	array.concat(array.concat(_pv_root, _pv_l1), array.concat(_pv_l2, _pv_l3)),
	array.concat(array.concat(_pv_l4, _pv_l5), array.concat(_pv_l6, _pv_l7)),
)

_pv_modules := [m | some m in _pv_shallow; is_object(m)] if {
	count([c | some m in _pv_l7; some c in object.get(m, "child_modules", [])]) == 0
} else := [m |
	walk(input.planned_values.root_module, [path, m])
	is_object(m)
	_module_path(path)
]

_module_path(path) if {
	every k, step in path {
		_module_step(k, step)
	}
}

_module_step(k, _) if k % 2 == 1

_module_step(k, "child_modules") if k % 2 == 0

# METADATA
# description: Every resource in planned_values, in modules at any depth.
planned_values_resources := [r |
	some m in _pv_modules
	some r in object.get(m, "resources", [])
]

_from_planned_values := [_as_change(m, r) |
	some m in _pv_modules
	some r in object.get(m, "resources", [])
	r.mode == "managed"
]

_as_change(m, r) := {
	"address": r.address,
	"module_address": object.get(m, "address", ""),
	"mode": r.mode,
	"type": r.type,
	"name": r.name,
	"index": object.get(r, "index", null),
	"change": {
		"actions": ["create"],
		"after": object.get(r, "values", {}),
		"after_unknown": {},
		"after_sensitive": object.get(r, "sensitive_values", {}),
	},
	"soc2opa_planned_values_only": true,
}

# METADATA
# description: The module instance address of a resource, "" in the root module.
module_of(r) := object.get(r, "module_address", "")

# METADATA
# description: >-
#   Groups [key, value] pairs into {key: [values]}. Sorting first keeps it linear after the
#   sort; a multi-value rule or a comprehension per key is quadratic on large plans.
group(pairs) := {sorted[s][0]: [p[1] | some p in array.slice(sorted, s, _group_end(starts, j, count(sorted)))] |
	some j, s in starts
} if {
	sorted := sort(pairs)
	starts := [k | some k, p in sorted; _group_start(sorted, k, p)]
}

_group_start(sorted, k, p) if {
	k == 0
	count(sorted) > 0
	p
}

_group_start(sorted, k, p) if {
	k > 0
	sorted[k - 1][0] != p[0]
}

_group_end(starts, j, n) := starts[j + 1] if j + 1 < count(starts)

else := n

_types := {r.type | some r in resources}

# METADATA
# description: >-
#   Indices into resources by resource type, built once per evaluation. Written so that OPA's
#   comprehension indexing applies (the inner comprehension is assigned in a rule body).
by_type[t] := ids if {
	some t in _types
	ids := [i | some i, r in resources; r.type == t]
}

# METADATA
# description: Index into resources by address.
by_address := {r.address: i | some i, r in resources}

# METADATA
# description: The judged resources of the given types.
of_types(types) := [resources[i] | some t in types; some i in object.get(by_type, t, [])]

# --- values ---------------------------------------------------------------

# METADATA
# description: The planned values of a resource; {} when a plan leaves them null.
after(r) := r.change.after if is_object(r.change.after)

else := {}

# METADATA
# description: >-
#   True when the resource has planned values and neither the value at path nor its top-level
#   attribute is marked unknown: a quick test under which unknown_at and no_after are both false.
known_at(r, path) if {
	is_object(r.change.after)
	not r.soc2opa_planned_values_only
	not _marked_unknown(r.change.after_unknown, path)
}

# With a default, a false answer is a result OPA keeps per arguments; an undefined one would be
# worked out again at every call (so for the often-asked predicates here and in check and refs).
default known_at(_, _) := false

_marked_unknown(marks, path) if marks[path[0]] == true

# A nested block's top-level mark is a list or object even when nothing in it is unknown.
_marked_unknown(marks, path) if {
	not is_boolean(marks[path[0]])
	_unknown_below(marks, path)
}

# METADATA
# description: True when the value at path, or any value that contains it, is unknown until apply.
unknown_at(r, path) if r.change.after_unknown[path[0]] == true

default unknown_at(_, _) := false

# Most attributes have no nested unknown marks, so the walk down the path is rarely needed.
unknown_at(r, path) if {
	not is_boolean(r.change.after_unknown[path[0]])
	_unknown_below(r.change.after_unknown, path)
}

_unknown_below(marks, path) if {
	some n in numbers.range(2, count(path))
	object.get(marks, array.slice(path, 0, n), false) == true
}

# Without resource_changes there is no after_unknown: Terraform omits unknown keys instead.
unknown_at(r, path) if {
	r.soc2opa_planned_values_only
	some n in numbers.range(1, count(path))
	parent := object.get(r.change.after, array.slice(path, 0, n - 1), null)
	is_object(parent)
	not path[n - 1] in object.keys(parent)
}

# METADATA
# description: >-
#   True when any of the plan's markings (after_sensitive, before_sensitive, or the
#   planned_values resource's sensitive_values) marks the value at path, a value containing it,
#   or the whole resource (a marking of true) sensitive.
sensitive_at(r, path) if {
	some marks in _markings(r)
	_marks(marks, path)
}

default sensitive_at(_, _) := false

_markings(r) := array.concat(
	[object.get(r.change, "after_sensitive", false), object.get(r.change, "before_sensitive", false)],
	object.get(_pv_sensitive, r.address, []),
)

# Grouped rather than keyed by address, so a plan that repeats an address cannot make OPA fail.
_pv_sensitive := group([[r.address, r.sensitive_values] |
	some r in planned_values_resources
	is_string(r.address)
	r.sensitive_values != {}
	r.sensitive_values != false
])

_marks(true, _)

default _marks(_, _) := false

_marks(marks, path) if marks[path[0]] == true

_marks(marks, path) if {
	not is_boolean(marks[path[0]])
	some n in numbers.range(2, count(path))
	object.get(marks, array.slice(path, 0, n), false) == true
}

# METADATA
# description: >-
#   True for a create or update whose planned values (change.after) are null: a malformed plan.
#   Nothing about such a resource is judged on provider defaults; its results are unknown.
no_after(r) if {
	object.get(r.change, "after", null) == null
	some action in r.change.actions
	action in {"create", "update"}
}

default no_after(_) := false

# METADATA
# description: The reason given for every result of a resource without planned values.
no_after_reason := "the plan gives no planned values for this create or update (change.after is null), so it cannot be judged"

# METADATA
# description: Report warnings naming resources whose results are unknown because the plan is malformed.
warnings := array.concat(array.slice(_no_after_warnings, 0, 20), _more) if {
	_more := [sprintf("... and %d more resources without planned values", [count(_no_after_warnings) - 20]) |
		count(_no_after_warnings) > 20
	]
}

_no_after_warnings := [sprintf("%s: change.after is null on a create or update; its results are unknown", [r.address]) |
	some r in without_after
]

# METADATA
# description: The resources for which no_after holds, in plan order.
without_after := [r | some r in resources; no_after(r)]

# METADATA
# description: The value at path, or default when it is absent or null.
value_or(r, path, default_value) := v if {
	v := object.get(after(r), path, null)
	v != null
} else := default_value

# METADATA
# description: The list at path, or an empty list when absent (omitted blocks are empty lists).
list_at(r, path) := v if {
	v := object.get(after(r), path, [])
	is_array(v)
} else := []

# METADATA
# description: A short rendering of the value at path that never reveals a sensitive value.
show(r, path, default_value) := _render(object.get(r.change.after, path, null), default_value) if {
	_unmarked(r, path[0])
} else := "(sensitive)" if {
	sensitive_at(r, path)
} else := _render(object.get(after(r), path, null), default_value)

# The common case in one step: planned values, and no marking of the top-level attribute or
# of the whole resource (sensitive_at would then be false).
_unmarked(r, k) if {
	is_object(r.change.after)
	_no_mark(object.get(r.change, "after_sensitive", false), k)
	_no_mark(object.get(r.change, "before_sensitive", false), k)
	not _pv_sensitive[r.address]
}

_no_mark(false, _) := true

_no_mark(marks, k) if {
	is_object(marks)
	not marks[k]
}

_render(null, null) := "unset"

_render(null, d) := sprintf("unset, so %s by default", [json.marshal(d)]) if d != null

_render(v, _) := s if {
	v != null
	not is_object(v)
	not is_array(v)
	s := json.marshal(v)
	count(s) <= 80
} else := "empty" if {
	v in {[], {}}
} else := sprintf("a list of %d", [count(v)]) if {
	is_array(v)
} else := sprintf("a %s", [type_name(v)]) if v != null

# METADATA
# description: Why a value check did not pass, without revealing sensitive values.
describe(r, path, label, expectation, default_value) := sprintf("%s is known only after apply", [label]) if {
	unknown_at(r, path)
} else := sprintf("%s is %s; expected %s", [label, show(r, path, default_value), expectation])

# METADATA
# description: Reasons joined for a message, each once, in the order first given.
reasons(ms) := concat("; ", [m | some i, m in ms; not m in array.slice(ms, 0, i)])

# METADATA
# description: True for boolean true and for the string "true" some providers use for booleans.
truthy(v) if v == true

truthy(v) if {
	is_string(v)
	lower(v) == "true"
}

# METADATA
# description: True for a value that is set (not null, nor an empty string, list or object).
present(v) if {
	v != null
	v != ""
	v != []
	v != {}
}

# METADATA
# description: The number v, also when a provider writes it as a string.
number_of(v) := v if is_number(v)

else := to_number(v) if {
	is_string(v)
	regex.match(`^-?[0-9]+(\.[0-9]+)?$`, v)
}

# METADATA
# description: True when v is a string that matches the regular expression.
matches(pattern, v) if {
	is_string(v)
	regex.match(pattern, v)
}
