# METADATA
# title: CIS alarm chain for failed console sign-ins
# description: >-
#   The escape hatch of cloudwatch_alarm_console_auth_failures: the chain trail -> log group -> metric filter -> alarm -> SNS
#   topic is decided once in rego/lib/monitoring.rego; this file names the CIS pattern.
# scope: package
package soc2opa.controls.cloudwatch_alarm_console_auth_failures

import data.soc2opa.lib.monitoring

# METADATA
# description: The outcome for one trail and the reason for it, together.
result(r) := monitoring.chain(r, "console_auth_failures")
