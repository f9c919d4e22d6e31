# METADATA
# title: KMS key replacement (hand-written check)
# description: >-
#   The escape hatch of kms_key_not_pending_deletion: a plan that replaces a key destroys the
#   old one, and destroying a KMS key schedules its deletion. The check language reads only
#   planned values, not the planned actions. soc2opa build copies the rules below the imports
#   into the generated package rego/controls/kms/kms_key_not_pending_deletion.rego.
# scope: package
package soc2opa.controls.kms_key_not_pending_deletion

# METADATA
# description: Fails a key the plan replaces; passes any other key.
result(r) := {"status": "fail", "reason": "the plan replaces this key, which schedules the old key for deletion"} if {
	"delete" in r.change.actions
} else := {"status": "pass", "reason": "the plan does not replace this key"}
