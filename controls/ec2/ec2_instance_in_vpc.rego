# METADATA
# title: EC2 instances run in a chosen VPC subnet (hand-written check)
# description: >-
#   The escape hatch of ec2_instance_in_vpc: an instance passes when its configuration or
#   planned values name a subnet or attach network interfaces.
# scope: package
package soc2opa.controls.ec2_instance_in_vpc

import data.soc2opa.lib.check
import data.soc2opa.lib.plan
import data.soc2opa.lib.vpc

# METADATA
# description: The outcome for one instance and the reason for it, together.
result(r) := {"status": "pass", "reason": "the instance names its subnet"} if {
	plan.present(plan.value_or(r, ["subnet_id"], null))
} else := {"status": "pass", "reason": "the instance names its subnet"} if {
	check.configured(r, ["subnet_id"])
} else := {"status": "pass", "reason": "the instance attaches network interfaces of a VPC"} if {
	count(plan.list_at(r, ["network_interface"])) > 0
} else := {"status": "unknown", "reason": "the instance is launched from a launch template, which may name its subnet"} if {
	check.configured(r, ["launch_template"])
} else := {"status": "unknown", "reason": "subnet_id is known only after apply and the plan carries no configuration to tell whether it is set"} if {
	not vpc.has_config(r)
} else := {"status": "fail", "reason": "subnet_id is not set, so the instance is launched into a default subnet of the account's default VPC; expected a subnet of a VPC you manage"}
