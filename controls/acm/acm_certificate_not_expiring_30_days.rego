# METADATA
# title: ACM certificate expiry (hand-written check)
# description: >-
#   The escape hatch of acm_certificate_not_expiring_30_days: parses an imported certificate's
#   PEM body to read its expiry date, and trusts ACM to renew Amazon-issued certificates
#   validated through DNS. soc2opa build copies the rules below the imports into the generated
#   package rego/controls/acm/acm_certificate_not_expiring_30_days.rego.
# scope: package
package soc2opa.controls.acm_certificate_not_expiring_30_days

import data.soc2opa.lib.plan

_day_ns := 86400000000000

_window_ns := 30 * _day_ns

# METADATA
# description: The outcome for one certificate and the reason for it, together.
result(r) := _result("unknown", "certificate_body is known only after apply, so its expiry date cannot be read") if {
	plan.unknown_at(r, ["certificate_body"])
} else := _result(_expiry_status(t), _expiry_reason("the imported certificate", t)) if {
	_imported(r)
	t := _body_not_after(r)
} else := _result("unknown", "certificate_body is not a PEM certificate that can be parsed, so its expiry date cannot be read") if {
	_imported(r)
} else := _result(_expiry_status(t), _expiry_reason("the certificate in state", t)) if {
	t := _state_not_after(r)
} else := _result("unknown", "validation_method is known only after apply") if {
	plan.unknown_at(r, ["validation_method"])
} else := _result("unknown", "certificate_authority_arn is known only after apply") if {
	plan.unknown_at(r, ["certificate_authority_arn"])
} else := _result("pass", "an Amazon-issued certificate validated through DNS, which ACM renews automatically") if {
	_amazon_dns(r)
} else := _result("unknown", "a private CA certificate; whether it is renewed in time depends on the CA and cannot be read from the plan") if {
	plan.present(plan.value_or(r, ["certificate_authority_arn"], null))
} else := _result("unknown", sprintf("an Amazon-issued certificate with validation_method %s is only renewed after someone acts on the validation request, which the plan cannot show", [plan.show(r, ["validation_method"], null)]))

_result(status, reason) := {"status": status, "reason": reason}

# An imported certificate has a body; the private key is never read.
_imported(r) if plan.present(plan.value_or(r, ["certificate_body"], null))

_amazon_dns(r) if {
	plan.value_or(r, ["validation_method"], "") == "DNS"
	not plan.present(plan.value_or(r, ["certificate_authority_arn"], null))
}

# The leaf certificate comes first in the body.
_body_not_after(r) := time.parse_rfc3339_ns(cert.NotAfter) if {
	body := plan.value_or(r, ["certificate_body"], "")
	is_string(body)
	contains(body, "-----BEGIN CERTIFICATE-----")
	cert := crypto.x509.parse_certificates(body)[0]
}

# not_after is computed: known only for a certificate that already exists.
_state_not_after(r) := time.parse_rfc3339_ns(v) if {
	not plan.unknown_at(r, ["not_after"])
	v := plan.value_or(r, ["not_after"], "")
	is_string(v)
	v != ""
}

_expiry_status(t) := "pass" if {
	t - time.now_ns() > _window_ns
} else := "fail"

_expiry_reason(what, t) := sprintf("%s expired on %s", [what, _date(t)]) if {
	t <= time.now_ns()
} else := sprintf("%s expires on %s, in %d days; it must stay valid for more than 30 days", [what, _date(t), _days_left(t)]) if {
	t - time.now_ns() <= _window_ns
} else := sprintf("%s expires on %s, more than 30 days from now", [what, _date(t)])

_date(t) := sprintf("%04d-%02d-%02d", time.date(t))

_days_left(t) := floor((t - time.now_ns()) / _day_ns)
