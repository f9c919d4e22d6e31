# METADATA
# title: Tests of the security-group use rules
# description: >-
#   Unit tests of vpc_security_group_attached.rego where it lives (make rego-check runs them):
#   groups that already exist and are named by their known id.
# scope: package
package soc2opa.controls.vpc_security_group_attached_rules_test

import data.soc2opa.controls.vpc_security_group_attached as rules

_rc(t, name, actions, after) := {
	"address": sprintf("%s.%s", [t, name]), "mode": "managed", "type": t, "name": name,
	"change": {"actions": actions, "after": after, "after_unknown": {}, "after_sensitive": {}},
}

_group(id) := _rc("aws_security_group", "app", ["no-op"], {"id": id, "name": "app"})

_instance(groups) := _rc("aws_instance", "app", ["update"], {"id": "i-0123", "vpc_security_group_ids": groups})

_plan(changes) := {"format_version": "1.2", "resource_changes": changes}

test_existing_group_named_by_its_id_passes if {
	r := rules.result(_group("sg-0abc")) with input as _plan([_group("sg-0abc"), _instance(["sg-0abc"])])
	r.status == "pass"
	r.reason == "a resource in this plan names the group's id"
}

test_existing_group_whose_id_nothing_names_is_unknown if {
	r := rules.result(_group("sg-0abc")) with input as _plan([_group("sg-0abc"), _instance(["sg-0def"])])
	r.status == "unknown"
}

test_only_sg_ids_are_searched_for if {
	r := rules.result(_group("app-group")) with input as _plan([_group("app-group"), _instance(["app-group"])])
	r.status == "unknown"
}
