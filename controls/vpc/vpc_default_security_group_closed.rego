# METADATA
# title: Default security groups allow no traffic (hand-written check)
# description: >-
#   The escape hatch of vpc_default_security_group_closed: an aws_default_security_group
#   passes with no inline rules and no rule resources pointing at it; an aws_vpc passes when
#   such a group of this plan manages its default group.
# scope: package
package soc2opa.controls.vpc_default_security_group_closed

import data.soc2opa.lib.check
import data.soc2opa.lib.plan
import data.soc2opa.lib.vpc

_group(g) := {"status": "unknown", "reason": sprintf("%s: %s known only after apply", [g.address, concat(" and ", unknown)])} if {
	unknown := [k | some k in ["ingress", "egress"]; plan.unknown_at(g, [k]); check.configured(g, [k])]
	count(unknown) > 0
} else := {"status": "fail", "reason": sprintf("%s still allows traffic: %s; expected no rules", [g.address, concat(", ", open)])} if {
	open := array.concat(
		[sprintf("%d %s rule(s)", [n, k]) | some k in ["ingress", "egress"]; n := count(plan.list_at(g, [k])); n > 0],
		[sprintf("rule resource %s", [x.address]) | some x in vpc.rule_resources(g)],
	)
	count(open) > 0
} else := {"status": "pass", "reason": sprintf("%s has no rules", [g.address])}

# METADATA
# description: The outcome for one VPC or default security group and the reason for it, together.
result(r) := _group(r) if {
	r.type == "aws_default_security_group"
} else := {"status": "fail", "reason": "the VPC's default security group is not managed in this plan, so it keeps AWS's rules (all traffic between members and all outbound traffic); expected an aws_default_security_group with no rules"} if {
	count(object.get(vpc.default_groups_by_vpc, r.address, [])) == 0
} else := _worst([_group(plan.resources[plan.by_address[a]]) | some a in vpc.default_groups_by_vpc[r.address]])

# Several default groups for one VPC (only in a broken plan) give one outcome, the worst.
_worst(results) := fails[0] if {
	fails := [x | some x in results; x.status == "fail"]
	count(fails) > 0
} else := unknowns[0] if {
	unknowns := [x | some x in results; x.status == "unknown"]
	count(unknowns) > 0
} else := results[0]
