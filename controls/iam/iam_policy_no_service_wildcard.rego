# METADATA
# title: Service-wide action wildcards on every resource (hand-written check)
# description: >-
#   The escape hatch of iam_policy_no_service_wildcard: an Allow statement whose Action holds
#   "service:*" and whose Resource is "*" fails. The check language's policy node matches
#   actions against a fixed list and ignores Resource; this needs the opposite (any service,
#   Resource "*"). soc2opa build copies the rules below the imports into the generated package.
# scope: package
package soc2opa.controls.iam_policy_no_service_wildcard

import data.soc2opa.lib.policy

_service_wildcard := `^[A-Za-z0-9-]+:\*$`

# METADATA
# description: The outcome for one resource and the reason for it, together.
result(r) := _result("unknown", "policy is known only after apply") if {
	policy.document(r, ["policy"]).state == "unknown"
} else := _result("fail", sprintf("policy %s", [policy.document(r, ["policy"]).problem])) if {
	policy.document(r, ["policy"]).state == "invalid"
} else := _result("pass", "policy is not set") if {
	policy.document(r, ["policy"]).state == "absent"
} else := _result("fail", concat("; ", _offending(policy.document(r, ["policy"]).statements))) if {
	count(_offending(policy.document(r, ["policy"]).statements)) > 0
} else := _result("pass", "no statement allows a whole service on every resource")

_offending(statements) := [sprintf("statement %d%s allows %s on every resource", [i, _sid(s), concat(", ", _wildcards(s))]) |
	some i, s in statements
	s.Effect == "Allow"
	_every_resource(s)
	count(_wildcards(s)) > 0
]

_wildcards(s) := [a |
	some a in _list(s.Action)
	is_string(a)
	regex.match(_service_wildcard, a)
]

_every_resource(s) if "*" in _list(s.Resource)

_sid(s) := sprintf(" (Sid %s)", [json.marshal(s.Sid)]) if {
	is_string(s.Sid)
	s.Sid != ""
	count(s.Sid) <= 64
} else := ""

_list(x) := [x] if is_string(x)

else := x if is_array(x)

else := []

_result(status, reason) := {"status": status, "reason": reason}
