# METADATA
# title: CIS alarm chain for CloudTrail configuration changes
# description: >-
#   The escape hatch of cloudwatch_alarm_cloudtrail_config_changes: the chain trail -> log group -> metric filter -> alarm -> SNS
#   topic is decided once in rego/lib/monitoring.rego; this file names the CIS pattern.
# scope: package
package soc2opa.controls.cloudwatch_alarm_cloudtrail_config_changes

import data.soc2opa.lib.monitoring

# METADATA
# description: The outcome for one trail and the reason for it, together.
result(r) := monitoring.chain(r, "cloudtrail_config_changes")
