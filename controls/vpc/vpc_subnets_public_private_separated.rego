# METADATA
# title: VPCs separate public and private subnets (hand-written check)
# description: >-
#   The escape hatch of vpc_subnets_public_private_separated: each subnet of the VPC is public
#   when its route table (its association, else the VPC's main table) sends 0.0.0.0/0 or ::/0
#   to an internet gateway (data.soc2opa.lib.vpc).
# scope: package
package soc2opa.controls.vpc_subnets_public_private_separated

import data.soc2opa.lib.plan
import data.soc2opa.lib.vpc

_statuses(r) := [vpc.subnet_public(plan.resources[plan.by_address[a]]) | some a in object.get(vpc.subnets_by_vpc, r.address, [])]

_n(r, s) := count([x | some x in _statuses(r); x == s])

# METADATA
# description: The outcome for one VPC and the reason for it, together.
result(r) := {"status": "unknown", "reason": "no subnet of this VPC is declared in this plan"} if {
	count(_statuses(r)) == 0
} else := {"status": "pass", "reason": sprintf("%d public and %d private subnet(s)", [_n(r, "yes"), _n(r, "no")])} if {
	_n(r, "yes") > 0
	_n(r, "no") > 0
} else := {"status": "unknown", "reason": sprintf("whether %d subnet(s) route to an internet gateway is known only after apply or depends on route tables outside this plan", [_n(r, "unknown")])} if {
	_n(r, "unknown") > 0
} else := {"status": "fail", "reason": sprintf("all %d subnet(s) of this VPC route to an internet gateway; expected private subnets for workloads that need no inbound internet access", [_n(r, "yes")])} if {
	_n(r, "yes") > 0
} else := {"status": "fail", "reason": sprintf("none of the %d subnet(s) of this VPC routes to an internet gateway; expected a public tier (load balancers, NAT) separate from the private subnets", [_n(r, "no")])}
