# METADATA
# title: IMDSv2 required (hand-written check)
# description: >-
#   The escape hatch of ec2_instance_imdsv2_required: data.soc2opa.lib.ec2 reads metadata_options and, when
#   http_tokens is left out, the account default aws_ec2_instance_metadata_defaults.
# scope: package
package soc2opa.controls.ec2_instance_imdsv2_required

import data.soc2opa.lib.ec2

# METADATA
# description: The outcome for one resource and the reason for it, together.
result(r) := ec2.imds(r)
