# METADATA
# title: Tests of configuration reads
# description: >-
#   Whether an attribute is written in the configuration, the provider configuration a
#   resource uses, and how an account-level default settles an unknown.
# scope: package
package soc2opa.lib.config_test

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
	config.undeclared(_table({}), _path) with input as _plan({"name": {"constant_value": "t"}})
}

test_declared_block if {
	exprs := {"name": {"constant_value": "t"}, "server_side_encryption": [{"enabled": {"references": ["var.x"]}}]}
	not config.undeclared(_table({}), _path) with input as _plan(exprs)
}

test_declared_block_without_the_attribute if {
	exprs := {"name": {"constant_value": "t"}, "server_side_encryption": [{"kms_key_arn": {"constant_value": "k"}}]}
	config.undeclared(_table({}), _path) with input as _plan(exprs)
}

test_no_expressions_tells_nothing if {
	not config.undeclared(_table({}), _path) with input as _plan({})
}

test_no_configuration_tells_nothing if {
	not config.undeclared(_table({}), _path) with input as {"resource_changes": [_table({})]}
}

test_undeclared_unknown_is_judged_as_unset if {
	r := _table({"server_side_encryption": true})
	exprs := {"name": {"constant_value": "t"}}
	config.value(r, _path, "truthy", null, false, "unknown") == "fail" with input as _plan(exprs)
	config.value(r, _path, "falsy", null, false, "unknown") == "pass" with input as _plan(exprs)
}

test_declared_unknown_stays_unknown if {
	r := _table({"server_side_encryption": true})
	exprs := {"name": {"constant_value": "t"}, "server_side_encryption": [{"enabled": {"references": ["var.x"]}}]}
	config.value(r, _path, "truthy", null, false, "unknown") == "unknown" with input as _plan(exprs)
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
