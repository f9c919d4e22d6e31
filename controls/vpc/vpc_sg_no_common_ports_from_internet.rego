# METADATA
# title: Security groups do not open common administrative ports to the internet (hand-written check)
# description: >-
#   The escape hatch of vpc_sg_no_common_ports_from_internet: the ingress rules of all three resource types are read by
#   data.soc2opa.lib.network, which decides whether any opens administrative ports (20, 21, 22, 3306, 3389, 4333) to the internet.
# scope: package
package soc2opa.controls.vpc_sg_no_common_ports_from_internet

import data.soc2opa.lib.network

# METADATA
# description: The outcome for one security group or rule and the reason for it, together.
result(r) := network.result(r, {20, 21, 22, 3306, 3389, 4333}, "administrative ports (20, 21, 22, 3306, 3389, 4333)")
