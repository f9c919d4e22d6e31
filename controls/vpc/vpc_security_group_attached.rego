# METADATA
# title: Security groups are in use (hand-written check)
# description: >-
#   The escape hatch of vpc_security_group_attached: one pass over the plan collects the
#   security groups that some other resource (not a group or a group rule) points at, through
#   configuration references in any attribute or by a known sg- id, and those a module or root
#   output exports.
# scope: package
package soc2opa.controls.vpc_security_group_attached

import data.soc2opa.lib.plan
import data.soc2opa.lib.refs

# METADATA
# description: >-
#   This control reads every resource of the plan, not only its own type's: soc2opa weighs it by
#   the plan's size when it shares controls out between opa processes.
reads_every_resource := true

_not_users := {
	"aws_security_group", "aws_default_security_group", "aws_security_group_rule",
	"aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule",
}

_may_name_group(ref) if startswith(ref, "aws_security_group.")

_may_name_group(ref) if startswith(ref, "module.")

_may_name_group(ref) if startswith(ref, "var.")

_may_name_group(ref) if startswith(ref, "each.")

_ref_paths(x) := {array.slice(path, 0, count(path) - 1) |
	walk(refs.expressions(x), [path, v])
	count(path) > 0
	path[count(path) - 1] == "references"
	is_array(v)
	some ref in v
	is_string(ref)
	_may_name_group(ref)
}

_users := [x | some x in plan.resources; not x.type in _not_users]

# A cheap test on the JSON text first: a reference that may name a group, or an sg- id, must
# appear in it as a string; only those resources' values are walked.
_may_refer(x) if regex.match(`"(aws_security_group|module|var|each)\.`, json.marshal(refs.expressions(x)))

_used := {t.address |
	some x in _users
	_may_refer(x)
	some p in _ref_paths(x)
	some t in refs.referenced(x, p, {"aws_security_group"})
}

_used_ids := {v |
	some x in _users
	contains(json.marshal(plan.after(x)), `"sg-`)
	walk(plan.after(x), [_, v])
	is_string(v)
	startswith(v, "sg-")
}

# Only a known sg- id can be named, so the plan's values are searched only for a group that has one.
_named_by_id(r) if {
	id := plan.value_or(r, ["id"], "")
	is_string(id)
	startswith(id, "sg-")
	id in _used_ids
}

_root := input.configuration.root_module if is_object(input.configuration.root_module)

else := {}

# [module path without instance keys, resource name] of groups an output exports. An output
# naming aws_security_group.x sits in the module that declares x, so only the outputs of
# modules holding a group are read, not the whole configuration.
_exported := {[k, split(ref, ".")[1]] |
	some k in {refs.strip_keys(plan.module_of(r)) | some r in plan.of_types({"aws_security_group"})}
	some o in object.get(_root, array.concat(_cfg_path(k), ["outputs"]), {})
	some ref in object.get(o, ["expression", "references"], [])
	is_string(ref)
	startswith(ref, "aws_security_group.")
}

_cfg_path(k) := [seg |
	some m in regex.find_all_string_submatch_n(`module\.([^.\[]+)`, k, -1)
	some seg in ["module_calls", m[1], "module"]
]

_creates(r) if "create" in r.change.actions

# METADATA
# description: The outcome for one security group and the reason for it, together.
result(r) := {"status": "pass", "reason": "a resource in this plan uses the group"} if {
	r.address in _used
} else := {"status": "pass", "reason": "a resource in this plan names the group's id"} if {
	_named_by_id(r)
} else := {"status": "unknown", "reason": "the plan carries no configuration references for the group, so what uses it cannot be read"} if {
	refs.expressions(r) == {}
} else := {"status": "unknown", "reason": "an output exports the group, so it may be attached outside this configuration"} if {
	[refs.strip_keys(plan.module_of(r)), r.name] in _exported
} else := {"status": "fail", "reason": "no instance, network interface, load balancer, database or other resource in this plan uses the group; expected it attached to something, or removed"} if {
	_creates(r)
} else := {"status": "unknown", "reason": "no resource in this plan uses the group, which already exists and may be used by resources managed elsewhere"}
