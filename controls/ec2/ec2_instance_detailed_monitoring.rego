# METADATA
# title: EC2 instances and launch templates turn on detailed monitoring (hand-written check)
# description: >-
#   The escape hatch of ec2_instance_detailed_monitoring: aws_instance keeps the setting in the
#   attribute monitoring, aws_launch_template in the block monitoring[0].enabled.
# scope: package
package soc2opa.controls.ec2_instance_detailed_monitoring

import data.soc2opa.lib.check
import data.soc2opa.lib.plan

_path(r) := ["monitoring"] if r.type == "aws_instance"

else := ["monitoring", 0, "enabled"]

_label(r) := "monitoring" if r.type == "aws_instance"

else := "monitoring[0].enabled"

# METADATA
# description: The outcome for one instance or launch template and the reason for it, together.
result(r) := {"status": "unknown", "reason": sprintf("%s is known only after apply", [_label(r)])} if {
	plan.unknown_at(r, _path(r))
	check.configured(r, _path(r))
} else := {"status": "pass", "reason": "detailed monitoring is on"} if {
	not plan.unknown_at(r, _path(r))
	plan.truthy(plan.value_or(r, _path(r), false))
} else := {"status": "fail", "reason": sprintf("%s is not set in the configuration, so AWS uses basic (five-minute) monitoring; expected true", [_label(r)])} if {
	plan.value_or(r, _path(r), null) == null
} else := {"status": "fail", "reason": sprintf("%s is %s; expected true", [_label(r), plan.show(r, _path(r), null)])}
