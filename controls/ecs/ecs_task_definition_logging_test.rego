# METADATA
# title: Tests of the ECS log configuration rules
# description: Unit tests of ecs_task_definition_logging.rego where it lives (make rego-check runs them).
# scope: package
package soc2opa.controls.ecs_task_definition_logging_rules_test

import data.soc2opa.controls.ecs_task_definition_logging as rules

_td(defs) := {
	"address": "aws_ecs_task_definition.x", "mode": "managed", "type": "aws_ecs_task_definition", "name": "x",
	"change": {"actions": ["create"], "after": {"container_definitions": defs}, "after_unknown": {}, "after_sensitive": {}},
}

test_invalid_json_fails if {
	r := rules.result(_td("[{"))
	r.status == "fail"
	contains(r.reason, "not a JSON list")
}

test_unnamed_container_is_numbered if {
	r := rules.result(_td(json.marshal([{"image": "nginx", "environment": [{"name": "TOKEN", "value": "s3cr3t"}]}])))
	r.status == "fail"
	contains(r.reason, "container 0")
	not contains(r.reason, "s3cr3t")
}

test_empty_driver_fails if {
	rules.result(_td(json.marshal([{"name": "app", "logConfiguration": {"logDriver": ""}}]))).status == "fail"
}
