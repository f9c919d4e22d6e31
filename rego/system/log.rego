# METADATA
# title: Decision log mask
# description: >-
#   An OPA server that serves this bundle with decision logging on would otherwise log every
#   plan it judges, sensitive values included. This mask replaces the logged input with its
#   SHA-256 digest, so a log can still show which plan was judged without holding it.
# scope: package
package system.log

# METADATA
# description: Replace /input of every decision log entry by a digest of it.
mask contains {"op": "upsert", "path": "/input", "value": masked} if {
	"input" in object.keys(input)
	masked := {"soc2opa_masked": true, "sha256": crypto.sha256(json.marshal(input.input))}
}
