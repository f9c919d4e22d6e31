# METADATA
# title: VPCs record flow logs (hand-written check)
# description: >-
#   The escape hatch of vpc_flow_logs_enabled: flow logs are indexed once by the VPC their
#   vpc_id points at. A flow log whose vpc_id is known only after apply in a plan without
#   configuration references cannot be placed, so it makes a VPC without a flow log unknown
#   rather than failed.
# scope: package
package soc2opa.controls.vpc_flow_logs_enabled

import data.soc2opa.lib.plan
import data.soc2opa.lib.refs

_ids := refs.identity_index({"aws_vpc"})

_logs := plan.group({[t.address, fl.address] |
	some fl in plan.of_types({"aws_flow_log"})
	some t in refs.targets(fl, ["vpc_id"], {"aws_vpc"}, _ids)
})

_unplaced := [fl.address |
	some fl in plan.of_types({"aws_flow_log"})
	plan.unknown_at(fl, ["vpc_id"])
	refs.expressions(fl) == {}
]

_good(fl) if plan.value_or(fl, ["traffic_type"], "") in {"ALL", "REJECT"}

_logs_of(r) := [plan.resources[plan.by_address[a]] | some a in object.get(_logs, r.address, [])]

# METADATA
# description: The outcome for one VPC and the reason for it, together.
result(r) := {"status": "pass", "reason": "a flow log records its traffic"} if {
	some fl in _logs_of(r)
	_good(fl)
} else := {"status": "unknown", "reason": sprintf("traffic_type of %s is known only after apply", [concat(", ", unknown)])} if {
	unknown := [fl.address | some fl in _logs_of(r); plan.unknown_at(fl, ["traffic_type"])]
	count(unknown) > 0
} else := {"status": "fail", "reason": sprintf("the flow logs of this VPC record accepted traffic only (%s); expected ALL or REJECT", [concat(", ", shown)])} if {
	shown := [sprintf("%s: traffic_type %s", [fl.address, plan.show(fl, ["traffic_type"], null)]) | some fl in _logs_of(r)]
	count(shown) > 0
} else := {"status": "unknown", "reason": sprintf("no aws_flow_log in this plan is known to record this VPC's traffic, and the vpc_id of %s is known only after apply with no configuration references to place it", [concat(", ", _unplaced)])} if {
	count(_unplaced) > 0
} else := {"status": "fail", "reason": "no aws_flow_log in this plan records this VPC's traffic"}
