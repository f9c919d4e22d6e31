# METADATA
# title: EBS snapshot schedule (hand-written check)
# description: >-
#   The escape hatch of ebs_volume_has_snapshot_schedule: a volume has a snapshot schedule when
#   an AWS Backup selection covers it (rego/lib/backup.rego) or an enabled Data Lifecycle
#   Manager policy for volumes targets one of its tags. Matching a policy's target_tags against
#   each volume's tags is what the check language cannot say.
# scope: package
package soc2opa.controls.ebs_volume_has_snapshot_schedule

import data.soc2opa.lib.backup
import data.soc2opa.lib.plan

# METADATA
# description: >-
#   The outcome for one volume and the reason for it, together. A pass's reason is never
#   reported (a decision lists passes by address), so it is a constant: naming every selecting
#   aws_backup_selection would compare the volume with each of them.
result(r) := _result("pass", "an aws_backup_selection in this plan selects it") if {
	backup.status(r) == "pass"
} else := _result("pass", sprintf("%s snapshots it: it targets volumes tagged %s", [hits[0][0], _tag(hits[0][1])])) if {
	# The first policy names the pass: one value per policy would conflict when several match.
	hits := [[p, t] | some [p, t] in _dlm_known; _tagged(r, t)]
	count(hits) > 0
} else := _result("unknown", _unknown_reason(r)) if {
	_maybe(r)
} else := _result("fail", "no aws_backup_selection selects this volume and no enabled aws_dlm_lifecycle_policy for VOLUME targets one of its tags")

_result(status, reason) := {"status": status, "reason": reason}

_volume_policies := [p |
	some i in object.get(plan.by_type, "aws_dlm_lifecycle_policy", [])
	p := plan.resources[i]
	plan.value_or(p, ["state"], "ENABLED") == "ENABLED"
	some details in plan.list_at(p, ["policy_details"])
	"VOLUME" in object.get(details, "resource_types", [])
]

# [policy address, [key, value]] for every target tag known in the plan, computed once.
_dlm_known := [[p.address, [k, v]] |
	some p in _volume_policies
	some n, details in plan.list_at(p, ["policy_details"])
	not plan.unknown_at(p, ["policy_details", n, "target_tags"])
	some k, v in object.get(details, "target_tags", {})
	not plan.unknown_at(p, ["policy_details", n, "target_tags", k])
]

_dlm_unknown := [p.address |
	some i in object.get(plan.by_type, "aws_dlm_lifecycle_policy", [])
	p := plan.resources[i]
	_unknown_policy(p)
]

_unknown_policy(p) if plan.unknown_at(p, ["policy_details"])

_unknown_policy(p) if {
	some n, _ in plan.list_at(p, ["policy_details"])
	plan.unknown_at(p, ["policy_details", n, "target_tags"])
}

_unknown_policy(p) if {
	some n, details in plan.list_at(p, ["policy_details"])
	some k, _ in object.get(details, "target_tags", {})
	plan.unknown_at(p, ["policy_details", n, "target_tags", k])
}

_unknown_policy(p) if plan.unknown_at(p, ["state"])

_tags(r) := plan.value_or(r, ["tags_all"], {}) if {
	not plan.unknown_at(r, ["tags_all"])
	is_object(plan.value_or(r, ["tags_all"], {}))
} else := plan.value_or(r, ["tags"], {}) if {
	is_object(plan.value_or(r, ["tags"], {}))
} else := {}

_tagged(r, [k, v]) if _tags(r)[k] == v

_tag([k, v]) := sprintf("%s=%s", [k, v])

_maybe(r) if backup.status(r) == "unknown"

_maybe(_) if count(_dlm_unknown) > 0

_maybe(r) if {
	count(_dlm_known) > 0
	plan.unknown_at(r, ["tags"])
}

_unknown_reason(r) := concat("; ", array.concat(
	backup.why(r, "unknown"),
	array.concat(
		[sprintf("%s targets tags known only after apply", [a]) | some a in _dlm_unknown],
		["the volume's tags are known only after apply" | count(_dlm_known) > 0; plan.unknown_at(r, ["tags"])],
	),
))
