# METADATA
# title: ECS container log configuration (hand-written check)
# description: >-
#   The escape hatch of ecs_task_definition_logging: decodes container_definitions (a JSON
#   list) and requires every container to name a logConfiguration.logDriver. Only container
#   names are shown, never the definitions, which can hold environment values. soc2opa build
#   copies the rules below the imports into the generated package.
# scope: package
package soc2opa.controls.ecs_task_definition_logging

import data.soc2opa.lib.plan

# METADATA
# description: The outcome for one task definition and the reason for it, together.
result(r) := _result("unknown", "container_definitions is known only after apply") if {
	plan.unknown_at(r, ["container_definitions"])
} else := _result("fail", "container_definitions is not a JSON list of containers") if {
	not _containers(r)
} else := _result("fail", sprintf("containers without a log driver (logConfiguration.logDriver): %s", [concat(", ", _unlogged(r))])) if {
	count(_unlogged(r)) > 0
} else := _result("pass", sprintf("all %d container(s) name a log driver", [count(_containers(r))]))

_containers(r) := cs if {
	raw := plan.value_or(r, ["container_definitions"], "")
	is_string(raw)
	json.is_valid(raw)
	cs := json.unmarshal(raw)
	is_array(cs)
	count(cs) > 0
	every c in cs {
		is_object(c)
	}
}

_unlogged(r) := [_label(i, c) |
	some i, c in _containers(r)
	not _logged(c)
]

_logged(c) if {
	driver := object.get(c, ["logConfiguration", "logDriver"], null)
	is_string(driver)
	driver != ""
}

_label(i, c) := json.marshal(c.name) if {
	is_string(c.name)
	count(c.name) <= 64
} else := sprintf("container %d", [i])

_result(status, reason) := {"status": status, "reason": reason}
