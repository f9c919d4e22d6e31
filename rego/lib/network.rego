# METADATA
# title: Security group ingress rules from the internet
# description: >-
#   The ingress rules of the three ways Terraform writes them (inline ingress blocks of
#   aws_security_group, aws_security_group_rule of type ingress, and
#   aws_vpc_security_group_ingress_rule), read into one shape, and the outcome of "no rule opens
#   these ports to 0.0.0.0/0 or ::/0". Controls call result(r, ports, what) from a .rego file.
# scope: package
package soc2opa.lib.network

import data.soc2opa.lib.check
import data.soc2opa.lib.plan

_world := {"0.0.0.0/0", "::/0"}

_all_protocols := {"-1", "all"}

_port_protocols := {"tcp", "6", "udp", "17"}

_tcp := {"tcp", "6"}

# METADATA
# description: >-
#   The resource's ingress rules as {label, paths, cidrs, protocol, from, to}; paths are the
#   attribute paths a rule reads, so an unknown one makes the rule unknown.
rules(r) := [_inline(r, i) | some i, _ in plan.list_at(r, ["ingress"])] if {
	r.type == "aws_security_group"
} else := [_rule(r, "", ["cidr_blocks", "ipv6_cidr_blocks"], "protocol")] if {
	r.type == "aws_security_group_rule"
	plan.value_or(r, ["type"], "") == "ingress"
} else := [_rule(r, "", ["cidr_ipv4", "cidr_ipv6"], "ip_protocol")] if {
	r.type == "aws_vpc_security_group_ingress_rule"
} else := []

_inline(r, i) := object.union(
	_rule_at(r, ["ingress", i], ["cidr_blocks", "ipv6_cidr_blocks"], "protocol"),
	{"label": sprintf("ingress[%d]", [i])},
)

_rule(r, label, cidr_keys, protocol_key) := object.union(
	_rule_at(r, [], cidr_keys, protocol_key),
	{"label": label},
)

_rule_at(r, base, cidr_keys, protocol_key) := {
	"paths": [array.concat(base, [k]) | some k in array.concat(cidr_keys, [protocol_key, "from_port", "to_port"])],
	"cidrs": {c | some k in cidr_keys; some c in _strings(plan.value_or(r, array.concat(base, [k]), null))},
	"protocol": lower(sprintf("%v", [plan.value_or(r, array.concat(base, [protocol_key]), "")])),
	"from": plan.value_or(r, array.concat(base, ["from_port"]), null),
	"to": plan.value_or(r, array.concat(base, ["to_port"]), null),
}

_strings(v) := {x | some x in v; is_string(x)} if is_array(v)

else := {v} if is_string(v)

else := set()

_covers_maybe(x, ports) if _covers(x.rule, ports)

_covers_maybe(x, _) if x.ports

# METADATA
# description: >-
#   Whether the rule lets the internet reach one of ports ("all" for every port and protocol).
exposes(rule, ports) if {
	some c in rule.cidrs
	c in _world
	_covers(rule, ports)
}

_covers(rule, _) if rule.protocol in _all_protocols

_covers(rule, "all") if {
	rule.protocol in _port_protocols
	rule.from <= 0
	rule.to >= 65535
}

_covers(rule, ports) if {
	is_set(ports)
	rule.protocol in _tcp
	some p in ports
	rule.from <= p
	p <= rule.to
}

_describe(rule) := sprintf("%s allows protocol %s ports %v-%v from %s", [
	_name(rule),
	rule.protocol,
	rule.from,
	rule.to,
	concat(", ", sort([c | some c in rule.cidrs; c in _world])),
])

_name(rule) := rule.label if rule.label != ""

else := "the rule"

# Several controls judge the same groups with different ports: each group's rules are read,
# and their unknown parts found, once per evaluation.
_sg_types := {"aws_security_group", "aws_security_group_rule", "aws_vpc_security_group_ingress_rule"}

# Keyed by address and deposed key: a deposed object shares its address with the current one.
_read := {_key(r): [_with_unknowns(r, rule) | some rule in rules(r)] | some r in plan.of_types(_sg_types)}

_key(r) := [r.address, object.get(r, "deposed", "")]

_with_unknowns(r, rule) := {
	"rule": rule,
	"unknown": _unknown(r, rule),
	"world": _from_world_maybe(r, rule),
	"ports": _ports_unknown(r, rule),
}

_ports_unknown(r, rule) if {
	some p in rule.paths
	p[count(p) - 1] in {"protocol", "ip_protocol", "from_port", "to_port"}
	plan.unknown_at(r, p)
} else := false

_unknown(r, rule) if {
	some p in rule.paths
	plan.unknown_at(r, p)
} else := false

_from_world_maybe(r, rule) if {
	some c in rule.cidrs
	c in _world
} else if {
	some p in rule.paths
	p[count(p) - 1] in {"cidr_blocks", "ipv6_cidr_blocks", "cidr_ipv4", "cidr_ipv6"}
	plan.unknown_at(r, p)
} else := false

# For callers holding a raw rule (maybe_exposes): what is known of an unknown rule could still
# expose the ports.
_maybe(r, rule, ports) if {
	_from_world_maybe(r, rule)
	_covers_maybe_raw(r, rule, ports)
}

_covers_maybe_raw(_, rule, ports) if _covers(rule, ports)

_covers_maybe_raw(r, rule, _) if _ports_unknown(r, rule)

_read_rules(r) := read if {
	read := _read[_key(r)]
} else := [_with_unknowns(r, rule) | some rule in rules(r)]

# METADATA
# description: >-
#   The outcome for one resource: fail when a known rule exposes the ports, unknown when a rule
#   (or the whole inline list, when the configuration sets it) is known only after apply.
result(r, ports, what) := {"status": "fail", "reason": sprintf("%s, which opens %s to the internet", [concat("; ", bad), what])} if {
	bad := [_describe(x.rule) | some x in _read_rules(r); not x.unknown; exposes(x.rule, ports)]
	count(bad) > 0
} else := {"status": "unknown", "reason": sprintf("%s is known only after apply, so whether it opens %s to the internet is not known", [concat(", ", unknown), what])} if {
	unknown := [_name(x.rule) | some x in _read_rules(r); x.unknown; x.world; _covers_maybe(x, ports)]
	count(unknown) > 0
} else := {"status": "unknown", "reason": "ingress is known only after apply"} if {
	r.type == "aws_security_group"
	plan.unknown_at(r, ["ingress"])
	check.configured(r, ["ingress"])
} else := {"status": "pass", "reason": sprintf("no ingress rule opens %s to the internet", [what])}

# METADATA
# description: >-
#   The inline ingress rules of aws_security_group or aws_default_security_group (whose
#   ingress has the same shape), for controls that read a group's rules beside its rule resources.
inline_rules(r) := [_inline(r, i) | some i, _ in plan.list_at(r, ["ingress"])]

# METADATA
# description: How a rule reads in a message (its label, protocol, ports and internet sources).
describe(rule) := _describe(rule)

# METADATA
# description: True when a rule of r is known only after apply and could still expose ports.
maybe_exposes(r, rule, ports) if {
	_unknown(r, rule)
	_maybe(r, rule, ports)
}

# METADATA
# description: True when every attribute a rule of r reads is known.
known(r, rule) if not _unknown(r, rule)
