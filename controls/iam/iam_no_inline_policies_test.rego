# METADATA
# title: Tests of the inline policy rules
# description: Unit tests of iam_no_inline_policies.rego where it lives (make rego-check runs them).
# scope: package
package soc2opa.controls.iam_no_inline_policies_rules_test

import data.soc2opa.controls.iam_no_inline_policies as rules

_res(t, after, unknown) := {
	"address": sprintf("%s.x", [t]), "mode": "managed", "type": t, "name": "x",
	"change": {"actions": ["create"], "after": after, "after_unknown": unknown, "after_sensitive": {}},
}

test_role_policy_fails_whatever_its_document if {
	r := rules.result(_res("aws_iam_role_policy", {"name": "s3", "role": "app"}, {"policy": true}))
	r.status == "fail"
	r.reason == `an inline policy ("s3") on role "app"; attach a managed policy instead`
}

test_empty_inline_policy_block_passes if {
	rules.result(_res("aws_iam_role", {"inline_policy": [{"name": null, "policy": null}]}, {})).status == "pass"
}

test_named_inline_policy_block_fails if {
	r := rules.result(_res("aws_iam_role", {"inline_policy": [{"name": "extra", "policy": "{}"}]}, {}))
	r.status == "fail"
	contains(r.reason, `"extra"`)
}

test_computed_inline_policy_without_configuration_is_unknown if {
	rules.result(_res("aws_iam_role", {}, {"inline_policy": true})).status == "unknown"
}

test_inline_policy_block_with_unknown_values_is_unknown if {
	rules.result(_res("aws_iam_role", {"inline_policy": [{}]}, {"inline_policy": [{"name": true, "policy": true}]})).status == "unknown"
}
