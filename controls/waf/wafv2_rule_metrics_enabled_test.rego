# METADATA
# title: Tests of the WAFv2 rule metrics rules
# description: Unit tests of wafv2_rule_metrics_enabled.rego where it lives (make rego-check runs them).
# scope: package
package soc2opa.controls.wafv2_rule_metrics_enabled_rules_test

import data.soc2opa.controls.wafv2_rule_metrics_enabled as rules

_acl(after, unknown) := {
	"address": "aws_wafv2_web_acl.x", "mode": "managed", "type": "aws_wafv2_web_acl", "name": "x",
	"change": {"actions": ["create"], "after": after, "after_unknown": unknown, "after_sensitive": {}},
}

_vc(on) := [{"cloudwatch_metrics_enabled": on, "metric_name": "m", "sampled_requests_enabled": true}]

test_rule_json_without_metrics_fails if {
	doc := json.marshal([{"Name": "rate", "VisibilityConfig": {"CloudWatchMetricsEnabled": false}}])
	r := rules.result(_acl({"visibility_config": _vc(true), "rule": [], "rule_json": doc}, {}))
	r.status == "fail"
	r.reason == `rules without CloudWatch metrics: rule_json rule "rate"`
}

test_rule_json_with_metrics_passes if {
	doc := json.marshal([{"Name": "rate", "VisibilityConfig": {"CloudWatchMetricsEnabled": true}}])
	rules.result(_acl({"visibility_config": _vc(true), "rule": [], "rule_json": doc}, {})).status == "pass"
}

test_invalid_rule_json_fails if {
	r := rules.result(_acl({"visibility_config": _vc(true), "rule": [], "rule_json": "{"}, {}))
	r.status == "fail"
	contains(r.reason, "not a JSON list")
}

test_unknown_rule_json_is_unknown if {
	rules.result(_acl({"visibility_config": _vc(true), "rule": []}, {"rule_json": true})).status == "unknown"
}
