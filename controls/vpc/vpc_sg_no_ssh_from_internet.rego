# METADATA
# title: Security groups do not open SSH to the internet (hand-written check)
# description: >-
#   The escape hatch of vpc_sg_no_ssh_from_internet: the ingress rules of all three resource types are read by
#   data.soc2opa.lib.network, which decides whether any opens SSH (port 22) to the internet.
# scope: package
package soc2opa.controls.vpc_sg_no_ssh_from_internet

import data.soc2opa.lib.network

# METADATA
# description: The outcome for one security group or rule and the reason for it, together.
result(r) := network.result(r, {22}, "SSH (port 22)")
