# METADATA
# title: DMS task source capture and unload logging (hand-written check)
# description: >-
#   The escape hatch of dms_replication_task_source_logging: decodes the JSON task settings and looks for
#   Logging.EnableLogging and the SOURCE_CAPTURE and SOURCE_UNLOAD log components. soc2opa build copies the
#   rules below the imports into the generated package rego/controls/dms/dms_replication_task_source_logging.rego.
# scope: package
package soc2opa.controls.dms_replication_task_source_logging

import data.soc2opa.lib.plan

_required := {"SOURCE_CAPTURE", "SOURCE_UNLOAD"}

_levels := {"LOGGER_SEVERITY_DEFAULT", "LOGGER_SEVERITY_DEBUG", "LOGGER_SEVERITY_DETAILED_DEBUG"}

_text(r) := plan.value_or(r, ["replication_task_settings"], null)

_settings(r) := s if {
	s := json.unmarshal(_text(r))
	is_object(s)
} else := {}

_logging(r) := l if {
	l := _settings(r).Logging
	is_object(l)
} else := {}

_logged(r, id) if {
	some c in object.get(_logging(r), "LogComponents", [])
	is_object(c)
	c.Id == id
	c.Severity in _levels
}

_missing(r) := sort([id | some id in _required; not _logged(r, id)])

# METADATA
# description: The outcome for one replication task and the reason for it, together.
result(r) := _result("unknown", "replication_task_settings is known only after apply") if {
	plan.unknown_at(r, ["replication_task_settings"])
} else := _result("unknown", "replication_task_settings is not set, so the task's logging is decided by DMS") if {
	not is_string(_text(r))
} else := _result("fail", "replication_task_settings is not valid JSON") if {
	not json.is_valid(_text(r))
} else := _result("fail", "replication_task_settings does not set Logging.EnableLogging to true") if {
	object.get(_logging(r), "EnableLogging", false) != true
} else := _result("fail", sprintf("replication_task_settings does not log %s at LOGGER_SEVERITY_DEFAULT or above", [concat(" and ", _missing(r))])) if {
	count(_missing(r)) > 0
} else := _result("pass", sprintf("replication_task_settings logs %s", [concat(" and ", sort(_required))]))

_result(status, reason) := {"status": status, "reason": reason}
