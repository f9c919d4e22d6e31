# METADATA
# title: Tests of the AmazonBedrockFullAccess rules
# description: Unit tests of bedrock_full_access_not_attached.rego where it lives (make rego-check runs them).
# scope: package
package soc2opa.controls.bedrock_full_access_not_attached_rules_test

import data.soc2opa.controls.bedrock_full_access_not_attached as rules

_full := "arn:aws:iam::aws:policy/AmazonBedrockFullAccess"

_res(t, name, after, unknown) := {
	"address": sprintf("%s.%s", [t, name]), "mode": "managed", "type": t, "name": name,
	"change": {"actions": ["no-op"], "after": after, "after_unknown": unknown, "after_sensitive": {}},
}

_trust(principal) := json.marshal({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": principal}]})

test_existing_service_role_joined_by_name_is_exempt if {
	role := _res("aws_iam_role", "svc", {"name": "svc", "assume_role_policy": _trust({"Service": "bedrock.amazonaws.com"})}, {})
	att := _res("aws_iam_role_policy_attachment", "a", {"role": "svc", "policy_arn": _full}, {})
	r := rules.result(att) with input as {"resource_changes": [role, att]}
	r.status == "pass"
	contains(r.reason, "exempt")
}

test_role_people_can_assume_fails if {
	role := _res("aws_iam_role", "p", {"name": "p", "assume_role_policy": _trust({"AWS": "arn:aws:iam::123456789012:root"})}, {})
	att := _res("aws_iam_role_policy_attachment", "a", {"role": "p", "policy_arn": _full}, {})
	rules.result(att).status == "fail" with input as {"resource_changes": [role, att]}
}

test_role_outside_the_plan_fails if {
	att := _res("aws_iam_role_policy_attachment", "a", {"role": "elsewhere", "policy_arn": _full}, {})
	r := rules.result(att) with input as {"resource_changes": [att]}
	r.status == "fail"
	contains(r.reason, "not declared in this plan")
}

test_exclusive_attachment_with_users_fails if {
	att := _res("aws_iam_policy_attachment", "a", {"policy_arn": _full, "users": ["bob"], "groups": [], "roles": []}, {})
	r := rules.result(att) with input as {"resource_changes": [att]}
	r.status == "fail"
	contains(r.reason, `users "bob"`)
}

test_service_role_with_full_access_in_its_own_list_is_exempt if {
	role := _res("aws_iam_role", "svc", {"name": "svc", "assume_role_policy": _trust({"Service": "bedrock.amazonaws.com"}), "managed_policy_arns": [_full, null]}, {"managed_policy_arns": [false, true]})
	r := rules.result(role) with input as {"resource_changes": [role]}
	r.status == "pass"
}

test_group_attachment_fails if {
	att := _res("aws_iam_group_policy_attachment", "g", {"group": "analysts", "policy_arn": _full}, {})
	r := rules.result(att) with input as {"resource_changes": [att]}
	r.reason == `AmazonBedrockFullAccess is attached to group "analysts"`
}
