# METADATA
# title: Admission decision
# description: >-
#   One yes/no answer for a pipeline or an OPA server sidecar: data.soc2opa.decision is
#   {allow, reasons, counts, revision, fail_on}. Failing results at or above fail_on block
#   (unknown ones too when strict); a waiver that matches the control and resource and has not
#   expired lifts a result. Settings and waivers come from input.soc2opa (per request) or
#   data.soc2opa.settings and data.soc2opa.waivers (built into the bundle or loaded with -d).
# scope: package
package soc2opa

import data.soc2opa.build
import data.soc2opa.main

_severities := ["low", "medium", "high", "critical"]

_settings := object.union(_data_settings, object.get(input, ["soc2opa"], {}))

_data_settings := data.soc2opa.settings if is_object(data.soc2opa.settings)

else := {}

_fail_on := l if {
	l := _settings.fail_on
	l in _severities
} else := "low"

_strict if _settings.strict == true

else := false

_rank(severity) := i if _severities[i] == severity

_waivers := array.concat(_data_waivers, _input_waivers)

_data_waivers := data.soc2opa.waivers if is_array(data.soc2opa.waivers)

else := []

_input_waivers := input.soc2opa.waivers if is_array(input.soc2opa.waivers)

else := []

_active(w) if not w.expires

# A waiver is valid through its expiry date (UTC), as soc2opa/waivers.py reads it.
_active(w) if time.parse_ns("2006-01-02", w.expires) + (((24 * 60) * 60) * 1000000000) > time.now_ns()

_waived(id, address) if {
	some w in _waivers
	_covers(w.control, id)
	_covers(object.get(w, "resource", "*"), address)
	_active(w)
}

_covers(pattern, address) if pattern == address

_covers(pattern, address) if glob.match(pattern, [], address)

_results contains [status, id, address, why, d.meta.custom.severity] if {
	some id, d in main.controls
	some status in ["fail", "unknown"]
	some address, why in d[status]
}

_blocks(status, severity) if {
	status == "fail"
	_rank(severity) >= _rank(_fail_on)
}

_blocks("unknown", severity) if {
	_strict
	_rank(severity) >= _rank(_fail_on)
}

_blocking contains sprintf("%s [%s] %s: %s", [id, severity, address, why]) if {
	some [status, id, address, why, severity] in _results
	_blocks(status, severity)
	not _waived(id, address)
}

_blocking contains sprintf("not a plan soc2opa can judge: %s", [p]) if some p in main.problems

_waived_count := count([1 |
	some [_, id, address, _, _] in _results
	_waived(id, address)
])

# METADATA
# description: Whether the plan may go ahead, why not, how many results of each kind, and the bundle revision.
decision := {
	"allow": count(_blocking) == 0,
	"reasons": sort(_blocking),
	"counts": {
		"fail": count([1 | some r in _results; r[0] == "fail"]),
		"unknown": count([1 | some r in _results; r[0] == "unknown"]),
		"pass": sum([count(d.pass) | some d in main.controls]),
		"waived": _waived_count,
		"blocking": count(_blocking),
	},
	"revision": build.revision,
	"fail_on": _fail_on,
	"strict": _strict,
}
