# METADATA
# title: EC2 instance settings that depend on other resources
# description: >-
#   The instance metadata (IMDSv2) outcome of an instance or launch template, settled by the
#   account default (aws_ec2_instance_metadata_defaults) when the resource leaves the setting
#   out. The defaults are indexed once per evaluation.
# scope: package
package soc2opa.lib.ec2

import data.soc2opa.lib.check
import data.soc2opa.lib.config
import data.soc2opa.lib.plan

_tokens := ["metadata_options", 0, "http_tokens"]

_endpoint := ["metadata_options", 0, "http_endpoint"]

# Account defaults that require tokens, by provider configuration.
_imds_defaults := config.by_provider([d |
	some d in plan.of_types({"aws_ec2_instance_metadata_defaults"})
	not plan.unknown_at(d, ["http_tokens"])
	plan.value_or(d, ["http_tokens"], "") == "required"
])

_known(r, path, v) if {
	not plan.unknown_at(r, path)
	plan.value_or(r, path, null) == v
}

_unset(r, path) if {
	plan.unknown_at(r, path)
	not check.configured(r, path)
}

_unset(r, path) if {
	not plan.unknown_at(r, path)
	plan.value_or(r, path, null) == null
}

_from_template(r) if {
	r.type == "aws_instance"
	check.configured(r, ["launch_template"])
}

# METADATA
# description: >-
#   The IMDSv2 outcome of an aws_instance or aws_launch_template with its reason: tokens
#   required or the endpoint off passes; an unset http_tokens passes only when this plan's
#   account default for the same provider configuration requires tokens.
imds(r) := {"status": "pass", "reason": "http_tokens is \"required\""} if {
	_known(r, _tokens, "required")
} else := {"status": "pass", "reason": "the metadata endpoint is disabled"} if {
	_known(r, _endpoint, "disabled")
} else := {"status": "unknown", "reason": "metadata_options[0].http_tokens is known only after apply"} if {
	plan.unknown_at(r, _tokens)
	check.configured(r, _tokens)
} else := {"status": "fail", "reason": sprintf("metadata_options[0].http_tokens is %s; expected \"required\" (or http_endpoint \"disabled\")", [plan.show(r, _tokens, null)])} if {
	not _unset(r, _tokens)
} else := {"status": "unknown", "reason": "http_tokens is not set here, so it comes from the launch template the instance names"} if {
	_from_template(r)
} else := {"status": "pass", "reason": sprintf("http_tokens is not set, but the account default requires tokens (%s in this plan)", [concat(", ", ds)])} if {
	ds := object.get(_imds_defaults, config.provider_key(r), [])
	count(ds) > 0
} else := {"status": "fail", "reason": "metadata_options[0].http_tokens is not set in the configuration, so the AMI's or the region's default applies (\"optional\" for most AMIs), and no aws_ec2_instance_metadata_defaults in this plan requires tokens for this provider configuration; expected \"required\""}
