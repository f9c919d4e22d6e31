# METADATA
# title: S3 cross-region replication (hand-written check)
# description: >-
#   The escape hatch of s3_bucket_cross_region_replication: follows each enabled replication
#   rule of the bucket to its destination bucket and compares the regions of the two buckets'
#   provider configurations, which the check language cannot say.
# scope: package
package soc2opa.controls.s3_bucket_cross_region_replication

import data.soc2opa.lib.config
import data.soc2opa.lib.plan
import data.soc2opa.lib.refs

# METADATA
# description: The outcome for one bucket and the reason for it, together.
result(r) := _result("fail", "no aws_s3_bucket_replication_configuration in this plan replicates this bucket") if {
	count(_configs(r)) == 0
} else := _result("fail", sprintf("%s has no rule with status Enabled", [concat(", ", [c.address | some c in _configs(r)])])) if {
	count(_rules(r)) == 0
} else := _result("pass", concat("; ", [m | some [s, m] in _rules(r); s == "pass"])) if {
	some [s, _] in _rules(r)
	s == "pass"
} else := _result("unknown", concat("; ", [m | some [s, m] in _rules(r); s == "unknown"])) if {
	some [s, _] in _rules(r)
	s == "unknown"
} else := _result("fail", concat("; ", [m | some [_, m] in _rules(r)]))

_result(status, reason) := {"status": status, "reason": reason}

_buckets := {"aws_s3_bucket"}

_ids := refs.identity_index(_buckets)

_source_targets(src) := refs.targets(src, ["bucket"], _buckets, _ids) if {
	refs.value_known(src, ["bucket"])
} else := refs.referenced(src, ["bucket"], _buckets)

_by_bucket := plan.group({[t.address, i] |
	some i in object.get(plan.by_type, "aws_s3_bucket_replication_configuration", [])
	some t in _source_targets(plan.resources[i])
})

_configs(r) := [plan.resources[i] | some i in object.get(_by_bucket, r.address, [])]

# [status, reason] for each enabled rule of each replication configuration of the bucket.
_rules(r) := [_rule_verdict(r, c, n) |
	some c in _configs(r)
	some n, rule in plan.list_at(c, ["rule"])
	_enabled(c, n, rule)
]

_enabled(c, n, _) if plan.unknown_at(c, ["rule", n, "status"])

_enabled(_, _, rule) if rule.status == "Enabled"

_rule_verdict(r, c, n) := ["unknown", sprintf("%s rule %d: its status is known only after apply", [c.address, n])] if {
	plan.unknown_at(c, ["rule", n, "status"])
} else := _compare(r, c, n, t) if {
	[t] := _destinations(c, n)
} else := ["unknown", sprintf("%s rule %d: the destination bucket is not in this plan, so its region cannot be read", [c.address, n])]

_destinations(c, n) := refs.targets(c, ["rule", n, "destination", 0, "bucket"], _buckets, _ids)

_compare(r, c, n, t) := ["unknown", sprintf("%s rule %d: the region of %s or of %s is known only after apply", [c.address, n, r.address, t.address])] if {
	not _region(r)
} else := ["unknown", sprintf("%s rule %d: the region of %s or of %s is known only after apply", [c.address, n, r.address, t.address])] if {
	not _region(t)
} else := ["pass", sprintf("%s rule %d replicates from %s to %s in %s", [c.address, n, _region(r), t.address, _region(t)])] if {
	_region(r) != _region(t)
} else := ["fail", sprintf("%s rule %d replicates to %s in the same region (%s)", [c.address, n, t.address, _region(r)])]

# The region of the provider configuration a resource uses, when the configuration states it.
_region(r) := region if {
	key := config.provider_key(r)
	region := input.configuration.provider_config[key].expressions.region.constant_value
	is_string(region)
}
