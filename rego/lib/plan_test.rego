# METADATA
# title: Tests of the plan library
# description: Judged resources, the type index, unknown and sensitive values, planned_values-only plans.
# scope: package
package soc2opa.lib.plan_test

import data.soc2opa.lib.plan

_rc(address, type, actions, after, unknown) := {
	"address": address,
	"mode": "managed",
	"type": type,
	"name": "x",
	"change": {"actions": actions, "after": after, "after_unknown": unknown, "after_sensitive": {"password": true}},
}

_plan := {"format_version": "1.2", "resource_changes": [
	_rc("aws_s3_bucket.a", "aws_s3_bucket", ["create"], {"bucket": "a"}, {}),
	_rc("aws_s3_bucket.gone", "aws_s3_bucket", ["delete"], null, {}),
	_rc("aws_s3_bucket.replaced", "aws_s3_bucket", ["delete", "create"], {}, {}),
	_rc("aws_s3_bucket.forgotten", "aws_s3_bucket", ["forget"], null, {}),
	_rc("aws_db_instance.db", "aws_db_instance", ["no-op"], {"password": "hunter2", "storage_encrypted": false, "rule": [{"a": 1}], "tags": {}}, {"rule": [{"b": true}]}),
	{"address": "data.aws_caller_identity.me", "mode": "data", "type": "aws_caller_identity", "name": "me", "change": {"actions": ["read"], "after": {}}},
]}

test_judged_resources_exclude_deleted_forgotten_and_data if {
	addrs := {r.address | some r in plan.resources} with input as _plan
	addrs == {"aws_s3_bucket.a", "aws_s3_bucket.replaced", "aws_db_instance.db"}
}

test_by_type_groups_indices if {
	idx := plan.by_type with input as _plan
	count(idx.aws_s3_bucket) == 2
	count(idx.aws_db_instance) == 1
	not idx.aws_caller_identity
}

test_of_types if {
	rs := plan.of_types({"aws_db_instance"}) with input as _plan
	[r.address | some r in rs] == ["aws_db_instance.db"]
}

test_group_is_linear_grouping if {
	plan.group([["b", 1], ["a", 2], ["b", 3]]) == {"a": [2], "b": [1, 3]}
	plan.group([]) == {}
}

test_unknown_nested_and_top_level if {
	r := plan.by_address["aws_db_instance.db"] with input as _plan
	db := plan.resources[r] with input as _plan
	plan.unknown_at(db, ["rule", 0, "b"])
	not plan.unknown_at(db, ["rule", 0, "a"])
	not plan.unknown_at(db, ["storage_encrypted"])
}

# known_at is the quick test under which unknown_at and no_after are both false: a nested
# block's mark (a list) is known where nothing under it is unknown, and not where it is.
test_known_at_inside_a_marked_block if {
	r := plan.by_address["aws_db_instance.db"] with input as _plan
	db := plan.resources[r] with input as _plan
	plan.known_at(db, ["rule", 0, "a"])
	plan.known_at(db, ["storage_encrypted"])
	not plan.known_at(db, ["rule", 0, "b"])
	every path in [["rule", 0, "a"], ["rule", 0, "b"], ["rule"], ["storage_encrypted"], ["tags", "x"]] {
		_holds_known(db, path) != _holds_unknown(db, path)
	}
}

_holds_known(r, path) if plan.known_at(r, path)

else := false

_holds_unknown(r, path) if plan.unknown_at(r, path)

else := false

test_show_never_reveals_sensitive if {
	db := plan.resources[plan.by_address["aws_db_instance.db"]] with input as _plan
	plan.show(db, ["password"], null) == "(sensitive)"
	plan.describe(db, ["password"], "password", "x", null) == "password is (sensitive); expected x"
	plan.show(db, ["storage_encrypted"], null) == "false"
	plan.show(db, ["missing"], null) == "unset"
	plan.show(db, ["missing"], false) == "unset, so false by default"
	plan.show(db, ["rule"], null) == "a list of 1"
	plan.show(db, ["tags"], null) == "empty"
}

test_values_and_helpers if {
	plan.truthy(true)
	plan.truthy("True")
	not plan.truthy("false")
	plan.present("x")
	not plan.present("")
	not plan.present([])
	plan.number_of("35") == 35
	plan.number_of(7) == 7
	plan.matches(`^a`, "abc")
	not plan.matches(`^a`, 1)
}

_pv_plan := {"format_version": "0.1", "planned_values": {"root_module": {
	"resources": [{"address": "aws_ebs_volume.root", "mode": "managed", "type": "aws_ebs_volume", "name": "root", "values": {"size": 1}}],
	"child_modules": [{"address": "module.a", "child_modules": [{"address": "module.a.module.b", "resources": [{
		"address": "module.a.module.b.aws_ebs_volume.deep", "mode": "managed", "type": "aws_ebs_volume", "name": "deep",
		"values": {"encrypted": false, "secret": "s"}, "sensitive_values": {"secret": true},
	}]}]}],
}}}

test_planned_values_only_plans_read_nested_modules if {
	plan.source == "planned_values" with input as _pv_plan
	addrs := [r.address | some r in plan.resources] with input as _pv_plan
	addrs == ["aws_ebs_volume.root", "module.a.module.b.aws_ebs_volume.deep"]
	deep := plan.resources[1] with input as _pv_plan
	deep.module_address == "module.a.module.b"
	plan.show(deep, ["secret"], null) == "(sensitive)"
}

test_planned_values_absent_key_is_unknown if {
	root := plan.resources[0] with input as _pv_plan
	plan.unknown_at(root, ["encrypted"]) with input as _pv_plan
	deep := plan.resources[1] with input as _pv_plan
	not plan.unknown_at(deep, ["encrypted"]) with input as _pv_plan
}

test_reasons_keep_first_occurrence_once if {
	plan.reasons(["a", "b", "a", "c", "b"]) == "a; b; c"
	plan.reasons([]) == ""
}

test_null_after_on_create_reads_as_unset if {
	r := {"address": "aws_x.y", "change": {"actions": ["create"], "after": null, "after_unknown": {"logging": true}}}
	plan.after(r) == {}
	plan.value_or(r, ["viewer"], "TLSv1") == "TLSv1"
	plan.show(r, ["viewer"], "TLSv1") == `unset, so "TLSv1" by default`
	plan.list_at(r, ["rule"]) == []
	plan.unknown_at(r, ["logging", 0, "bucket"])
}

_secret_rc(change) := {"address": "aws_db_instance.s", "mode": "managed", "type": "aws_db_instance", "name": "s", "change": object.union(
	{"actions": ["create"], "after": {"password": "hunter2", "storage_encrypted": "hunter2"}, "after_unknown": {}},
	change,
)}

test_any_marking_hides_a_value if {
	whole := _secret_rc({"after_sensitive": true})
	plan.show(whole, ["storage_encrypted"], null) == "(sensitive)"
	before := _secret_rc({"before_sensitive": {"storage_encrypted": true}, "after_sensitive": {}})
	plan.show(before, ["storage_encrypted"], null) == "(sensitive)"
	nested := _secret_rc({"after_sensitive": {"storage_encrypted": false}, "before_sensitive": true})
	plan.show(nested, ["storage_encrypted"], null) == "(sensitive)"
	plain := _secret_rc({"after_sensitive": {"password": true}})
	plan.show(plain, ["storage_encrypted"], null) == `"hunter2"`
}

test_planned_values_sensitive_values_hide_a_resource_change_value if {
	rc := _secret_rc({"after_sensitive": {}})
	pv := {"root_module": {"resources": [{
		"address": "aws_db_instance.s", "mode": "managed", "type": "aws_db_instance",
		"values": {}, "sensitive_values": {"storage_encrypted": true},
	}]}}
	plan.show(rc, ["storage_encrypted"], null) == "(sensitive)" with input as {"resource_changes": [rc], "planned_values": pv}
	plan.show(rc, ["storage_encrypted"], null) == `"hunter2"` with input as {"resource_changes": [rc]}
}

_nest(depth) := m if {
	leaf := {"address": "module.deep", "resources": [{
		"address": "module.deep.aws_s3_bucket.b", "mode": "managed", "type": "aws_s3_bucket",
		"name": "b", "values": {"bucket": "b", "child_modules": [{"resources": [{"address": "decoy"}]}]},
	}]}
	m := json.unmarshal(concat("", array.concat(
		[`{"child_modules": [` | some _ in numbers.range(1, depth)],
		array.concat([json.marshal(leaf)], [`]}` | some _ in numbers.range(1, depth)]),
	)))
}

_deep_addresses(d) := addrs if {
	addrs := [r.address | some r in plan.resources] with input as {"format_version": "1.2", "planned_values": {"root_module": _nest(d)}}
}

test_planned_values_modules_at_any_depth if {
	_deep_addresses(3) == ["module.deep.aws_s3_bucket.b"]
	_deep_addresses(7) == ["module.deep.aws_s3_bucket.b"]
	_deep_addresses(8) == ["module.deep.aws_s3_bucket.b"]
	_deep_addresses(12) == ["module.deep.aws_s3_bucket.b"]
}

test_create_without_after_is_unknown_with_a_warning if {
	rc := {"address": "aws_s3_bucket.x", "mode": "managed", "type": "aws_s3_bucket", "name": "x", "change": {"actions": ["create"], "after": null}}
	plan.no_after(rc)
	not plan.no_after(object.union(rc, {"change": {"actions": ["delete"], "after": null}}))
	not plan.no_after(object.union(rc, {"change": {"actions": ["update"], "after": {}}}))
	ws := plan.warnings with input as {"format_version": "1.2", "resource_changes": [rc]}
	ws == ["aws_s3_bucket.x: change.after is null on a create or update; its results are unknown"]
	many := [object.union(rc, {"address": sprintf("aws_s3_bucket.x%d", [i])}) | some i in numbers.range(1, 25)]
	count(plan.warnings) == 21 with input as {"format_version": "1.2", "resource_changes": many}
}
