# METADATA
# title: Tests of the ACM expiry rules
# description: Unit tests of acm_certificate_not_expiring_30_days.rego where it lives (make rego-check runs them).
# scope: package
package soc2opa.controls.acm_certificate_not_expiring_30_days_rules_test

import data.soc2opa.controls.acm_certificate_not_expiring_30_days as rules

_cert(after, unknown) := {"change": {"actions": ["create"], "after": after, "after_unknown": unknown, "after_sensitive": {}}}

test_dns_validated_amazon_certificate_passes if {
	rules.result(_cert({"validation_method": "DNS"}, {})).status == "pass"
}

test_unknown_body_is_unknown_with_one_reason if {
	rules.result(_cert({}, {"certificate_body": true})) == {
		"status": "unknown",
		"reason": "certificate_body is known only after apply, so its expiry date cannot be read",
	}
}

test_state_expiry_in_the_past_fails if {
	r := rules.result(_cert({"validation_method": "EMAIL", "not_after": "2020-01-02T00:00:00Z"}, {}))
	r.status == "fail"
	r.reason == "the certificate in state expired on 2020-01-02"
}

test_email_validation_needs_evidence if {
	r := rules.result(_cert({"validation_method": "EMAIL"}, {"not_after": true}))
	r.status == "unknown"
	contains(r.reason, `validation_method "EMAIL"`)
}
