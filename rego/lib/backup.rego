# METADATA
# title: AWS Backup membership
# description: >-
#   Whether an aws_backup_selection in the plan selects a resource: by a configuration
#   reference to it in resources (also through modules, count and for_each), by an ARN or
#   wildcard ARN pattern in resources ("*", "arn:aws:rds:*:*:db:*"), and by selection_tag and
#   condition tags matched against the resource's tags_all (or tags). As AWS does, resources
#   and selection tags narrow each other, conditions must all hold, and not_resources
#   excludes. The selections are parsed and their references resolved once per evaluation;
#   each judged resource is then compared with the few selections only.
# scope: package
package soc2opa.lib.backup

import data.soc2opa.lib.plan
import data.soc2opa.lib.refs
import data.soc2opa.lib.tri

# METADATA
# description: >-
#   How the ARN of each resource type AWS Backup protects is built: service, the resource part
#   before the name, and the attribute holding the name. Resources are assumed to be in the aws
#   partition unless their ARN is known.
arn_shapes := {
	"aws_db_instance": ["rds", "db:", "identifier"],
	"aws_rds_cluster": ["rds", "cluster:", "cluster_identifier"],
	"aws_neptune_cluster": ["rds", "cluster:", "cluster_identifier"],
	"aws_docdb_cluster": ["rds", "cluster:", "cluster_identifier"],
	"aws_dynamodb_table": ["dynamodb", "table/", "name"],
	"aws_ebs_volume": ["ec2", "volume/", "id"],
	"aws_instance": ["ec2", "instance/", "id"],
	"aws_efs_file_system": ["elasticfilesystem", "file-system/", "id"],
	"aws_fsx_lustre_file_system": ["fsx", "file-system/", "id"],
	"aws_fsx_windows_file_system": ["fsx", "file-system/", "id"],
	"aws_fsx_ontap_file_system": ["fsx", "file-system/", "id"],
	"aws_fsx_openzfs_file_system": ["fsx", "file-system/", "id"],
	"aws_redshift_cluster": ["redshift", "cluster:", "cluster_identifier"],
	"aws_s3_bucket": ["s3", "", "bucket"],
}

_types := {t | some t, _ in arn_shapes}

_selections := plan.of_types(["aws_backup_selection"])

# A list attribute of a selection: its known strings, or unknown when apply decides it. An
# Optional+Computed list left out of the configuration (not_resources) counts as empty.
_list(s, attr) := {"unknown": false, "items": [x | some x in plan.list_at(s, [attr]); is_string(x)]} if {
	not plan.unknown_at(s, [attr])
} else := {"unknown": false, "items": [x | some x in e.constant_value; is_string(x)]} if {
	e := refs.expressions(s)[attr]
	is_array(e.constant_value)
} else := {"unknown": false, "items": []} if {
	not refs.expressions(s)[attr]
	plan.unknown_at(s, [attr])
} else := {"unknown": true, "items": []}

_conditions(s) := [[op, trim_prefix(c.key, "aws:ResourceTag/"), c.value, i] |
	some i, block in plan.list_at(s, ["condition"])
	some op in ["string_equals", "string_not_equals", "string_like", "string_not_like"]
	some c in object.get(block, op, [])
]

_parsed := [{
	"address": s.address,
	"resources": _list(s, "resources"),
	"not_resources": _list(s, "not_resources"),
	"declares_resources": _declares(s, "resources"),
	"tags": [[t.key, t.value] | some t in plan.list_at(s, ["selection_tag"]); upper(t.type) == "STRINGEQUALS"],
	"tags_unknown": _unknown(s, ["selection_tag"]),
	"conditions": _conditions(s),
	"index": i,
} |
	some i, s in _selections
]

_unknown(s, path) if plan.unknown_at(s, path)

default _unknown(_, _) := false

_declares(s, attr) if count(plan.list_at(s, [attr])) > 0

_declares(s, attr) if plan.unknown_at(s, [attr])

default _declares(_, _) := false

# Resources each selection points at through configuration references, by address.
_selected_by_ref := plan.group({[t.address, i] |
	some i, s in _selections
	some t in refs.referenced(s, ["resources"], _types)
})

_excluded_by_ref := plan.group({[t.address, i] |
	some i, s in _selections
	some t in refs.referenced(s, ["not_resources"], _types)
})

# --- ARN patterns --------------------------------------------------------------

# A Backup ARN pattern as a regular expression: "*" is any run of characters.
_regex(p) := sprintf("(?s)^%s$", [concat(".*", [_quote(part) | some part in split(p, "*")])])

_quote(s) := regex.replace(s, `([\\.+?^$(){}\[\]|])`, `\$1`)

_known_string(r, attr) := v if {
	v := r.change.after[attr]
	is_string(v)
	v != ""
	not plan.unknown_at(r, [attr])
}

# The resource's ARN, from its key, with "\u0001" for each part known only after apply
# (region and account are never in the plan). A pattern that matches it matches whatever
# those parts become, because only a wildcard can match that character.
_synthetic(key) := sprintf("arn:aws:%s:%s:%s:%s%s", [shape[0], region, region, shape[1], key[2]]) if {
	shape := arn_shapes[key[0]]
	region := _region_part(shape)
}

_region_part(shape) := "" if shape[0] == "s3"

else := "\u0001"

_name_part(r, shape) := v if {
	v := _known_string(r, shape[2])
} else := "\u0001"

# METADATA
# description: >-
#   Whether the ARN pattern p covers resource r: "pass", "fail", or "unknown" when the
#   pattern names a region, account or name that is known only after apply.
pattern_covers(p, r) := _covers(p, _arn_key(r))

# What a pattern's outcome depends on: the type, the known ARN and the name part. Most
# resources of a type share one key (ARN and name known only after apply), and OPA keeps each
# _covers answer per (pattern, key), so a pattern is matched once per key, not per resource.
_arn_key(r) := [r.type, _arn_or_null(r), _name_or_null(r)]

_arn_or_null(r) := v if {
	v := _known_string(r, "arn")
} else := null

_name_or_null(r) := v if {
	v := _name_part(r, arn_shapes[r.type])
} else := null

_covers(p, key) := "pass" if {
	p == "*"
} else := _outcome(regex.match(_regex(p), key[1])) if {
	key[1] != null
} else := "pass" if {
	regex.match(_regex(p), _synthetic(key))
} else := "unknown" if {
	_same_kind(p, key)
} else := "fail"

_outcome(true) := "pass"

_outcome(false) := "fail"

# Same service and resource type, so only parts unknown until apply can decide.
_same_kind(p, key) if {
	shape := arn_shapes[key[0]]
	parts := split(p, ":")
	count(parts) >= 6
	regex.match(_regex(parts[2]), shape[0])
	rest := concat(":", array.slice(parts, 5, count(parts)))
	_rest_may_match(rest, shape, key[2])
}

_rest_may_match(rest, shape, "\u0001") if {
	lit := split(rest, "*")[0]
	_compatible(lit, shape[1])
}

_rest_may_match(rest, shape, name) if {
	name != "\u0001"
	regex.match(_regex(rest), concat("", [shape[1], name]))
}

_compatible(lit, prefix) if startswith(lit, prefix)

_compatible(lit, prefix) if startswith(prefix, lit)

# --- tags -----------------------------------------------------------------------

# A tag of the resource: ["set", value], ["absent"] or ["unknown"]. tags_all holds the
# provider's default tags too; where it is unknown, a tag set on the resource still decides.
_tag(r, key) := ["unknown"] if {
	not plan.unknown_at(r, ["tags_all"])
	plan.unknown_at(r, ["tags_all", key])
} else := ["set", v] if {
	not plan.unknown_at(r, ["tags_all"])
	v := r.change.after.tags_all[key]
	is_string(v)
} else := ["absent"] if {
	not plan.unknown_at(r, ["tags_all"])
	is_object(r.change.after.tags_all)
} else := ["unknown"] if {
	plan.unknown_at(r, ["tags", key])
} else := ["set", v] if {
	v := r.change.after.tags[key]
	is_string(v)
} else := ["unknown"] if {
	plan.unknown_at(r, ["tags_all"])
} else := ["absent"]

_like(pattern, v) := regex.match(sprintf("(?s)^%s$", [concat(".*", [concat(".", [_quote(q) | some q in split(part, "?")]) | some part in split(pattern, "*")])]), v)

_tag_test("string_equals", ["set", v], want) := _outcome(v == want)

_tag_test("string_like", ["set", v], want) := _outcome(_like(want, v))

_tag_test("string_not_equals", ["set", v], want) := _outcome(v != want)

_tag_test("string_not_like", ["set", v], want) := _outcome(_like(want, v) == false)

_tag_test(op, ["absent"], _) := "fail" if op in {"string_equals", "string_like"}

_tag_test(op, ["absent"], _) := "pass" if op in {"string_not_equals", "string_not_like"}

_tag_test(_, ["unknown"], _) := "unknown"

# --- one selection against one resource --------------------------------------------

_by_resources(sel, r) := ["pass", "resources refer to it"] if {
	sel.index in object.get(_selected_by_ref, r.address, [])
} else := ["pass", "its resources are empty, so every resource is a candidate"] if {
	not sel.declares_resources
} else := ["pass", sprintf("resources pattern %s covers it", [json.marshal(ps[0])])] if {
	# The first pattern names the outcome here and below: one value per pattern, tag or
	# condition would make OPA fail on conflicting values when several decide alike.
	ps := [p | some p in sel.resources.items; pattern_covers(p, r) == "pass"]
	count(ps) > 0
} else := ["unknown", "its resources are known only after apply"] if {
	sel.resources.unknown
} else := ["unknown", sprintf("resources pattern %s may cover it, depending on values known only after apply", [json.marshal(ps[0])])] if {
	ps := [p | some p in sel.resources.items; pattern_covers(p, r) == "unknown"]
	count(ps) > 0
} else := ["fail", "its resources do not cover it"]

_by_tags(sel, r) := ["pass", "no selection_tag"] if {
	count(sel.tags) == 0
	not sel.tags_unknown
} else := ["pass", sprintf("tag %s is %s", [json.marshal(kvs[0][0]), json.marshal(kvs[0][1])])] if {
	kvs := [[k, v] | some [k, v] in sel.tags; _tag_test("string_equals", _tag(r, k), v) == "pass"]
	count(kvs) > 0
} else := ["unknown", "its selection_tag or the resource's tags are known only after apply"] if {
	_tags_unknown(sel, r)
} else := ["fail", sprintf("it has none of the selection tags %s", [concat(", ", [sprintf("%s=%s", [k, v]) | some [k, v] in sel.tags])])]

_tags_unknown(sel, _) if sel.tags_unknown

_tags_unknown(sel, r) if {
	some [k, v] in sel.tags
	_tag_test("string_equals", _tag(r, k), v) == "unknown"
}

_by_conditions(sel, r) := ["fail", sprintf("condition %s %s %s does not hold", [cs[0][0], cs[0][1], json.marshal(cs[0][2])])] if {
	cs := [[op, k, v] | some [op, k, v, _] in sel.conditions; _tag_test(op, _tag(r, k), v) == "fail"]
	count(cs) > 0
} else := ["unknown", sprintf("condition %s on tag %s depends on values known only after apply", [cs[0][0], cs[0][1]])] if {
	cs := [[op, k] | some [op, k, v, _] in sel.conditions; _tag_test(op, _tag(r, k), v) == "unknown"]
	count(cs) > 0
} else := ["pass", "its conditions hold"]

_not_excluded(sel, r) := ["fail", "not_resources refers to it"] if {
	sel.index in object.get(_excluded_by_ref, r.address, [])
} else := ["fail", sprintf("not_resources pattern %s excludes it", [json.marshal(ps[0])])] if {
	ps := [p | some p in sel.not_resources.items; pattern_covers(p, r) == "pass"]
	count(ps) > 0
} else := ["unknown", "its not_resources are known only after apply"] if {
	sel.not_resources.unknown
} else := ["unknown", sprintf("not_resources pattern %s may exclude it", [json.marshal(ps[0])])] if {
	ps := [p | some p in sel.not_resources.items; pattern_covers(p, r) == "unknown"]
	count(ps) > 0
} else := ["pass", "not excluded"]

# [status, reason] of one selection for one resource; the reason names the deciding part.
_judge(sel, r) := [status, reason] if {
	parts := [_by_resources(sel, r), _by_tags(sel, r), _by_conditions(sel, r), _not_excluded(sel, r)]
	status := tri.all_of([p[0] | some p in parts])
	reason := _reason(status, parts)
}

_reason("pass", parts) := concat(", ", [parts[0][1], parts[1][1]])

_reason(status, parts) := concat("; ", [p[1] | some p in parts; p[0] == status]) if status != "pass"

# [address, [status, reason]] of the selections that may select r (every other one fails),
# in the plan's order. Judging only these keeps a resource's cost independent of how many
# selections elsewhere in the plan cannot select it.
_verdicts(r) := [[_parsed[i].address, _judge(_parsed[i], r)] | some i in _relevant(r)]

# Only a candidate can select r (the others can at most leave it unknown), so the reasons for a
# pass judge the candidates alone, in the same order.
_candidate_verdicts(r) := [[_parsed[i].address, _judge(_parsed[i], r)] | some i in sort({sel.index | some sel in _candidates(r)})]

_relevant(r) := sort({sel.index | some sel in _candidates(r)} | _may_be_unknown(r))

# Selections other than the candidates that can still give "unknown": resources known only
# after apply, selection tags known only after apply, or a selection tag whose value on r is
# known only after apply. Any other selection's resources or tags exclude r.
_may_be_unknown(r) := (_resources_unknown | _tags_unknown_sels) | {i |
	some k, idxs in _tag_key_index
	_tag(r, k) == ["unknown"]
	some i in idxs
}

_resources_unknown := {sel.index | some sel in _parsed; sel.resources.unknown}

_tags_unknown_sels := {sel.index | some sel in _tag_only; sel.tags_unknown}

_tag_key_index := plan.group([[k, sel.index] |
	some sel in _tag_only
	some [k, _] in sel.tags
])

# METADATA
# description: >-
#   "pass" when some aws_backup_selection of the plan selects the resource, "unknown" when
#   one may (values known only after apply), else "fail".
status(r) := "pass" if {
	_passes(r)
} else := tri.any_of([v[1][0] | some v in _verdicts(r)])

# Whether some candidate selection passes. A boolean rule with several bodies lets OPA stop at
# the first selection that passes (a function whose bodies give different values, like status,
# is evaluated over every binding); each source of candidates is searched on its own rather than
# concatenated per resource. The first body answers for most resources at once: whether a
# selection that only lists ARN patterns covers resources with this ARN key.
_passes(r) if _pattern_pass(r)

_passes(r) if {
	some i in object.get(_selected_by_ref, r.address, [])
	_judge(_parsed[i], r)[0] == "pass"
}

_passes(r) if {
	some sel in _tag_universal
	_judge(sel, r)[0] == "pass"
}

_passes(r) if {
	some sel in _tag_matches(r)
	_judge(sel, r)[0] == "pass"
}

_passes(r) if {
	some sel in _by_pattern(r)
	_judge(sel, r)[0] == "pass"
}

# Selections that select by ARN patterns alone (no tags, conditions or exclusions): whether
# one passes a resource depends only on the resource's ARN key, so it is decided once per key
# (true or false, both kept by OPA) instead of once per resource, which would grow with the
# number of such selections in the plan.
_pattern_only := [sel |
	some sel in _with_patterns
	count(sel.tags) == 0
	not sel.tags_unknown
	count(sel.conditions) == 0
	count(sel.not_resources.items) == 0
	not sel.not_resources.unknown
	not sel.index in _excluding
]

_excluding := {i | some _, idxs in _excluded_by_ref; some i in idxs}

# A pattern that covers a resource whose name is still unknown ("\u0001") has a wildcard there
# and covers every name of the type, so resources of one type with a known name are first
# tried on the one key of their type: per name, the number of keys would grow with the plan.
_pattern_pass(r) if {
	_arn_or_null(r) == null
	_pattern_only_pass([r.type, null, "\u0001"])
} else := _pattern_only_pass(_arn_key(r))

_pattern_only_pass(key) if {
	some sel in _pattern_only
	some p in sel.resources.items
	_covers(p, key) == "pass"
} else := false

# The selections that can select r at all: those whose resources refer to it, those that
# select by a tag r has, and those whose ARN patterns can match r's type. Selections that refer
# to other resources or select by other tags cannot, so a passing resource is not compared
# with every selection of the plan.
_candidates(r) := array.concat(
	array.concat([_parsed[i] | some i in object.get(_selected_by_ref, r.address, [])], _by_tag(r)),
	_by_pattern(r),
)

# Selections with empty resources: by tags, or (without tags) of every resource.
_tag_only := [sel |
	some sel in _parsed
	not sel.declares_resources
]

_tag_index := plan.group([[t, sel.index] |
	some sel in _tag_only
	some t in sel.tags
])

_tag_universal := [sel |
	some sel in _tag_only
	count(sel.tags) == 0
	not sel.tags_unknown
]

_by_tag(r) := array.concat(_tag_universal, _tag_matches(r))

_tag_matches(r) := [_parsed[i] |
	some i in {i |
		some attr in ["tags_all", "tags"]
		some k, v in object.get(plan.after(r), attr, {})
		some i in object.get(_tag_index, [[k, v]], [])
	}
]

_with_patterns := [sel |
	some sel in _parsed
	sel.declares_resources
	count(sel.resources.items) > 0
]

# A resource whose ARN is known is matched on it; else on its type's ARN shape, which a
# pattern whose first three fields are literal can only match if it names the same service.
_by_pattern(r) := _with_patterns if {
	_known_string(r, "arn")
} else := _patterns_for_type(r.type)

_patterns_for_type(t) := [sel |
	some sel in _with_patterns
	some p in sel.resources.items
	_may_cover(p, object.get(arn_shapes, [t, 0], ""))
]

_may_cover(p, service) if {
	parts := split(p, ":")
	_open_head(parts, service)
}

_open_head(parts, _) if count(parts) < 3

_open_head(parts, _) if {
	some part in array.slice(parts, 0, 3)
	contains(part, "*")
}

_open_head(parts, service) if parts[2] == service

# METADATA
# description: The reasons why the resource's backup membership has outcome want.
why(r, want) := [] if {
	status(r) != want
} else := ["no aws_backup_selection in this plan selects it (by a reference to it, an ARN pattern or its tags)"] if {
	count(_parsed) == 0
} else := [sprintf("%s selects it: %s", [a, v[1]]) | some [a, v] in _candidate_verdicts(r); v[0] == "pass"] if {
	want == "pass"
} else := [sprintf("%s may select it: %s", [a, v[1]]) | some [a, v] in _verdicts(r); v[0] == "unknown"] if {
	want == "unknown"
} else := _fail_reasons(r)

# Every selection's reason when the plan has few; with more, the first ones and a count, so a
# failing resource's reason does not grow with the plan.
_fail_reasons(r) := [sprintf("%s does not select it: %s", [sel.address, _judge(sel, r)[1]]) | some sel in _parsed] if {
	count(_parsed) <= max_listed
} else := array.concat(
	[sprintf("%s does not select it: %s", [sel.address, _judge(sel, r)[1]]) | some sel in array.slice(_parsed, 0, max_listed)],
	[sprintf("and %d more aws_backup_selection resources in this plan do not select it", [count(_parsed) - max_listed])],
)

# METADATA
# description: How many selections a failing resource's reason names one by one.
max_listed := 10
