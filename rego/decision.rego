# METADATA
# title: Admission decision
# description: >-
#   One yes/no answer for a pipeline or an OPA server sidecar: data.soc2opa.decision is
#   {allow, reasons, counts, revision, fail_on}. Failing results at or above fail_on block
#   (unknown ones too when strict); a waiver that matches the control and resource and has not
#   expired lifts a result (matched by soc2opa.waivers). Settings come from input.soc2opa (per
#   request) or data.soc2opa.settings; waivers from input.soc2opa.waivers (per request) or
#   data.soc2opa_waivers.waivers (loaded with -d; see docs/waivers.md).
# scope: package
package soc2opa

import data.soc2opa.build
import data.soc2opa.main
import data.soc2opa.waivers

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

# Waivers are matched by the soc2opa.waivers package (globs and expiry as the CLI applies them).
_waived(id, address) if waivers.applies(id, address)

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
