# METADATA
# title: EC2 instances get no public IPv4 address (hand-written check)
# description: >-
#   The escape hatch of ec2_instance_no_public_ip: data.soc2opa.lib.vpc decides from the
#   instance, its subnet and the Elastic IPs that point at it.
# scope: package
package soc2opa.controls.ec2_instance_no_public_ip

import data.soc2opa.lib.vpc

# METADATA
# description: The outcome for one instance and the reason for it, together.
result(r) := {"status": "fail", "reason": sprintf("the instance gets a public IPv4 address: %s", [p.reason])} if {
	p := vpc.public_ip(r)
	p.status == "yes"
} else := {"status": "unknown", "reason": sprintf("whether the instance gets a public IPv4 address is not known: %s", [p.reason])} if {
	p := vpc.public_ip(r)
	p.status == "unknown"
} else := {"status": "pass", "reason": vpc.public_ip(r).reason}
