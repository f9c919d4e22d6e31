# METADATA
# title: soc2opa entry point
# description: >-
#   One evaluation per plan: the problems that make the input unusable, facts about the plan,
#   and the decision of every control in the bundle.
# scope: package
package soc2opa.main

import data.soc2opa.build
import data.soc2opa.lib.plan

# METADATA
# description: Everything soc2opa reports about one plan.
report := {
	"bundle_revision": build.revision,
	"opa_version": opa.runtime().version,
	"min_opa_version": build.min_opa_version,
	"plan": facts,
	"problems": problems,
	"controls": controls,
}

# METADATA
# description: Each control's metadata, pass list, and fail and unknown reasons by address.
controls := {id: _settled(d) | some id; d := data.soc2opa.controls[id].decision} if {
	count(problems) == 0
} else := {}

# A create or update without planned values (change.after null) cannot be judged by any node:
# value checks say so themselves; a relation or a rego-file control might not, so every
# control's verdict on such a resource is made unknown here, with the same reason.
_no_after := {r.address | some r in plan.without_after}

_settled(d) := d if {
	count(_no_after) == 0
} else := object.union(object.remove(d, ["pass", "fail", "unknown"]), {
	"pass": [a | some a in d.pass; not a in _no_after],
	"fail": {a: why | some a, why in d.fail; not a in _no_after},
	"unknown": object.union(d.unknown, {a: plan.no_after_reason | some a in _no_after; _judged_by(d, a)}),
})

_judged_by(d, a) if a in d.pass

_judged_by(d, a) if d.fail[a]

_judged_by(d, a) if d.unknown[a]

# METADATA
# description: The catalog as the bundle carries it, for listing controls without a plan.
catalog := {id: m | some id; m := data.soc2opa.controls[id].meta}

# METADATA
# description: Facts about the plan that reports carry.
facts := {
	"format_version": object.get(input, "format_version", null),
	"terraform_version": object.get(input, "terraform_version", null),
	"resources_judged": count(plan.resources),
	"resource_types": {t: count(ix) | some t, ix in plan.by_type},
	"warnings": plan.warnings,
	"source": plan.source,
}

_state_file if {
	input.lineage
	input.serial
}

_state_file if {
	input.values
	not input.planned_values
	not input.resource_changes
}

# METADATA
# description: Reasons this input is not a plan soc2opa can judge; empty for a usable plan.
problems contains "the JSON value is not an object; expected the output of terraform show -json" if {
	not is_object(input)
}

problems contains "this is a Terraform state file, not a plan; run terraform show -json on a saved plan (terraform plan -out tfplan)" if {
	_state_file
}

problems contains "format_version is missing; expected the output of terraform show -json" if {
	is_object(input)
	not _state_file
	not input.format_version
}

problems contains sprintf("unsupported plan format_version %s; this soc2opa reads 0.x and 1.x", [_short(v)]) if {
	v := input.format_version
	is_string(v)
	not regex.match(`^[01](\.[0-9]+)*$`, v)
}

problems contains sprintf("format_version is a %s; expected a string such as \"1.2\"", [type_name(v)]) if {
	v := input.format_version
	not is_string(v)
}

# Plan strings quoted in a problem are cut short: an error line never carries much of the file.
_short(s) := sprintf("%s...", [substring(s, 0, 40)]) if count(s) > 40

else := s

problems contains "resource_changes is not a list" if {
	is_object(input)
	input.resource_changes
	not is_array(input.resource_changes)
}

problems contains sprintf("resource_changes[%d] is not a resource change (needs address, mode, type and change.actions)", [bad[0]]) if {
	count(_well_formed) != count(input.resource_changes)
	bad := [i | some i, rc in input.resource_changes; not _is_change(rc)]
}

# Each entry is checked once; only a plan with a bad one is searched for its position.
_well_formed := [rc | some rc in input.resource_changes; _is_change(rc)] if is_array(input.resource_changes)

_is_change(rc) if {
	is_string(rc.address)
	is_string(rc.mode)
	is_string(rc.type)
	is_array(rc.change.actions)
}

# Two entries for one address would make OPA fail on a conflict; deposed objects share the
# address of the current object and are told apart by their deposed key.
problems contains sprintf("two resource changes have the address %s", [_short(a)]) if {
	is_array(input.resource_changes)
	current := [rc.address | some rc in _well_formed; not rc.deposed]
	count({a | some a in current}) != count(current)
	sorted := sort(current)
	a := min({sorted[i] | some i in numbers.range(1, count(sorted) - 1); sorted[i] == sorted[i - 1]})
}

problems contains sprintf("planned_values has a resource without mode, type or address: %s", [_short(json.marshal(object.get(r, "address", null)))]) if {
	plan.source == "planned_values"
	some r in plan.planned_values_resources
	not _is_planned_resource(r)
}

_is_planned_resource(r) if {
	is_string(r.address)
	is_string(r.mode)
	is_string(r.type)
}

problems contains "the plan has neither resource_changes nor planned_values" if {
	is_object(input)
	not _state_file
	input.format_version
	not input.resource_changes
	not input.planned_values
}
