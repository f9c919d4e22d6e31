# METADATA
# title: Tests of the dms_replication_task_target_logging escape hatch
# description: Settings that Terraform cannot plan (invalid JSON, no settings at all).
# scope: package
package soc2opa.controls.dms_replication_task_target_logging_rules_test

import data.soc2opa.controls.dms_replication_task_target_logging as c

_task(after) := {"address": "aws_dms_replication_task.t", "change": {"actions": ["create"], "after": after, "after_unknown": {}}}

test_invalid_json_fails if {
	c.result(_task({"replication_task_settings": "{Logging: on}"})).status == "fail"
}

test_no_settings_is_unknown if {
	c.result(_task({})).status == "unknown"
}

test_settings_that_are_not_an_object_fail if {
	c.result(_task({"replication_task_settings": "[1]"})).reason == "replication_task_settings does not set Logging.EnableLogging to true"
}
