# METADATA
# title: CIS alarm chain for network ACL changes
# description: >-
#   The escape hatch of cloudwatch_alarm_nacl_changes: the chain trail -> log group -> metric filter -> alarm -> SNS
#   topic is decided once in rego/lib/monitoring.rego; this file names the CIS pattern.
# scope: package
package soc2opa.controls.cloudwatch_alarm_nacl_changes

import data.soc2opa.lib.monitoring

# METADATA
# description: The outcome for one trail and the reason for it, together.
result(r) := monitoring.chain(r, "nacl_changes")
