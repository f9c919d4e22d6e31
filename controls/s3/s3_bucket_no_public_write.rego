# METADATA
# title: Public write access to S3 buckets (hand-written check)
# description: >-
#   The escape hatch of s3_bucket_no_public_write: a bucket is public when any ACL, grant or
#   policy in the plan opens it and no public access block stops it, which the check language
#   cannot say (it needs "no related resource"). The logic is shared with the other access
#   kind in rego/lib/s3_public.rego.
# scope: package
package soc2opa.controls.s3_bucket_no_public_write

import data.soc2opa.lib.s3_public

# METADATA
# description: The outcome for one bucket and the reason for it, together.
result(r) := s3_public.result(r, "write")
