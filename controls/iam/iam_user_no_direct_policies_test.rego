# METADATA
# title: Tests of the user policy attachment rules
# description: Unit tests of iam_user_no_direct_policies.rego where it lives (make rego-check runs them).
# scope: package
package soc2opa.controls.iam_user_no_direct_policies_rules_test

import data.soc2opa.controls.iam_user_no_direct_policies as rules

_res(t, after, unknown) := {
	"address": sprintf("%s.x", [t]), "mode": "managed", "type": t, "name": "x",
	"change": {"actions": ["create"], "after": after, "after_unknown": unknown, "after_sensitive": {}},
}

test_user_attachment_fails_with_unknown_policy if {
	r := rules.result(_res("aws_iam_user_policy_attachment", {"user": "bob"}, {"policy_arn": true}))
	r.status == "fail"
	r.reason == `attaches a policy known only after apply to user "bob" directly`
}

test_exclusive_attachment_to_groups_only_passes if {
	rules.result(_res("aws_iam_policy_attachment", {"users": [], "groups": ["ops"]}, {})).status == "pass"
}

test_exclusive_attachment_with_unknown_users_is_unknown if {
	rules.result(_res("aws_iam_policy_attachment", {}, {"users": true})).status == "unknown"
}
