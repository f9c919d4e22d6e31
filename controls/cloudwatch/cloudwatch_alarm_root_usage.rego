# METADATA
# title: CIS alarm chain for root user activity
# description: >-
#   The escape hatch of cloudwatch_alarm_root_usage: the chain trail -> log group -> metric filter -> alarm -> SNS
#   topic is decided once in rego/lib/monitoring.rego; this file names the CIS pattern.
# scope: package
package soc2opa.controls.cloudwatch_alarm_root_usage

import data.soc2opa.lib.monitoring

# METADATA
# description: The outcome for one trail and the reason for it, together.
result(r) := monitoring.chain(r, "root_usage")
