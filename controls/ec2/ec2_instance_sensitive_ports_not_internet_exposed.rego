# METADATA
# title: Internet-reachable instances expose no administration or database ports (hand-written check)
# description: >-
#   The escape hatch of ec2_instance_sensitive_ports_not_internet_exposed: an instance with a
#   public address (data.soc2opa.lib.vpc) fails when one of its security groups, with the rule
#   resources that point at it, opens one of the ports to 0.0.0.0/0 or ::/0. An instance that
#   names no security group is in its VPC's default group, judged by that group's rules when the
#   plan manages it (aws_default_security_group of the instance's subnet's VPC).
# scope: package
package soc2opa.controls.ec2_instance_sensitive_ports_not_internet_exposed

import data.soc2opa.lib.check
import data.soc2opa.lib.plan
import data.soc2opa.lib.refs
import data.soc2opa.lib.vpc

_ports := {20, 21, 22, 23, 88, 389, 445, 636, 1433, 1434, 1521, 2483, 2484, 3306, 3389, 5432, 5601, 6379, 7000, 7001, 7199, 8888, 9042, 9092, 9160, 9200, 9300, 11211, 27017, 27018}

_what := "a remote administration, file sharing, directory or database port"

_groups(r) := gs if {
	gs := [g | some path in [["vpc_security_group_ids"], ["security_groups"]]; some g in vpc.groups_of(r, path)]
	count(gs) > 0
} else := [_default_group(r)] if {
	_no_groups(r)
	not _other_sources(r)
} else := []

_vpc_ids := refs.identity_index({"aws_vpc"})

# The plan's aws_default_security_group of the VPC the instance's subnet belongs to.
_default_group(r) := plan.resources[ids[0]] if {
	vpcs := {v.address | some v in refs.targets(vpc.subnet_of(r), ["vpc_id"], {"aws_vpc"}, _vpc_ids)}
	ids := [i | some a in vpcs; some i in object.get(_defaults_by_vpc, a, [])]
	count(ids) == 1
}

# Each default security group under the address of every VPC it points at, built once: asked
# per instance, the groups were otherwise searched once per instance (quadratic in large plans).
_defaults_by_vpc := plan.group([[v.address, i] |
	some i in object.get(plan.by_type, "aws_default_security_group", [])
	some v in refs.targets(plan.resources[i], ["vpc_id"], {"aws_vpc"}, _vpc_ids)
])

_other_sources(r) if count(plan.list_at(r, ["network_interface"])) + count(plan.list_at(r, ["launch_template"])) > 0

_unresolved(r) if {
	some path in [["vpc_security_group_ids"], ["security_groups"]]
	vpc.unresolved(r, path)
}

_exposures(r) := [vpc.group_exposure(g, _ports, _what) | some g in _groups(r)]

_no_groups(r) if {
	vpc.has_config(r)
	every path in [["vpc_security_group_ids"], ["security_groups"]] {
		not check.configured(r, path)
		not plan.present(plan.value_or(r, path, null))
	}
}

_private_subnet(r) if vpc.subnet_public(vpc.subnet_of(r)) == "no"

# METADATA
# description: The outcome for one instance and the reason for it, together.
result(r) := {"status": "pass", "reason": sprintf("the instance has no public IPv4 address (%s)", [p.reason])} if {
	p := vpc.public_ip(r)
	p.status == "no"
} else := {"status": "pass", "reason": "the instance's subnet has no route to an internet gateway"} if {
	_private_subnet(r)
} else := {"status": "fail", "reason": sprintf("the instance is reachable from the internet (%s) and %s", [p.reason, concat("; ", bad)])} if {
	p := vpc.public_ip(r)
	p.status == "yes"
	bad := [e.reason | some e in _exposures(r); e.status == "fail"]
	count(bad) > 0
} else := {"status": "unknown", "reason": sprintf("%s; whether the instance has a public address is not known (%s)", [concat("; ", bad), p.reason])} if {
	p := vpc.public_ip(r)
	bad := [e.reason | some e in _exposures(r); e.status == "fail"]
	count(bad) > 0
} else := {"status": "unknown", "reason": concat("; ", unknown)} if {
	unknown := [e.reason | some e in _exposures(r); e.status == "unknown"]
	count(unknown) > 0
} else := {"status": "unknown", "reason": "a security group of the instance is not managed in this plan, so its rules cannot be read"} if {
	_unresolved(r)
} else := {"status": "unknown", "reason": "the instance's security groups are known only after apply and the plan carries no configuration to read them from"} if {
	not vpc.has_config(r)
	count(_groups(r)) == 0
} else := {"status": "unknown", "reason": "the instance's security groups come from its network interfaces or launch template, which this check does not read"} if {
	_no_groups(r)
	_other_sources(r)
} else := {"status": "pass", "reason": "the instance uses its VPC's default security group, which admits only members of the group"} if {
	_no_groups(r)
	not _default_group(r)
} else := {"status": "pass", "reason": sprintf("no security group of the instance opens %s to the internet", [_what])}
