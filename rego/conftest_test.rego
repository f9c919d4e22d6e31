# METADATA
# title: Tests of the Conftest entry point
# description: deny for failing results, warn for unknown ones, deny for unusable input.
# scope: package
package soc2opa.conftest_test

import data.soc2opa.conftest

_plan := {"format_version": "1.2", "resource_changes": [
	{"address": "aws_db_instance.a", "mode": "managed", "type": "aws_db_instance", "name": "a", "change": {"actions": ["create"], "after": {"storage_encrypted": false}, "after_unknown": {}}},
	{"address": "aws_db_instance.b", "mode": "managed", "type": "aws_db_instance", "name": "b", "change": {"actions": ["create"], "after": {}, "after_unknown": {"storage_encrypted": true}}},
]}

test_failures_deny_and_unknowns_warn if {
	# Other controls judge aws_db_instance too, so membership is asserted for this one.
	"rds_instance_storage_encrypted [high] aws_db_instance.a: storage_encrypted is false; expected true" in conftest.deny with input as _plan
	"rds_instance_storage_encrypted [high] aws_db_instance.b: storage_encrypted is known only after apply" in conftest.warn with input as _plan
	not "rds_instance_storage_encrypted [high] aws_db_instance.b: storage_encrypted is known only after apply" in conftest.deny with input as _plan
}

test_problems_deny if {
	some m in conftest.deny with input as {"version": 4, "serial": 1, "lineage": "x"}
	startswith(m, "not a plan soc2opa can judge: this is a Terraform state file")
}
