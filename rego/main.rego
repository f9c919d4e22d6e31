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
	"plan": facts,
	"problems": problems,
	"controls": controls,
}

# METADATA
# description: Each control's metadata, pass list, and fail and unknown reasons by address.
controls := {id: d | some id; d := data.soc2opa.controls[id].decision} if {
	count(problems) == 0
} else := {}

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

problems contains sprintf("unsupported plan format_version %v; this soc2opa reads 0.x and 1.x", [v]) if {
	v := input.format_version
	not regex.match(`^[01](\.[0-9]+)*$`, sprintf("%v", [v]))
}

problems contains "resource_changes is not a list" if {
	is_object(input)
	input.resource_changes
	not is_array(input.resource_changes)
}

problems contains sprintf("resource_changes[%d] is not a resource change (needs address, type and change.actions)", [bad[0]]) if {
	is_array(input.resource_changes)
	bad := [i | some i, rc in input.resource_changes; not _is_change(rc)]
	count(bad) > 0
}

_is_change(rc) if {
	is_string(rc.address)
	is_string(rc.type)
	is_array(rc.change.actions)
}

problems contains "the plan has neither resource_changes nor planned_values" if {
	is_object(input)
	not _state_file
	input.format_version
	not input.resource_changes
	not input.planned_values
}
