# METADATA
# title: Tests of the admission decision
# description: fail-on levels, strict mode, waivers (with expiry) and unusable input.
# scope: package
package soc2opa.decision_test

import data.soc2opa

_plan := {"format_version": "1.2", "resource_changes": [
	{"address": "aws_db_instance.a", "mode": "managed", "type": "aws_db_instance", "name": "a", "change": {"actions": ["create"], "after": {"storage_encrypted": false}, "after_unknown": {}}},
	{"address": "aws_db_instance.b", "mode": "managed", "type": "aws_db_instance", "name": "b", "change": {"actions": ["create"], "after": {}, "after_unknown": {"storage_encrypted": true}}},
]}

_with(settings) := object.union(_plan, {"soc2opa": settings})

# The decision is tested over fixed control results, independent of the catalog.
_controls := {"rds_instance_storage_encrypted": {
	"meta": {"custom": {"severity": "high"}},
	"pass": ["aws_db_instance.c"],
	"fail": {"aws_db_instance.a": "storage_encrypted is false; expected true"},
	"unknown": {"aws_db_instance.b": "storage_encrypted is known only after apply"},
}}

test_a_failing_result_denies if {
	d := soc2opa.decision with input as _plan with data.soc2opa.main.controls as _controls
	not d.allow
	d.reasons == ["rds_instance_storage_encrypted [high] aws_db_instance.a: storage_encrypted is false; expected true"]
	d.counts.fail == 1
	d.counts.unknown == 1
	d.counts.blocking == 1
	d.fail_on == "low"
	is_string(d.revision)
}

test_fail_on_above_the_severity_allows if {
	d := soc2opa.decision with input as _with({"fail_on": "critical"}) with data.soc2opa.main.controls as _controls
	d.allow
	d.counts.fail == 1
}

test_fail_on_from_data if {
	d := soc2opa.decision with input as _plan with data.soc2opa.settings as {"fail_on": "critical"} with data.soc2opa.main.controls as _controls
	d.allow
}

test_strict_blocks_unknown if {
	d := soc2opa.decision with input as _with({"strict": true, "waivers": [{"control": "rds_instance_storage_encrypted", "resource": "aws_db_instance.a", "reason": "r", "owner": "o", "expires": "2200-01-01"}]}) with data.soc2opa.main.controls as _controls
	not d.allow
	d.reasons == ["rds_instance_storage_encrypted [high] aws_db_instance.b: storage_encrypted is known only after apply"]
	d.counts.waived == 1
}

test_waivers_from_data_and_globs if {
	d := soc2opa.decision with input as _plan with data.soc2opa_waivers.waivers as [{"control": "rds_instance_storage_encrypted", "resource": "aws_db_instance.*", "reason": "migration", "expires": "2200-01-01"}] with data.soc2opa.main.controls as _controls
	d.allow
	d.counts.waived == 2
}

test_expired_waivers_do_not_count if {
	d := soc2opa.decision with input as _with({"waivers": [{"control": "rds_instance_storage_encrypted", "expires": "2000-01-01"}]}) with data.soc2opa.main.controls as _controls
	not d.allow
	d.counts.waived == 0
}

test_a_waiver_for_another_control_does_not_count if {
	d := soc2opa.decision with input as _with({"waivers": [{"control": "s3_bucket_default_encryption"}]}) with data.soc2opa.main.controls as _controls
	not d.allow
}

test_an_unknown_fail_on_falls_back_to_low if {
	d := soc2opa.decision with input as _with({"fail_on": "bogus"}) with data.soc2opa.main.controls as _controls
	d.fail_on == "low"
}

test_unusable_input_denies if {
	d := soc2opa.decision with input as {"version": 4, "serial": 1, "lineage": "x"} with data.soc2opa.main.controls as _controls
	not d.allow
	startswith(d.reasons[0], "not a plan soc2opa can judge")
}
