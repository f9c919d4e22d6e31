# METADATA
# title: Tests of the join library
# description: Joins through module inputs and outputs, count and for_each instances, and known values.
# scope: package
package soc2opa.lib.refs_test

import data.soc2opa.lib.plan
import data.soc2opa.lib.refs

_rc(address, module, type, name, index, after) := object.union(
	{"address": address, "mode": "managed", "type": type, "name": name, "change": {"actions": ["create"], "after": after, "after_unknown": {}}},
	object.union({"module_address": module | module != ""}, {"index": index | index != null}),
)

# Root bucket b, joined from module "enc" through a module input; module "store" with count
# instances and a for_each module instance pair; and an existing bucket joined by value.
_plan := {
	"format_version": "1.2",
	"resource_changes": [
		_rc("aws_s3_bucket.b", "", "aws_s3_bucket", "b", null, {"bucket": "b"}),
		_rc("module.enc.aws_s3_bucket_versioning.v", "module.enc", "aws_s3_bucket_versioning", "v", null, {}),
		_rc("module.store.aws_s3_bucket.this[0]", "module.store", "aws_s3_bucket", "this", 0, {}),
		_rc("module.store.aws_s3_bucket.this[1]", "module.store", "aws_s3_bucket", "this", 1, {}),
		_rc("module.store.aws_s3_bucket_versioning.this[1]", "module.store", "aws_s3_bucket_versioning", "this", 1, {}),
		_rc("module.store.aws_s3_bucket_versioning.first", "module.store", "aws_s3_bucket_versioning", "first", null, {}),
		_rc(`module.app["x"].aws_s3_bucket.this`, `module.app["x"]`, "aws_s3_bucket", "this", null, {}),
		_rc(`module.app["y"].aws_s3_bucket.this`, `module.app["y"]`, "aws_s3_bucket", "this", null, {}),
		_rc(`module.app["y"].aws_s3_bucket_versioning.this`, `module.app["y"]`, "aws_s3_bucket_versioning", "this", null, {}),
		_rc("aws_s3_bucket_versioning.from_output", "", "aws_s3_bucket_versioning", "from_output", null, {}),
		_rc("aws_s3_bucket.legacy", "", "aws_s3_bucket", "legacy", null, {"bucket": "legacy-name", "id": "legacy-name"}),
		_rc(`aws_s3_bucket.many["a"]`, "", "aws_s3_bucket", "many", "a", {}),
		_rc(`aws_s3_bucket.many["b"]`, "", "aws_s3_bucket", "many", "b", {}),
		_rc(`aws_s3_bucket_versioning.each["b"]`, "", "aws_s3_bucket_versioning", "each", "b", {}),
		_rc("aws_s3_bucket_versioning.legacy", "", "aws_s3_bucket_versioning", "legacy", null, {"bucket": "legacy-name"}),
	],
	"configuration": {"root_module": {
		"resources": [
			{"address": "aws_s3_bucket.b", "mode": "managed", "type": "aws_s3_bucket", "name": "b", "expressions": {}},
			{"address": "aws_s3_bucket_versioning.from_output", "mode": "managed", "type": "aws_s3_bucket_versioning", "name": "from_output", "expressions": {"bucket": {"references": ["module.store.first_id", "module.store"]}}},
			{"address": "aws_s3_bucket_versioning.each", "mode": "managed", "type": "aws_s3_bucket_versioning", "name": "each", "expressions": {"bucket": {"references": ["each.value.id", "each.value"]}}, "for_each_expression": {"references": ["aws_s3_bucket.many"]}},
		],
		"module_calls": {
			"enc": {"expressions": {"bucket_id": {"references": ["aws_s3_bucket.b.id", "aws_s3_bucket.b"]}}, "module": {"resources": [{"address": "aws_s3_bucket_versioning.v", "mode": "managed", "type": "aws_s3_bucket_versioning", "name": "v", "expressions": {"bucket": {"references": ["var.bucket_id"]}}}]}},
			"store": {"module": {
				"outputs": {"first_id": {"expression": {"references": ["aws_s3_bucket.this[0].id", "aws_s3_bucket.this[0]", "aws_s3_bucket.this"]}}},
				"resources": [
					{"address": "aws_s3_bucket_versioning.this", "mode": "managed", "type": "aws_s3_bucket_versioning", "name": "this", "expressions": {"bucket": {"references": ["aws_s3_bucket.this", "count.index"]}}},
					{"address": "aws_s3_bucket_versioning.first", "mode": "managed", "type": "aws_s3_bucket_versioning", "name": "first", "expressions": {"bucket": {"references": ["aws_s3_bucket.this[0].id", "aws_s3_bucket.this[0]", "aws_s3_bucket.this"]}}},
				],
			}},
			"app": {"module": {"resources": [{"address": "aws_s3_bucket_versioning.this", "mode": "managed", "type": "aws_s3_bucket_versioning", "name": "this", "expressions": {"bucket": {"references": ["aws_s3_bucket.this.id", "aws_s3_bucket.this"]}}}]}},
		},
	}},
}

_targets(address) := [t.address | some t in refs.targets(src, ["bucket"], {"aws_s3_bucket"}, ids)] if {
	src := plan.resources[plan.by_address[address]]
	ids := refs.identity_index({"aws_s3_bucket"})
}

test_module_input_resolves_in_the_calling_module if {
	_targets("module.enc.aws_s3_bucket_versioning.v") == ["aws_s3_bucket.b"] with input as _plan
}

test_count_index_aligns_instances if {
	_targets("module.store.aws_s3_bucket_versioning.this[1]") == ["module.store.aws_s3_bucket.this[1]"] with input as _plan
}

test_explicit_index_picks_one_instance if {
	_targets("module.store.aws_s3_bucket_versioning.first") == ["module.store.aws_s3_bucket.this[0]"] with input as _plan
}

test_for_each_module_instances_stay_apart if {
	_targets(`module.app["y"].aws_s3_bucket_versioning.this`) == [`module.app["y"].aws_s3_bucket.this`] with input as _plan
}

test_module_output_resolves_inside_the_called_module if {
	_targets("aws_s3_bucket_versioning.from_output") == ["module.store.aws_s3_bucket.this[0]"] with input as _plan
}

test_existing_resources_join_by_known_value if {
	_targets("aws_s3_bucket_versioning.legacy") == ["aws_s3_bucket.legacy"] with input as _plan
}

test_wrong_type_is_not_a_target if {
	src := plan.resources[plan.by_address["module.enc.aws_s3_bucket_versioning.v"]] with input as _plan
	refs.targets(src, ["bucket"], {"aws_kms_key"}, {}) == [] with input as _plan
}

test_strip_keys_and_expressions if {
	refs.strip_keys(`module.a["k"].module.b[0]`) == "module.a.module.b"
	src := plan.resources[plan.by_address["module.enc.aws_s3_bucket_versioning.v"]] with input as _plan
	refs.expressions(src).bucket.references == ["var.bucket_id"] with input as _plan
	refs.resolved(src, ["bucket"]) == [
		["resource", ["", false], "aws_s3_bucket", "b", ""],
		["resource", ["", false], "aws_s3_bucket", "b", ""],
	] with input as _plan
}

test_for_each_over_a_resource_joins_each_value_by_key if {
	_targets(`aws_s3_bucket_versioning.each["b"]`) == [`aws_s3_bucket.many["b"]`] with input as _plan
}

test_reference_strings_are_classified if {
	refs._classify(["", false], "aws_s3_bucket.b[0].id") == ["resource", ["", false], "aws_s3_bucket", "b", "[0]"]
	refs._classify(["", false], `aws_s3_bucket.b["a.b"].id`) == ["resource", ["", false], "aws_s3_bucket", "b", `["a.b"]`]
	refs._classify(["", false], "var.bucket.id") == ["var", ["", false], "bucket", "", ""]
	refs._classify(["", false], "module.m.out") == ["module", ["", false], "m", "out", ""]
	refs._classify(["", false], `module.m["k.x"].out`) == ["module", ["", false], "m", "out", ""]
	refs._classify(["", false], "data.aws_iam_policy_document.p.json") == ["other", ["", false], "", "", ""]
	refs._classify(["", false], "local.name") == ["other", ["", false], "", "", ""]
}

test_fast_path_agrees_with_general_resolver if {
	refs.fast_path_disagreements == [] with input as _plan
	src := plan.resources[plan.by_address["module.store.aws_s3_bucket_versioning.first"]] with input as _plan
	not refs._direct(src, refs._references(src, ["bucket"]), {"aws_s3_bucket"}) with input as _plan
	root := plan.resources[plan.by_address["aws_s3_bucket_versioning.legacy"]] with input as _plan
	refs.general(root, ["bucket"], {"aws_s3_bucket"}) == set() with input as _plan
}

test_no_references_point_at_nothing_on_either_path if {
	src := plan.resources[plan.by_address["aws_s3_bucket_versioning.legacy"]] with input as _plan
	refs._references(src, ["acl"]) == [] with input as _plan
	refs._direct(src, [], {"aws_s3_bucket"}) == set() with input as _plan
	refs.general(src, ["acl"], {"aws_s3_bucket"}) == set() with input as _plan
}
