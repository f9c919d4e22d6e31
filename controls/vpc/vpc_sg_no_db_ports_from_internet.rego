# METADATA
# title: Security groups do not expose database, cache or search ports to the internet (hand-written check)
# description: >-
#   The escape hatch of vpc_sg_no_db_ports_from_internet: the ingress rules of all three resource types are read by
#   data.soc2opa.lib.network, which decides whether any opens database, cache and search ports to the internet.
# scope: package
package soc2opa.controls.vpc_sg_no_db_ports_from_internet

import data.soc2opa.lib.network

# METADATA
# description: The outcome for one security group or rule and the reason for it, together.
result(r) := network.result(r, {1433, 1434, 1521, 2483, 3306, 5432, 6379, 7199, 8888, 9042, 9092, 9160, 9200, 9300, 5601, 11211, 27017, 27018}, "database, cache and search ports")
