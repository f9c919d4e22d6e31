# METADATA
# title: Tests of configuration reads
# description: >-
#   Whether an attribute is written in the configuration (if_unknown default), the provider
#   configuration a resource uses, and how an account-level default settles an unknown.
# scope: package
package soc2opa.lib.config_test

import data.soc2opa.lib.check
import data.soc2opa.lib.config

_table(unknown) := {
	"address": "module.m[0].aws_dynamodb_table.t",
	"module_address": "module.m[0]",
	"mode": "managed",
	"type": "aws_dynamodb_table",
	"name": "t",
	"change": {"actions": ["create"], "after": {"name": "t"}, "after_unknown": unknown},
}

_plan(exprs) := {
	"resource_changes": [_table({"server_side_encryption": true})],
	"configuration": {"root_module": {"module_calls": {"m": {"module": {"resources": [{
		"address": "aws_dynamodb_table.t",
		"mode": "managed",
		"type": "aws_dynamodb_table",
		"name": "t",
		"provider_config_key": "aws.west",
		"expressions": exprs,
	}]}}}}},
}

_path := ["server_side_encryption", 0, "enabled"]

test_undeclared_block if {
	check.undeclared(_table({}), _path) with input as _plan({"name": {"constant_value": "t"}})
}

test_declared_block if {
	exprs := {"name": {"constant_value": "t"}, "server_side_encryption": [{"enabled": {"references": ["var.x"]}}]}
	not check.undeclared(_table({}), _path) with input as _plan(exprs)
}

test_declared_block_without_the_attribute if {
	exprs := {"name": {"constant_value": "t"}, "server_side_encryption": [{"kms_key_arn": {"constant_value": "k"}}]}
	check.undeclared(_table({}), _path) with input as _plan(exprs)
}

test_no_expressions_tells_nothing if {
	not check.undeclared(_table({}), _path) with input as _plan({})
}

test_a_block_terraform_wrote_without_expressions_sets_nothing if {
	cfg := {"root_module": {"module_calls": {"m": {"module": {"resources": [{"address": "aws_dynamodb_table.t", "mode": "managed", "type": "aws_dynamodb_table", "name": "t"}]}}}}}
	check.undeclared(_table({}), _path) with input as {"resource_changes": [_table({})], "configuration": cfg}
}

test_no_configuration_tells_nothing if {
	not check.undeclared(_table({}), _path) with input as {"resource_changes": [_table({})]}
}

test_undeclared_unknown_is_judged_as_unset if {
	r := _table({"server_side_encryption": true})
	exprs := {"name": {"constant_value": "t"}}
	check.value(r, _path, "truthy", null, false, "default") == "fail" with input as _plan(exprs)
	check.value(r, _path, "falsy", null, false, "default") == "pass" with input as _plan(exprs)
}

test_declared_unknown_stays_unknown if {
	r := _table({"server_side_encryption": true})
	exprs := {"name": {"constant_value": "t"}, "server_side_encryption": [{"enabled": {"references": ["var.x"]}}]}
	check.value(r, _path, "truthy", null, false, "default") == "unknown" with input as _plan(exprs)
}

test_an_expression_holds_no_undeclared_keys if {
	exprs := {"name": {"constant_value": "t"}, "tags": {"references": ["var.tags"]}}
	not check.undeclared(_table({}), ["tags", "Owner"]) with input as _plan(exprs)
	check.undeclared(_table({}), ["ttl", 0, "enabled"]) with input as _plan(exprs)
}

test_default_reasons if {
	r := _table({"server_side_encryption": true})
	exprs := {"name": {"constant_value": "t"}}
	check.why_default(r, _path, "sse", "true", false, "fail", "fail") == ["sse is not set in the configuration, so false by default; expected true"] with input as _plan(exprs)
	check.why_default(r, _path, "sse", "true", null, "fail", "fail") == ["sse is not set in the configuration; expected true"] with input as _plan(exprs)
	check.why_default(r, _path, "sse", "true", false, "fail", "pass") == [] with input as _plan(exprs)
	declared := {"name": {"constant_value": "t"}, "server_side_encryption": [{"enabled": {"references": ["var.x"]}}]}
	check.why_default(r, _path, "sse", "true", false, "unknown", "unknown") == ["sse is known only after apply"] with input as _plan(declared)
}

test_without_configuration_the_default_does_not_decide if {
	r := _table({"server_side_encryption": true})
	check.value(r, _path, "falsy", null, false, "default") == "unknown" with input as {"resource_changes": [r]}
}

test_provider_key if {
	config.provider_key(_table({})) == "aws.west" with input as _plan({})
}

test_resolved_by_a_default_for_the_same_provider if {
	r := _table({})
	defaults := {"aws.west": ["aws_ebs_encryption_by_default.w"]}
	config.resolved("unknown", r, defaults) == "pass" with input as _plan({})
	config.resolved("fail", r, defaults) == "fail" with input as _plan({})
	config.resolved("unknown", r, {"aws": ["aws_ebs_encryption_by_default.e"]}) == "unknown" with input as _plan({})
	count(config.note("unknown", r, defaults, "EBS encryption by default", ["x is unknown"])) == 1 with input as _plan({})
}
