# METADATA
# title: What the configuration declares
# description: >-
#   Reads the plan's configuration block of a judged resource: which provider configuration
#   the resource uses (to find the account-level default, such as EBS encryption by default,
#   that applies to it). Whether an attribute is written at all is check.undeclared.
# scope: package
package soc2opa.lib.config

import data.soc2opa.lib.plan
import data.soc2opa.lib.refs

# METADATA
# description: The configuration block of a resource; undefined when the plan carries none.
block(r) := refs.block(r)

# METADATA
# description: >-
#   The provider configuration a resource uses, as Terraform resolved it ("aws", "aws.west");
#   undefined when the plan carries no configuration for it.
provider_key(r) := block(r).provider_config_key

# METADATA
# description: >-
#   Addresses of the given resources indexed by the provider configuration they use, for
#   account- or region-level defaults.
by_provider(rs) := plan.group([[k, d.address] | some d in rs; k := provider_key(d)])

# METADATA
# description: >-
#   Outcome of a node whose unknown is settled by an account-level default: pass when the node
#   is unknown and some default resource for the same provider configuration passes.
resolved(status, r, defaults) := "pass" if {
	status == "unknown"
	count(object.get(defaults, provider_key(r), [])) > 0
} else := status

# METADATA
# description: >-
#   The note on a pass that rests on an account-level default (label names it), given the
#   reasons the node alone is unknown; [] when the default did not decide.
note(status, r, defaults, label, unknown_reasons) := [sprintf("%s, but %s is on for this provider configuration (%s in this plan)", [plan.reasons(unknown_reasons), label, concat(", ", object.get(defaults, provider_key(r), []))])] if {
	status == "unknown"
	count(object.get(defaults, provider_key(r), [])) > 0
} else := []

# METADATA
# description: The reasons of a node whose unknown an account-level default could have settled.
why_resolved(status, want, inner_reasons, label) := [] if {
	status != want
} else := array.concat(inner_reasons, [sprintf("this plan does not turn on %s for this resource's provider configuration", [label])]) if {
	status == "unknown"
} else := inner_reasons
