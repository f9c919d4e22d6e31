# METADATA
# title: IAM inline policies (hand-written check)
# description: >-
#   The escape hatch of iam_no_inline_policies: an aws_iam_user_policy, aws_iam_group_policy or
#   aws_iam_role_policy is an inline policy whatever its document says (the document is often
#   known only after apply), so the resource type decides; a role fails when an inline_policy
#   block names a policy. soc2opa build copies the rules below the imports into the generated
#   package.
# scope: package
package soc2opa.controls.iam_no_inline_policies

import data.soc2opa.lib.plan
import data.soc2opa.lib.refs

_inline_types := {
	"aws_iam_user_policy": "user",
	"aws_iam_group_policy": "group",
	"aws_iam_role_policy": "role",
}

# METADATA
# description: The outcome for one resource and the reason for it, together.
result(r) := _result("fail", sprintf("an inline policy%s on %s %s; attach a managed policy instead", [_name(r), _inline_types[r.type], plan.show(r, [_inline_types[r.type]], null)])) if {
	_inline_types[r.type]
} else := _result("pass", "the configuration declares no inline_policy block") if {
	plan.unknown_at(r, ["inline_policy"])
	refs.not_configured(r, "inline_policy")
} else := _result("unknown", "inline_policy is known only after apply") if {
	plan.unknown_at(r, ["inline_policy"])
} else := _result("fail", sprintf("inline_policy blocks name %s; attach managed policies instead", [concat(", ", _named(r))])) if {
	count(_named(r)) > 0
} else := _result("unknown", "an inline_policy block has a name or policy known only after apply") if {
	some i, _ in plan.list_at(r, ["inline_policy"])
	_unknown_block(r, i)
} else := _result("pass", "no inline policy")

_name(r) := "" if {
	plan.unknown_at(r, ["name"])
} else := sprintf(" (%s)", [plan.show(r, ["name"], null)]) if {
	plan.present(plan.value_or(r, ["name"], null))
} else := ""

# An empty inline_policy {} block is how the provider removes inline policies; it names none.
_named(r) := [_block_name(r, i) |
	some i, p in plan.list_at(r, ["inline_policy"])
	_names_a_policy(p)
]

_names_a_policy(p) if plan.present(object.get(p, "name", null))

_names_a_policy(p) if plan.present(object.get(p, "policy", null))

_unknown_block(r, i) if plan.unknown_at(r, ["inline_policy", i, "policy"])

_unknown_block(r, i) if plan.unknown_at(r, ["inline_policy", i, "name"])

_block_name(r, i) := plan.show(r, ["inline_policy", i, "name"], null)

_result(status, reason) := {"status": status, "reason": reason}
