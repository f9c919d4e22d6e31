# METADATA
# title: Conftest and platform findings
# description: >-
#   The findings every gate reads, one object per failing or unknown (control, resource) pair,
#   with the control id, criteria, severity and remediation next to the message. The Conftest
#   target's package main turns them into deny and warn; the Spacelift, Terraform Cloud and
#   Scalr adapters into their message strings. Named violations and warnings (not deny/warn) so
#   that conftest --all-namespaces reports each finding once. A result a live waiver covers
#   (data.soc2opa_waivers, loaded with --data) is not a violation: it is a warning that says it
#   is waived, by whom and until when, so Conftest agrees with soc2opa eval --waivers.
# scope: package
package soc2opa.conftest

import data.soc2opa.main
import data.soc2opa.waivers

# METADATA
# description: One finding per failing result; an unusable input is one finding too.
violations contains _finding(id, d, address, why) if {
	some id, d in main.controls
	some address, why in d.fail
	not waivers.applies(id, address)
}

violations contains {
	"msg": sprintf("not a plan soc2opa can judge: %s", [p]),
	"control_id": "input",
	"criteria": [],
	"severity": "critical",
	"resource": "",
	"remediation": "Run terraform show -json on a saved plan (terraform plan -out tfplan).",
} if {
	some p in main.problems
}

# METADATA
# description: One finding per result that stays unknown until apply.
warnings contains _finding(id, d, address, why) if {
	some id, d in main.controls
	some address, why in d.unknown
	not waivers.applies(id, address)
}

# METADATA
# description: >-
#   One warning per waived fail or unknown result, naming the waiver; the result keeps its
#   status (waived_status) and the waiver's reason, owner, ticket and expiry.
warnings contains object.union(_finding(id, d, address, why), {
	"msg": sprintf("%s [waived %s until %s by %s: %s] %s: %s", [id, status, w.expires, object.get(w, "owner", "(no owner)"), object.get(w, "reason", "(no reason)"), address, why]),
	"waived": true,
	"waived_status": status,
	"waiver": {k: v | some k in ["reason", "owner", "ticket", "expires", "index"]; v := object.get(w, k, null)},
}) if {
	some id, d in main.controls
	some status in ["fail", "unknown"]
	some address, why in object.get(d, status, {})
	w := waivers.waived[id][address]
}

_finding(id, d, address, why) := {
	"msg": sprintf("%s [%s] %s: %s", [id, d.meta.custom.severity, address, why]),
	"control_id": id,
	"title": d.meta.title,
	"criteria": d.meta.custom.criteria,
	"severity": d.meta.custom.severity,
	"resource": address,
	"remediation": d.meta.custom.remediation.text,
}
