# METADATA
# title: Tests of the findings package
# description: violations for failing results, warnings for unknown ones, a violation for unusable input.
# scope: package
package soc2opa.conftest_test

import data.soc2opa.conftest

_plan := {"format_version": "1.2", "resource_changes": [
	{"address": "aws_db_instance.a", "mode": "managed", "type": "aws_db_instance", "name": "a", "change": {"actions": ["create"], "after": {"storage_encrypted": false}, "after_unknown": {}}},
	{"address": "aws_db_instance.b", "mode": "managed", "type": "aws_db_instance", "name": "b", "change": {"actions": ["create"], "after": {}, "after_unknown": {"storage_encrypted": true}}},
]}

test_failures_are_violations_and_unknowns_warnings if {
	# Other controls judge aws_db_instance too, so this control's findings are picked out.
	[v] := [v | some v in conftest.violations; v.control_id == "rds_instance_storage_encrypted"] with input as _plan
	v.msg == "rds_instance_storage_encrypted [high] aws_db_instance.a: storage_encrypted is false; expected true"
	v.severity == "high"
	"CC6.1" in v.criteria
	v.resource == "aws_db_instance.a"
	contains(v.remediation, "storage_encrypted")
	ws := {w.msg | some w in conftest.warnings; w.control_id == "rds_instance_storage_encrypted"} with input as _plan
	ws == {"rds_instance_storage_encrypted [high] aws_db_instance.b: storage_encrypted is known only after apply"}
}

test_problems_are_violations if {
	some v in conftest.violations with input as {"version": 4, "serial": 1, "lineage": "x"}
	startswith(v.msg, "not a plan soc2opa can judge: this is a Terraform state file")
	v.control_id == "input"
}

_waivers := {"waivers": [
	{"control": "rds_instance_storage_*", "resource": "aws_db_instance.a", "reason": "migration", "owner": "dba", "expires": "2200-01-01"},
	{"control": "rds_instance_storage_encrypted", "resource": "aws_db_instance.b", "reason": "old", "owner": "dba", "expires": "2001-01-01"},
]}

test_waived_failures_are_warnings_that_name_the_waiver if {
	vs := conftest.violations with input as _plan with data.soc2opa_waivers as _waivers
	ws := conftest.warnings with input as _plan with data.soc2opa_waivers as _waivers
	[v | some v in vs; v.control_id == "rds_instance_storage_encrypted"] == []
	[w] := [w | some w in ws; w.control_id == "rds_instance_storage_encrypted"; w.waived]
	w.waived_status == "fail"
	w.waiver.owner == "dba"
	w.msg == "rds_instance_storage_encrypted [waived fail until 2200-01-01 by dba: migration] aws_db_instance.a: storage_encrypted is false; expected true"

	# The expired waiver leaves b's unknown an ordinary warning.
	{w.resource | some w in ws; w.control_id == "rds_instance_storage_encrypted"; not w.waived} == {"aws_db_instance.b"}
}
