# METADATA
# title: Conftest entry point
# description: >-
#   Lets Conftest use the soc2opa bundle as it is: every failing (control, resource) pair is a
#   deny, every pair unknown until apply a warn. Use: extract the bundle into a folder and run
#   conftest test plan.json --policy FOLDER --namespace soc2opa.conftest
# scope: package
package soc2opa.conftest

import data.soc2opa.main

# METADATA
# description: One message per failing result, naming the control, severity and resource.
deny contains msg if {
	some id, d in main.controls
	some address, why in d.fail
	msg := sprintf("%s [%s] %s: %s", [id, d.meta.custom.severity, address, why])
}

deny contains sprintf("not a plan soc2opa can judge: %s", [p]) if some p in main.problems

# METADATA
# description: One message per result that stays unknown until apply.
warn contains msg if {
	some id, d in main.controls
	some address, why in d.unknown
	msg := sprintf("%s [%s] %s: %s", [id, d.meta.custom.severity, address, why])
}
