# METADATA
# title: Public S3 buckets
# description: >-
#   Whether a bucket can be read or written by everyone, from everything a plan says about it:
#   Block Public Access (the bucket's aws_s3_bucket_public_access_block, or the account's
#   aws_s3_account_public_access_block), canned ACLs and grants (inline on aws_s3_bucket, or an
#   aws_s3_bucket_acl), and bucket policies (inline, or an aws_s3_bucket_policy) that allow
#   everyone without a restricting condition. Related resources are found once per evaluation,
#   by configuration reference or by the bucket's known name.
# scope: package
package soc2opa.lib.s3_public

import data.soc2opa.lib.plan
import data.soc2opa.lib.policy
import data.soc2opa.lib.refs

_all_users := "http://acs.amazonaws.com/groups/global/AllUsers"

_authenticated_users := "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"

# METADATA
# description: What public means for each access kind (canned ACLs, grant permissions, policy actions).
kinds := {
	"read": {
		"acls": {"public-read", "public-read-write", "authenticated-read"},
		"permissions": {"READ", "READ_ACP", "FULL_CONTROL"},
		"actions": ["s3:GetObject", "s3:ListBucket", "s3:GetObjectVersion"],
	},
	"write": {
		"acls": {"public-read-write"},
		"permissions": {"WRITE", "WRITE_ACP", "FULL_CONTROL"},
		"actions": ["s3:PutObject", "s3:DeleteObject", "s3:PutBucketPolicy", "s3:PutObjectAcl"],
	},
}

_restricting := [
	"aws:principalorgid", "aws:principalaccount", "aws:principalarn", "aws:sourceaccount",
	"aws:sourcearn", "aws:sourcevpce", "aws:sourcevpc", "aws:sourceip",
]

_pattern(kind) := {
	"effect": "Allow",
	"principal": "public",
	"restricted_by": _restricting,
	"actions_any": kinds[kind].actions,
}

_bucket_types := {"aws_s3_bucket"}

_ids := refs.identity_index(_bucket_types)

_targets(src) := refs.targets(src, ["bucket"], _bucket_types, _ids) if {
	refs.value_known(src, ["bucket"])
} else := refs.referenced(src, ["bucket"], _bucket_types)

_related_types := {"aws_s3_bucket_acl", "aws_s3_bucket_policy", "aws_s3_bucket_public_access_block"}

# _related[type][bucket address] = indexes of the resources of that type that name the bucket.
_related[ty] := plan.group({[t.address, i] |
	some i in object.get(plan.by_type, ty, [])
	some t in _targets(plan.resources[i])
}) if {
	some ty in _related_types
}

_of(ty, bucket) := [plan.resources[i] | some i in object.get(object.get(_related, ty, {}), bucket.address, [])]

# --- Block Public Access --------------------------------------------------------------------

_flags := ["block_public_acls", "block_public_policy"]

_blocks(b) := "pass" if {
	every f in _flags {
		not plan.unknown_at(b, [f])
		plan.value_or(b, [f], false) == true
	}
} else := "unknown" if {
	some f in _flags
	plan.unknown_at(b, [f])
} else := "fail"

_blockers(bucket) := array.concat(
	[[sprintf("the bucket's public access block %s", [b.address]), _blocks(b)] | some b in _of("aws_s3_bucket_public_access_block", bucket)],
	_account_blockers,
)

# The same for every bucket, so built once per evaluation.
_account_blockers := [[sprintf("the account's public access block %s", [b.address]), _blocks(b)] |
	some i in object.get(plan.by_type, "aws_s3_account_public_access_block", [])
	b := plan.resources[i]
]

# --- exposures: [status, reason] pairs, status "fail" (public) or "unknown" -----------------

_acl_exposures(r, label, kind) := [["unknown", sprintf("%s acl is known only after apply", [label])]] if {
	plan.unknown_at(r, ["acl"])
	refs.expressions(r).acl
} else := [["fail", sprintf("%s acl is %s", [label, json.marshal(acl)])]] if {
	acl := plan.value_or(r, ["acl"], "private")
	acl in kinds[kind].acls
} else := []

_grant_exposures(label, grants, kind) := [["fail", sprintf("%s grants %s to %s", [label, p, _group(uri)])] |
	some g in grants
	uri := _grant_uri(g)
	uri in {_all_users, _authenticated_users}
	some p in _permissions(g)
	p in kinds[kind].permissions
]

# An inline grant block names its grantee uri directly; an access_control_policy grant nests it.
_grant_uri(g) := g.uri if is_string(g.uri)

else := g.grantee[0].uri if is_string(g.grantee[0].uri)

else := ""

_permissions(g) := g.permissions if is_array(g.permissions)

else := [g.permission] if is_string(g.permission)

else := []

_group(uri) := "everyone (AllUsers)" if uri == _all_users

else := "every AWS account (AuthenticatedUsers)"

_unknown_grants(r, path, label) := [["unknown", sprintf("%s is known only after apply", [label])]] if {
	plan.unknown_at(r, path)
	refs.expressions(r)[path[0]]
} else := []

_policy_exposures(r, label, kind) := [["unknown", sprintf("%s is known only after apply", [label])]] if {
	policy.status(r, ["policy"], "none", _pattern(kind), "unknown") == "unknown"
} else := [["fail", m] | some m in policy.why(r, ["policy"], label, "none", _pattern(kind), ["an Allow statement for everyone without a restricting condition", ""], "fail", "fail")] if {
	policy.status(r, ["policy"], "none", _pattern(kind), "unknown") == "fail"
} else := []

_exposures(bucket, kind) := array.concat(_own_exposures(bucket, kind), _related_exposures(bucket, kind))

_own_exposures(bucket, kind) := array.concat(
	array.concat(
		_acl_exposures(bucket, "the bucket's inline", kind),
		_grant_exposures("the bucket's inline grant", plan.list_at(bucket, ["grant"]), kind),
	),
	array.concat(
		_unknown_grants(bucket, ["grant"], "the bucket's inline grant"),
		_policy_exposures(bucket, "the bucket's inline policy", kind),
	),
)

_related_exposures(bucket, kind) := array.concat(
	[e |
		some a in _of("aws_s3_bucket_acl", bucket)
		some e in array.concat(
			array.concat(_acl_exposures(a, a.address, kind), _grant_exposures(a.address, _acp_grants(a), kind)),
			_unknown_grants(a, ["access_control_policy"], sprintf("%s access_control_policy", [a.address])),
		)
	],
	[e |
		some p in _of("aws_s3_bucket_policy", bucket)
		some e in _policy_exposures(p, sprintf("%s policy", [p.address]), kind)
	],
)

_acp_grants(a) := [g | some acp in plan.list_at(a, ["access_control_policy"]); some g in object.get(acp, "grant", [])]

# METADATA
# description: >-
#   {"status", "reason"} for a bucket and an access kind ("read" or "write"): pass when a
#   public access block blocks public ACLs and policies, or nothing grants the kind to everyone;
#   fail when an ACL, grant or policy does and no block may stop it; unknown otherwise.
result(bucket, kind) := _result("pass", sprintf("%s blocks public ACLs and public policies", [why])) if {
	# Several blocks may pass (bucket and account): the first one gives the reason.
	passing := [w | some [w, "pass"] in _blockers(bucket)]
	count(passing) > 0
	why := passing[0]
} else := _result("fail", concat("; ", [m | some [s, m] in _exposures(bucket, kind); s == "fail"])) if {
	some [s, _] in _exposures(bucket, kind)
	s == "fail"
	not _maybe_blocked(bucket)
} else := _result("unknown", _unknown_reason(bucket, kind)) if {
	some _ in _exposures(bucket, kind)
} else := _result("pass", sprintf("no ACL, grant or bucket policy in this plan gives %s access to everyone", [kind]))

_maybe_blocked(bucket) if {
	some [_, "unknown"] in _blockers(bucket)
}

_unknown_reason(bucket, kind) := concat("; ", array.concat(
	[m | some [_, m] in _exposures(bucket, kind)],
	[sprintf("%s may block it, but its flags are known only after apply", [w]) | some [w, "unknown"] in _blockers(bucket)],
))

_result(status, reason) := {"status": status, "reason": reason}
