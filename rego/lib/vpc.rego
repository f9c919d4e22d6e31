# METADATA
# title: VPC topology read from a plan
# description: >-
#   Which subnets route to an internet gateway, which Elastic IPs sit on an instance, which
#   security group rule resources belong to a group, and which security groups and network
#   ACLs open ports to the internet. Every index is built once per evaluation; the functions
#   only look up.
# scope: package
package soc2opa.lib.vpc

import data.soc2opa.lib.check
import data.soc2opa.lib.config
import data.soc2opa.lib.network
import data.soc2opa.lib.plan
import data.soc2opa.lib.refs

_tables := {"aws_route_table", "aws_default_route_table"}

_rt_ids := refs.identity_index(_tables)

_vpc_ids := refs.identity_index({"aws_vpc"})

_subnet_ids := refs.identity_index({"aws_subnet"})

_igw_ids := refs.identity_index({"aws_internet_gateway"})

_inst_ids := refs.identity_index({"aws_instance"})

_sg_types := {"aws_security_group", "aws_default_security_group"}

_sg_ids := refs.identity_index(_sg_types)

_nacl_ids := refs.identity_index({"aws_network_acl", "aws_default_network_acl"})

_one(xs) := xs[0] if count(xs) > 0

# ---- routes -------------------------------------------------------------------------------

_to_world(e, cidr, _) if object.get(e, cidr, null) == "0.0.0.0/0"

_to_world(e, _, ipv6) if object.get(e, ipv6, null) == "::/0"

# A route to an internet gateway: a known igw- id, or an unknown gateway_id whose
# configuration refers to an aws_internet_gateway.
_igw_route(e, igw_refs) if {
	is_string(e.gateway_id)
	startswith(e.gateway_id, "igw-")
} else if {
	not is_string(object.get(e, "gateway_id", null))
	igw_refs
}

_inline_igw(r) if {
	some e in plan.list_at(r, ["route"])
	_to_world(e, "cidr_block", "ipv6_cidr_block")
	_igw_route(e, count(refs.targets(r, ["route"], {"aws_internet_gateway"}, _igw_ids)) > 0)
}

_route_igw(r) if {
	_to_world(plan.after(r), "destination_cidr_block", "destination_ipv6_cidr_block")
	_igw_route(plan.after(r), count(refs.targets(r, ["gateway_id"], {"aws_internet_gateway"}, _igw_ids)) > 0)
}

# aws_route resources to an internet gateway, by the table (or, for main_route_table_id /
# default_route_table_id references, the VPC) they are added to.
_igw_routes := plan.group({[t.address, r.address] |
	some r in plan.of_types({"aws_route"})
	_route_igw(r)
	some t in refs.targets(r, ["route_table_id"], _tables | {"aws_vpc"}, object.union(_rt_ids, _vpc_ids))
})

# aws_default_route_table by the VPC whose main table it manages.
_default_tables := plan.group({[v.address, d.address] |
	some d in plan.of_types({"aws_default_route_table"})
	some v in refs.targets(d, ["default_route_table_id"], {"aws_vpc"}, _vpc_ids)
})

_main_assoc := plan.group({[v.address, a.address] |
	some a in plan.of_types({"aws_main_route_table_association"})
	some v in refs.targets(a, ["vpc_id"], {"aws_vpc"}, _vpc_ids)
})

_res(addr) := plan.resources[plan.by_address[addr]]

_table_status(t) := "yes" if {
	_inline_igw(t)
} else := "yes" if {
	count(object.get(_igw_routes, t.address, [])) > 0
} else := "unknown" if {
	plan.unknown_at(t, ["route"])
	check.configured(t, ["route"])
} else := "no"

_targets_status(ts) := "yes" if {
	some t in ts
	_table_status(t) == "yes"
} else := "unknown" if {
	some t in ts
	_table_status(t) == "unknown"
} else := "no" if count(ts) > 0

else := "unknown"

# The main route table's status of a VPC in the plan.
_main_status(v) := _targets_status(ts) if {
	# All associations together: one status per association would conflict when there are several.
	assocs := object.get(_main_assoc, v.address, [])
	count(assocs) > 0
	ts := [t | some a in assocs; some t in refs.targets(_res(a), ["route_table_id"], _tables, _rt_ids)]
} else := "yes" if {
	count(object.get(_igw_routes, v.address, [])) > 0
} else := "yes" if {
	some d in object.get(_default_tables, v.address, [])
	_table_status(_res(d)) == "yes"
} else := "no"

_subnet_assoc := plan.group({[s.address, a.address] |
	some a in plan.of_types({"aws_route_table_association"})
	some s in refs.targets(a, ["subnet_id"], {"aws_subnet"}, _subnet_ids)
})

# METADATA
# description: >-
#   Whether a subnet in the plan routes 0.0.0.0/0 (or ::/0) to an internet gateway: "yes",
#   "no", or "unknown" (its route table or VPC is not in the plan, or its routes are known
#   only after apply).
subnet_public(s) := _targets_status(ts) if {
	assocs := object.get(_subnet_assoc, s.address, [])
	count(assocs) > 0
	ts := [t | some a in assocs; some t in refs.targets(_res(a), ["route_table_id"], _tables, _rt_ids)]
} else := _main_status(v) if {
	v := _one(refs.targets(s, ["vpc_id"], {"aws_vpc"}, _vpc_ids))
} else := "unknown"

# METADATA
# description: The subnets in the plan by the address of the VPC they belong to.
subnets_by_vpc := plan.group({[v.address, s.address] |
	some s in plan.of_types({"aws_subnet"})
	some v in refs.targets(s, ["vpc_id"], {"aws_vpc"}, _vpc_ids)
})

# ---- instances ----------------------------------------------------------------------------

_eips := plan.group({[i.address, e.address] |
	some e in plan.of_types({"aws_eip"})
	some i in refs.targets(e, ["instance"], {"aws_instance"}, _inst_ids)
} | {[i.address, e.address] |
	some e in plan.of_types({"aws_eip_association"})
	some i in refs.targets(e, ["instance_id"], {"aws_instance"}, _inst_ids)
})

_configured_or_known(r, path) if check.configured(r, path)

_configured_or_known(r, path) if plan.present(plan.value_or(r, path, null))

# METADATA
# description: >-
#   Whether an instance gets a public IPv4 address, with the reason: {"status": "yes" | "no"
#   | "unknown", "reason"}. An Elastic IP on it, associate_public_ip_address, or the subnet's
#   map_public_ip_on_launch decide; an instance without a subnet lands in the default VPC,
#   whose default subnets assign public addresses.
public_ip(r) := {"status": "yes", "reason": sprintf("Elastic IP %s is attached to it", [concat(", ", eips)])} if {
	eips := object.get(_eips, r.address, [])
	count(eips) > 0
} else := {"status": "no", "reason": "it attaches its own network interfaces"} if {
	count(plan.list_at(r, ["network_interface"])) > 0
} else := {"status": "yes", "reason": "associate_public_ip_address is true"} if {
	not plan.unknown_at(r, ["associate_public_ip_address"])
	plan.value_or(r, ["associate_public_ip_address"], null) == true
} else := {"status": "no", "reason": "associate_public_ip_address is false"} if {
	not plan.unknown_at(r, ["associate_public_ip_address"])
	plan.value_or(r, ["associate_public_ip_address"], null) == false
} else := {"status": "unknown", "reason": "associate_public_ip_address is known only after apply"} if {
	check.configured(r, ["associate_public_ip_address"])
} else := {"status": "unknown", "reason": "it is launched from a launch template, which decides its network settings"} if {
	check.configured(r, ["launch_template"])
} else := _by_subnet(r, s) if {
	s := _one(refs.targets(r, ["subnet_id"], {"aws_subnet"}, _subnet_ids))
} else := {"status": "unknown", "reason": "its subnet is not managed in this plan, so whether it assigns public addresses is not known"} if {
	_configured_or_known(r, ["subnet_id"])
} else := {"status": "unknown", "reason": "subnet_id is known only after apply and the plan carries no configuration to tell whether it is set"} if {
	not config.block(r)
} else := {"status": "yes", "reason": "it sets no subnet, so it is launched into a default subnet of the default VPC, which assigns public addresses"}

_by_subnet(_, s) := {"status": "unknown", "reason": sprintf("map_public_ip_on_launch of %s is known only after apply", [s.address])} if {
	plan.unknown_at(s, ["map_public_ip_on_launch"])
} else := {"status": "yes", "reason": sprintf("its subnet %s has map_public_ip_on_launch = true", [s.address])} if {
	plan.truthy(plan.value_or(s, ["map_public_ip_on_launch"], false))
} else := {"status": "no", "reason": sprintf("its subnet %s does not assign public addresses", [s.address])}

# METADATA
# description: True when the plan carries the resource's configuration block (so "not configured" means unset).
has_config(r) if config.block(r)

# METADATA
# description: The aws_subnet of the plan an instance is launched into, if any.
subnet_of(r) := _one(refs.targets(r, ["subnet_id"], {"aws_subnet"}, _subnet_ids))

# ---- security groups ----------------------------------------------------------------------

_rule_types := {"aws_security_group_rule", "aws_vpc_security_group_ingress_rule"}

_group_rules := plan.group({[g.address, x.address] |
	some x in plan.of_types(_rule_types)
	some g in refs.targets(x, ["security_group_id"], _sg_types, _sg_ids)
})

_sources(g) := array.concat([g], [_res(a) | some a in object.get(_group_rules, g.address, [])])

_rules_of(x) := network.inline_rules(x) if x.type in _sg_types

else := network.rules(x)

# METADATA
# description: >-
#   Whether a security group (its inline rules and the rule resources that point at it) lets
#   the internet reach one of ports: {"status": "fail" | "unknown" | "pass", "reason"}.
group_exposure(g, ports, what) := {"status": "fail", "reason": sprintf("%s: %s, which opens %s to the internet", [g.address, concat("; ", bad), what])} if {
	bad := [_where(x, network.describe(rule)) |
		some x in _sources(g)
		some rule in _rules_of(x)
		network.known(x, rule)
		network.exposes(rule, ports)
	]
	count(bad) > 0
} else := {"status": "unknown", "reason": sprintf("%s: a rule is known only after apply, so whether it opens %s to the internet is not known", [g.address, what])} if {
	some x in _sources(g)
	some rule in _rules_of(x)
	network.maybe_exposes(x, rule, ports)
} else := {"status": "unknown", "reason": sprintf("%s: ingress is known only after apply", [g.address])} if {
	plan.unknown_at(g, ["ingress"])
	check.configured(g, ["ingress"])
} else := {"status": "pass", "reason": sprintf("%s opens none of %s to the internet", [g.address, what])}

_where(x, text) := text if x.type in _sg_types

else := sprintf("%s %s", [x.address, text])

# METADATA
# description: The security groups of the plan an attribute of r points at.
groups_of(r, path) := refs.targets(r, path, _sg_types, _sg_ids)

# METADATA
# description: >-
#   True when the attribute also names security groups this plan does not manage (literal ids
#   of existing groups, or values known only after apply that point at no group of the plan).
unresolved(r, path) if _unresolved(r, path, groups_of(r, path))

_unresolved(r, path, gs) if {
	vs := plan.value_or(r, path, [])
	is_array(vs)
	count(vs) > count(gs)
}

_unresolved(r, path, gs) if {
	plan.unknown_at(r, path)
	check.configured(r, path)
	count(gs) == 0
}

# ---- network ACLs -------------------------------------------------------------------------

_acl_rules := plan.group({[n.address, x.address] |
	some x in plan.of_types({"aws_network_acl_rule"})
	some n in refs.targets(x, ["network_acl_id"], {"aws_network_acl", "aws_default_network_acl"}, _nacl_ids)
})

_acl_entries(x) := [_entry(x, ["ingress", i], "rule_no", "action", sprintf("%s ingress rule %v", [x.address, e.rule_no])) |
	some i, e in plan.list_at(x, ["ingress"])
] if {
	x.type in {"aws_network_acl", "aws_default_network_acl"}
} else := [_entry(x, [], "rule_number", "rule_action", sprintf("%s (rule %v)", [x.address, plan.value_or(x, ["rule_number"], "?")]))] if {
	not plan.truthy(plan.value_or(x, ["egress"], false))
} else := []

_entry(x, base, number_key, action_key, label) := {
	"label": label,
	"paths": [array.concat(base, [k]) | some k in ["cidr_block", "ipv6_cidr_block", "protocol", "from_port", "to_port", number_key, action_key]],
	"number": object.get(plan.after(x), array.concat(base, [number_key]), null),
	"action": lower(sprintf("%v", [object.get(plan.after(x), array.concat(base, [action_key]), "")])),
	"protocol": lower(sprintf("%v", [object.get(plan.after(x), array.concat(base, ["protocol"]), "")])),
	"from": object.get(plan.after(x), array.concat(base, ["from_port"]), null),
	"to": object.get(plan.after(x), array.concat(base, ["to_port"]), null),
	"cidrs": {c | some k in ["cidr_block", "ipv6_cidr_block"]; c := object.get(plan.after(x), array.concat(base, [k]), null); is_string(c)},
	"x": x.address,
}

_entry_unknown(e) if {
	x := _res(e.x)
	some p in e.paths
	plan.unknown_at(x, p)
}

_acl_covers(e, _) if e.protocol in {"-1", "all"}

_acl_covers(e, p) if {
	e.protocol in {"6", "tcp"}
	e.from <= p
	p <= e.to
}

# The entries that decide whether the internet (source world) reaches port p: entries for
# that source covering p, of which the lowest rule number wins.
_deciding(entries, world, p) := sorted[0] if {
	sorted := sort([[e.number, e] | some e in entries; not _entry_unknown(e); world in e.cidrs; _acl_covers(e, p)])
	count(sorted) > 0
}

_acl_all_entries(n) := [e | some x in array.concat([n], [_res(a) | some a in object.get(_acl_rules, n.address, [])]); some e in _acl_entries(x)]

_nacl_of(r) := n if {
	r.type == "aws_network_acl_rule"
	n := _one(refs.targets(r, ["network_acl_id"], {"aws_network_acl", "aws_default_network_acl"}, _nacl_ids))
}

else := r

# METADATA
# description: >-
#   Whether a network ACL, or the ACL an aws_network_acl_rule belongs to, lets the internet
#   (0.0.0.0/0 or ::/0) reach one of ports: the lowest-numbered entry for that source that
#   covers the port decides. An aws_network_acl_rule is judged on its own entries only when it
#   opens the port itself. {"status", "reason"}.
acl_exposure(r, ports, what) := {"status": "fail", "reason": concat("; ", hits)} if {
	entries := _acl_all_entries(_nacl_of(r))
	hits := [sprintf("%s allows port %v from %s, which opens %s to the internet", [d[1].label, p, world, what]) |
		some p in sort(ports)
		some world in ["0.0.0.0/0", "::/0"]
		d := _deciding(entries, world, p)
		d[1].action == "allow"
		_mine(r, d[1])
	]
	count(hits) > 0
} else := {"status": "unknown", "reason": sprintf("%s is known only after apply, so whether it opens %s to the internet is not known", [concat(", ", unknown), what])} if {
	unknown := [e.label | some e in _acl_all_entries(_nacl_of(r)); _entry_unknown(e); _mine(r, e)]
	count(unknown) > 0
} else := {"status": "unknown", "reason": "ingress is known only after apply"} if {
	plan.unknown_at(r, ["ingress"])
	check.configured(r, ["ingress"])
} else := {"status": "pass", "reason": sprintf("no ingress entry opens %s to the internet", [what])}

# A rule resource answers for its own entries; an ACL for all of them.
_mine(r, _) if r.type != "aws_network_acl_rule"

_mine(r, e) if e.x == r.address

# METADATA
# description: The aws_security_group_rule and aws_vpc_security_group_ingress_rule resources that point at group g.
rule_resources(g) := [_res(a) | some a in object.get(_group_rules, g.address, [])]

# METADATA
# description: The aws_default_security_group resources of the plan by the address of their VPC.
default_groups_by_vpc := plan.group({[v.address, g.address] |
	some g in plan.of_types({"aws_default_security_group"})
	some v in refs.targets(g, ["vpc_id"], {"aws_vpc"}, _vpc_ids)
})
