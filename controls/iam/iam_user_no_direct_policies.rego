# METADATA
# title: IAM policies attached to users (hand-written check)
# description: >-
#   The escape hatch of iam_user_no_direct_policies: an aws_iam_user_policy_attachment or
#   aws_iam_user_policy gives a user permissions directly whatever the policy is, so the
#   resource type decides; an aws_iam_policy_attachment fails when its users list is not
#   empty. soc2opa build copies the rules below the imports into the generated package.
# scope: package
package soc2opa.controls.iam_user_no_direct_policies

import data.soc2opa.lib.plan

# METADATA
# description: The outcome for one resource and the reason for it, together.
result(r) := _result("fail", sprintf("attaches %s to user %s directly", [_policy(r), plan.show(r, ["user"], null)])) if {
	r.type == "aws_iam_user_policy_attachment"
} else := _result("fail", sprintf("an inline policy on user %s", [plan.show(r, ["user"], null)])) if {
	r.type == "aws_iam_user_policy"
} else := _result("unknown", "users is known only after apply") if {
	plan.unknown_at(r, ["users"])
} else := _result("fail", sprintf("attaches %s to %d user(s) directly: %s", [_policy(r), count(_users(r)), concat(", ", _users(r))])) if {
	count(_users(r)) > 0
} else := _result("pass", "attaches the policy to no user")

_policy(r) := "a policy known only after apply" if {
	plan.unknown_at(r, ["policy_arn"])
} else := plan.show(r, ["policy_arn"], null)

_users(r) := [u | some u in plan.list_at(r, ["users"]); plan.present(u)]

_result(status, reason) := {"status": status, "reason": reason}
