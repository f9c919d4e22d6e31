# METADATA
# title: AmazonBedrockFullAccess attachments (hand-written check)
# description: >-
#   The escape hatch of bedrock_full_access_not_attached: finds the AmazonBedrockFullAccess ARN
#   in whatever attribute the resource attaches policies through, then exempts service roles,
#   that is roles whose trust policy (in this plan) lets only AWS services assume them. Roles
#   are found through configuration references or, when they already exist, by name; the role
#   identity index is built once per evaluation. soc2opa build copies the rules below the
#   imports into the generated package.
# scope: package
package soc2opa.controls.bedrock_full_access_not_attached

import data.soc2opa.lib.plan
import data.soc2opa.lib.policy
import data.soc2opa.lib.refs

_full := `^arn:aws[a-z-]*:iam::aws:policy/AmazonBedrockFullAccess$`

# The attribute each type attaches policies through.
_arn_attr := {
	"aws_iam_role_policy_attachment": "policy_arn",
	"aws_iam_user_policy_attachment": "policy_arn",
	"aws_iam_group_policy_attachment": "policy_arn",
	"aws_iam_policy_attachment": "policy_arn",
	"aws_iam_role": "managed_policy_arns",
	"aws_iam_role_policy_attachments_exclusive": "policy_arns",
}

# The attribute naming the role a resource attaches to.
_role_attr := {
	"aws_iam_role_policy_attachment": "role",
	"aws_iam_role_policy_attachments_exclusive": "role_name",
}

_role_ids := refs.identity_index({"aws_iam_role"})

# METADATA
# description: The outcome for one resource and the reason for it, together.
result(r) := _result("pass", "the configuration attaches no managed policies (managed_policy_arns is not set)") if {
	r.type == "aws_iam_role"
	plan.unknown_at(r, ["managed_policy_arns"])
	refs.not_configured(r, "managed_policy_arns")
} else := _result("unknown", sprintf("%s is known only after apply", [_arn_attr[r.type]])) if {
	plan.unknown_at(r, [_arn_attr[r.type]])
} else := _result("unknown", sprintf("%s holds a value known only after apply", [_arn_attr[r.type]])) if {
	not _attaches_full(r)
	_some_arn_unknown(r)
} else := _result("pass", "AmazonBedrockFullAccess is not attached") if {
	not _attaches_full(r)
} else := _holder(r)

_arns(r) := [v] if {
	v := plan.value_or(r, [_arn_attr[r.type]], null)
	is_string(v)
} else := [v | some v in plan.list_at(r, [_arn_attr[r.type]])]

_attaches_full(r) if {
	some v in _arns(r)
	plan.matches(_full, v)
}

_some_arn_unknown(r) if {
	some i, _ in plan.list_at(r, [_arn_attr[r.type]])
	plan.unknown_at(r, [_arn_attr[r.type], i])
}

_fail(who) := _result("fail", sprintf("AmazonBedrockFullAccess is attached to %s", [who]))

_holder(r) := _trust(r, "this role") if {
	r.type == "aws_iam_role"
} else := _role_holder(r, _roles(r)) if {
	_role_attr[r.type]
} else := _fail(sprintf("users %s", [concat(", ", _names(r, "users"))])) if {
	r.type == "aws_iam_policy_attachment"
	count(_names(r, "users")) > 0
} else := _fail(sprintf("groups %s", [concat(", ", _names(r, "groups"))])) if {
	r.type == "aws_iam_policy_attachment"
	count(_names(r, "groups")) > 0
} else := _role_holder(r, refs.referenced(r, ["roles"], {"aws_iam_role"})) if {
	r.type == "aws_iam_policy_attachment"
	count(_names(r, "roles")) == count(refs.referenced(r, ["roles"], {"aws_iam_role"}))
} else := _fail(sprintf("roles %s, not all of them declared in this plan, so not shown to be service roles", [concat(", ", _names(r, "roles"))])) if {
	r.type == "aws_iam_policy_attachment"
} else := _fail(sprintf("%s %s", [trim_suffix(trim_prefix(r.type, "aws_iam_"), "_policy_attachment"), plan.show(r, [trim_suffix(trim_prefix(r.type, "aws_iam_"), "_policy_attachment")], null)]))

_names(r, attr) := [json.marshal(v) | some v in plan.list_at(r, [attr]); is_string(v)]

_roles(r) := refs.targets(r, [_role_attr[r.type]], {"aws_iam_role"}, _role_ids) if {
	refs.value_known(r, [_role_attr[r.type]])
} else := refs.referenced(r, [_role_attr[r.type]], {"aws_iam_role"})

_role_holder(r, roles) := _fail(sprintf("role %s, which is not declared in this plan, so it cannot be shown to be a service role", [plan.show(r, [_role_attr[r.type]], null)])) if {
	count(roles) == 0
	_role_attr[r.type]
} else := _fail("roles not declared in this plan") if {
	count(roles) == 0
} else := _worst([_trust(role, role.address) | some role in roles])

# The first failing (else unknown) result names the outcome: one value per result would make OPA
# fail on conflicting values when several roles fail.
_worst(results) := fails[0] if {
	fails := [x | some x in results; x.status == "fail"]
	count(fails) > 0
} else := unknowns[0] if {
	unknowns := [x | some x in results; x.status == "unknown"]
	count(unknowns) > 0
} else := results[0]

# A service role: every Allow statement of its trust policy names only AWS service principals.
_trust(role, who) := _result("unknown", sprintf("the trust policy of %s is known only after apply, so whether it is a service role (exempt) is unknown", [who])) if {
	policy.document(role, ["assume_role_policy"]).state == "unknown"
} else := _result("pass", sprintf("AmazonBedrockFullAccess is attached to %s, a service role that only AWS services can assume (exempt)", [who])) if {
	doc := policy.document(role, ["assume_role_policy"])
	doc.state == "ok"
	allows := [s | some s in doc.statements; s.Effect == "Allow"]
	count(allows) > 0
	every s in allows {
		_service_only(s)
	}
} else := _fail(sprintf("%s, which people or other accounts can assume", [who]))

_service_only(s) if {
	not s.NotPrincipal
	is_object(s.Principal)
	object.keys(s.Principal) == {"Service"}
}

_result(status, reason) := {"status": status, "reason": reason}
