# METADATA
# title: WAFv2 rule metrics (hand-written check)
# description: >-
#   The escape hatch of wafv2_rule_metrics_enabled: the web ACL's or rule group's own
#   visibility_config and that of every rule must publish CloudWatch metrics, whether the rules
#   are written as rule blocks or as the JSON string rule_json (decoded here). soc2opa build
#   copies the rules below the imports into the generated package.
# scope: package
package soc2opa.controls.wafv2_rule_metrics_enabled

import data.soc2opa.lib.plan

_own := ["visibility_config", 0, "cloudwatch_metrics_enabled"]

# METADATA
# description: The outcome for one web ACL or rule group and the reason for it, together.
result(r) := _result("unknown", "visibility_config.cloudwatch_metrics_enabled is known only after apply") if {
	plan.unknown_at(r, _own)
} else := _result("fail", "the default visibility_config does not publish CloudWatch metrics (cloudwatch_metrics_enabled is false)") if {
	not plan.truthy(plan.value_or(r, _own, false))
} else := _result("fail", sprintf("rules without CloudWatch metrics: %s", [concat(", ", _off(r))])) if {
	count(_off(r)) > 0
} else := _result("unknown", "the rules (rule blocks or rule_json) are known only after apply") if {
	_rules_unknown(r)
} else := _result("fail", "rule_json is not a JSON list of rules") if {
	_json_invalid(r)
} else := _result("pass", sprintf("the web ACL and its %d rule(s) publish CloudWatch metrics", [_rule_count(r)]))

_rules_unknown(r) if plan.unknown_at(r, ["rule"])

_rules_unknown(r) if plan.unknown_at(r, ["rule_json"])

_rules_unknown(r) if {
	some i, _ in plan.list_at(r, ["rule"])
	plan.unknown_at(r, ["rule", i, "visibility_config", 0, "cloudwatch_metrics_enabled"])
}

_off(r) := array.concat(
	[sprintf("rule %s", [plan.show(r, ["rule", i, "name"], null)]) |
		some i, _ in plan.list_at(r, ["rule"])
		not plan.unknown_at(r, ["rule", i, "visibility_config", 0, "cloudwatch_metrics_enabled"])
		not plan.truthy(plan.value_or(r, ["rule", i, "visibility_config", 0, "cloudwatch_metrics_enabled"], false))
	],
	[sprintf("rule_json rule %s", [json.marshal(object.get(rule, "Name", i))]) |
		some i, rule in _json_rules(r)
		object.get(rule, ["VisibilityConfig", "CloudWatchMetricsEnabled"], false) != true
	],
)

_json_rules(r) := rules if {
	not plan.unknown_at(r, ["rule_json"])
	raw := plan.value_or(r, ["rule_json"], "")
	is_string(raw)
	json.is_valid(raw)
	rules := json.unmarshal(raw)
	is_array(rules)
	every rule in rules {
		is_object(rule)
	}
} else := []

_json_invalid(r) if {
	not plan.unknown_at(r, ["rule_json"])
	plan.present(plan.value_or(r, ["rule_json"], null))
	count(_json_rules(r)) == 0
	plan.value_or(r, ["rule_json"], null) != "[]"
}

_rule_count(r) := count(plan.list_at(r, ["rule"])) + count(_json_rules(r))

_result(status, reason) := {"status": status, "reason": reason}
