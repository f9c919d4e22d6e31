# METADATA
# title: Network ACLs do not admit SSH or RDP from the internet (hand-written check)
# description: >-
#   The escape hatch of vpc_nacl_no_admin_ports_from_internet: data.soc2opa.lib.vpc reads the
#   inline entries and the aws_network_acl_rule resources of each ACL and lets the
#   lowest-numbered entry for the internet decide, as AWS does.
# scope: package
package soc2opa.controls.vpc_nacl_no_admin_ports_from_internet

import data.soc2opa.lib.vpc

# METADATA
# description: The outcome for one network ACL or ACL rule and the reason for it, together.
result(r) := vpc.acl_exposure(r, {22, 3389}, "SSH (22) or RDP (3389)")
