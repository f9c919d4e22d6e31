# METADATA
# title: Tests of the CIS alarm chain library
# description: >-
#   Pattern tokenising and matching (CIS patterns pass in their published forms, missing,
#   negated, narrowed and AND-joined alternatives fail), and the trail -> log group -> filter
#   -> alarm -> SNS chain through references, literal names and unknown values.
# scope: package
package soc2opa.lib.monitoring_test

import data.soc2opa.lib.monitoring
import data.soc2opa.lib.plan

_nacl := `{ ($.eventName = CreateNetworkAcl) || ($.eventName = CreateNetworkAclEntry) || ($.eventName = DeleteNetworkAcl) || ($.eventName = DeleteNetworkAclEntry) || ($.eventName = ReplaceNetworkAclEntry) || ($.eventName = ReplaceNetworkAclAssociation) }`

test_cis_patterns_match if {
	monitoring.matches("nacl_changes", _nacl)
	monitoring.matches("unauthorized_api_calls", `{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }`)
	monitoring.matches("unauthorized_api_calls", `{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") && ($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket") }`)
	monitoring.matches("root_usage", `{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }`)
	monitoring.matches("root_usage", `{$.userIdentity.type="Root"}`)
	monitoring.matches("console_auth_failures", `{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }`)
	monitoring.matches("config_changes", `{($.eventSource=config.amazonaws.com)&&(($.eventName=StopConfigurationRecorder)||($.eventName=DeleteDeliveryChannel)||($.eventName=PutDeliveryChannel)||($.eventName=PutConfigurationRecorder))}`)
}

test_whitespace_quotes_and_order_do_not_matter if {
	monitoring.matches("cloudtrail_config_changes", "{\n  ($.eventName = \"StopLogging\") ||\n  ($.eventName = DeleteTrail) || ($.eventName=UpdateTrail)\n  || ($.eventName = CreateTrail) || ($.eventName = StartLogging)\n}")
}

test_wider_patterns_match if {
	# more event names in the same || group, and an allowed eventSource context
	monitoring.matches("nacl_changes", `{ ($.eventSource = ec2.amazonaws.com) && (($.eventName = CreateNetworkAcl) || ($.eventName = CreateNetworkAclEntry) || ($.eventName = DeleteNetworkAcl) || ($.eventName = DeleteNetworkAclEntry) || ($.eventName = ReplaceNetworkAclEntry) || ($.eventName = ReplaceNetworkAclAssociation) || ($.eventName = CreateVpc)) }`)

	# any positive condition is fine in a pure || pattern
	monitoring.matches("cloudtrail_config_changes", `{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) || ($.eventName = StartLogging) || ($.eventName = StopLogging) || ($.errorCode = "AccessDenied") }`)
}

test_missing_event_fails if {
	gaps := monitoring.gaps(monitoring.specs.nacl_changes, monitoring.tokens(`{ ($.eventName = CreateNetworkAcl) || ($.eventName = DeleteNetworkAcl) }`))
	"no eventName = ReplaceNetworkAclEntry condition" in gaps
	not monitoring.matches("nacl_changes", `{ ($.eventName = CreateNetworkAcl) }`)
	not monitoring.matches("nacl_changes", "")
	not monitoring.matches("nacl_changes", null)
}

test_anded_alternatives_fail if {
	gaps := monitoring.gaps(monitoring.specs.nacl_changes, monitoring.tokens(replace(_nacl, "CreateNetworkAcl) ||", "CreateNetworkAcl) &&")))
	gaps == ["eventName = CreateNetworkAcl and eventName = CreateNetworkAclEntry are joined by &&"]
	not monitoring.matches("config_changes", `{ ($.eventSource = config.amazonaws.com) && (($.eventName = StopConfigurationRecorder) || ($.eventName = DeleteDeliveryChannel)) && (($.eventName = PutDeliveryChannel) || ($.eventName = PutConfigurationRecorder)) }`)
}

test_narrowing_and_negation_fail if {
	gaps := monitoring.gaps(monitoring.specs.nacl_changes, monitoring.tokens(concat("", [`{ ($.userIdentity.arn = "arn:aws:iam::1:user/x") && `, _nacl, " }"])))
	gaps == ["the condition userIdentity.arn = arn:aws:iam::1:user/x may narrow the filter"]
	not monitoring.matches("root_usage", `{ $.userIdentity.type = "Root" && $.sourceIPAddress > 10 }`)
	not monitoring.matches("root_usage", `{ $.userIdentity.type = "Root" && $.userIdentity.type NOT EXISTS }`)
	not monitoring.matches("console_auth_failures", `{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") && ($.eventName != ConsoleLogin) }`)
}

test_tokens_carry_depth if {
	toks := monitoring.tokens(`{ ($.a = "x y") && (($.b != 1) || $.c NOT EXISTS) }`)
	[t.kind | some t in toks] == ["(", "atom", ")", "&&", "(", "(", "atom", ")", "||", "atom", ")"]
	toks[1] == {"kind": "atom", "field": "a", "op": "=", "value": "x y", "depth": 1}
	toks[6].depth == 2
	toks[9] == {"kind": "atom", "field": "c", "op": "NOT EXISTS", "value": "", "depth": 1}
}

# --- chains -----------------------------------------------------------------

_rc(address, type, after, unknown) := {
	"address": address, "mode": "managed", "type": type, "name": split(address, ".")[1],
	"change": {"actions": ["create"], "after": after, "after_unknown": unknown},
}

_cfg(address, expressions) := {"address": address, "mode": "managed", "type": split(address, ".")[0], "name": split(address, ".")[1], "expressions": expressions}

_ref(a) := {"references": [a, concat(".", array.slice(split(a, "."), 0, 2))]}

_trail(after, unknown) := _rc("aws_cloudtrail.main", "aws_cloudtrail", object.union({"name": "main", "s3_bucket_name": "b", "is_multi_region_trail": true}, after), unknown)

_filter(after, unknown) := _rc("aws_cloudwatch_log_metric_filter.f", "aws_cloudwatch_log_metric_filter", object.union({"name": "f", "pattern": _nacl, "metric_transformation": [{"name": "Nacl", "namespace": "CIS", "value": "1"}]}, after), unknown)

_alarm(after, unknown) := _rc("aws_cloudwatch_metric_alarm.a", "aws_cloudwatch_metric_alarm", object.union({"alarm_name": "a", "metric_name": "Nacl", "namespace": "CIS"}, after), unknown)

_group := _rc("aws_cloudwatch_log_group.trail", "aws_cloudwatch_log_group", {"name": "trail-logs"}, {"arn": true})

_topic := _rc("aws_sns_topic.t", "aws_sns_topic", {"name": "t"}, {"arn": true})

# A plan joined through configuration references: trail -> group <- filter, alarm -> topic.
_by_refs(trail, filter, alarm) := {
	"resource_changes": [trail, filter, alarm, _group, _topic],
	"configuration": {"root_module": {"resources": [
		_cfg("aws_cloudtrail.main", {"cloud_watch_logs_group_arn": _ref("aws_cloudwatch_log_group.trail.arn")}),
		_cfg("aws_cloudwatch_log_metric_filter.f", {"log_group_name": _ref("aws_cloudwatch_log_group.trail.name")}),
		_cfg("aws_cloudwatch_metric_alarm.a", {"alarm_actions": _ref("aws_sns_topic.t.arn")}),
		_cfg("aws_cloudwatch_log_group.trail", {}),
		_cfg("aws_sns_topic.t", {}),
	]}},
}

_chain(p) := c if {
	c := monitoring.chain(plan.resources[plan.by_address["aws_cloudtrail.main"]], "nacl_changes") with input as p
}

test_chain_through_references_passes if {
	p := _by_refs(_trail({}, {"cloud_watch_logs_group_arn": true}), _filter({}, {}), _alarm({}, {"alarm_actions": true}))
	r := _chain(p)
	r.status == "pass"
	contains(r.reason, "alarm aws_cloudwatch_metric_alarm.a notifies an SNS topic")
}

test_chain_through_literal_names_passes if {
	p := {"resource_changes": [
		_trail({"cloud_watch_logs_group_arn": "arn:aws:logs:eu-west-1:111122223333:log-group:trail-logs:*"}, {}),
		_filter({"log_group_name": "trail-logs"}, {}),
		_alarm({"alarm_actions": ["arn:aws:sns:eu-west-1:111122223333:t"]}, {}),
	]}
	_chain(p).status == "pass"
}

test_alarm_on_metric_query_passes if {
	p := {"resource_changes": [
		_trail({"cloud_watch_logs_group_arn": "arn:aws:logs:eu-west-1:1:log-group:trail-logs"}, {}),
		_filter({"log_group_name": "trail-logs"}, {}),
		_rc("aws_cloudwatch_metric_alarm.a", "aws_cloudwatch_metric_alarm", {"alarm_name": "a", "alarm_actions": ["arn:aws:sns:eu-west-1:1:t"], "metric_query": [{"id": "m", "metric": [{"metric_name": "Nacl", "namespace": "CIS"}]}]}, {}),
	]}
	_chain(p).status == "pass"
}

test_chain_failures if {
	base := {"cloud_watch_logs_group_arn": "arn:aws:logs:eu-west-1:1:log-group:trail-logs:*"}
	no_sns := {"resource_changes": [_trail(base, {}), _filter({"log_group_name": "trail-logs"}, {}), _alarm({"alarm_actions": ["arn:aws:autoscaling:eu-west-1:1:scalingPolicy:x"]}, {})]}
	contains(_chain(no_sns).reason, "notifies no SNS topic")
	_chain(no_sns).status == "fail"

	disabled := {"resource_changes": [_trail(base, {}), _filter({"log_group_name": "trail-logs"}, {}), _alarm({"actions_enabled": false, "alarm_actions": ["arn:aws:sns:eu-west-1:1:t"]}, {})]}
	contains(_chain(disabled).reason, "actions switched off")

	no_alarm := {"resource_changes": [_trail(base, {}), _filter({"log_group_name": "trail-logs"}, {})]}
	contains(_chain(no_alarm).reason, "no alarm watches metric CIS/Nacl")

	other_group := {"resource_changes": [_trail(base, {}), _filter({"log_group_name": "app"}, {}), _alarm({"alarm_actions": ["arn:aws:sns:eu-west-1:1:t"]}, {})]}
	contains(_chain(other_group).reason, `is on log group "app"`)

	no_match := {"resource_changes": [_trail(base, {}), _filter({"log_group_name": "trail-logs", "pattern": "ERROR"}, {})]}
	contains(_chain(no_match).reason, "no metric filter in the plan catches network ACL changes (eventName = one of CreateNetworkAcl")
}

test_trail_state_failures if {
	f := _filter({"log_group_name": "trail-logs"}, {})
	off := {"resource_changes": [_trail({"enable_logging": false}, {}), f]}
	_chain(off) == {"status": "fail", "reason": "trail aws_cloudtrail.main has logging switched off"}
	regional := {"resource_changes": [_trail({"is_multi_region_trail": false}, {}), f]}
	contains(_chain(regional).reason, "covers one region only (is_multi_region_trail is false)")
	no_logs := {"resource_changes": [_trail({}, {}), f]}
	contains(_chain(no_logs).reason, "sends no events to CloudWatch Logs")
	unknown := {"resource_changes": [_trail({}, {"is_multi_region_trail": true}), f]}
	_chain(unknown).status == "unknown"
}

test_unknown_values_give_unknown if {
	base := {"cloud_watch_logs_group_arn": "arn:aws:logs:eu-west-1:1:log-group:trail-logs:*"}
	sns := {"alarm_actions": ["arn:aws:sns:eu-west-1:1:t"]}

	group_unknown := {"resource_changes": [_trail(base, {}), _filter({}, {"log_group_name": true}), _alarm(sns, {})]}
	_chain(group_unknown).status == "unknown"
	contains(_chain(group_unknown).reason, "known only after apply")

	pattern_unknown := {"resource_changes": [_trail(base, {}), _filter({"log_group_name": "trail-logs", "pattern": null}, {"pattern": true}), _alarm(sns, {})]}
	_chain(pattern_unknown).status == "unknown"

	actions_unknown := {"resource_changes": [_trail(base, {}), _filter({"log_group_name": "trail-logs"}, {}), _alarm({}, {"alarm_actions": true})]}
	_chain(actions_unknown).status == "unknown"

	metric_unknown := {"resource_changes": [_trail(base, {}), _filter({"log_group_name": "trail-logs"}, {}), _alarm({"metric_name": null}, {"metric_name": true})]}
	_chain(metric_unknown).status == "unknown"

	transform_unknown := {"resource_changes": [_trail(base, {}), _filter({"log_group_name": "trail-logs", "metric_transformation": []}, {"metric_transformation": true})]}
	_chain(transform_unknown).status == "unknown"

	trail_group_unknown := {"resource_changes": [_trail({}, {"cloud_watch_logs_group_arn": true}), _filter({"log_group_name": "trail-logs"}, {}), _alarm(sns, {})]}
	_chain(trail_group_unknown).status == "unknown"
}

test_best_filter_wins if {
	base := {"cloud_watch_logs_group_arn": "arn:aws:logs:eu-west-1:1:log-group:trail-logs:*"}
	other := _rc("aws_cloudwatch_log_metric_filter.g", "aws_cloudwatch_log_metric_filter", {"name": "g", "log_group_name": "trail-logs", "pattern": "ERROR", "metric_transformation": [{"name": "Err", "namespace": "App", "value": "1"}]}, {})
	p := {"resource_changes": [_trail(base, {}), other, _filter({"log_group_name": "trail-logs"}, {}), _alarm({"alarm_actions": ["arn:aws:sns:eu-west-1:1:t"]}, {})]}
	_chain(p).status == "pass"
}

# The per-evaluation index decides like gaps(): a filter is in filter_matches exactly when
# gaps() finds nothing, on patterns that pass and fail each kind of test. In three parts, each
# well inside the five seconds conftest verify gives one test on a busy machine.
_gap_patterns := [
	_nacl,
	`{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }`,
	`{ ($.errorCode = "*UnauthorizedOperation") && ($.errorCode = "AccessDenied*") }`,
	`{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }`,
	`{ $.userIdentity.type = "Root" && $.sourceIPAddress = "10.0.0.1" }`,
	`{ $.userIdentity.type = "Root" && $.awsRegion EXISTS }`,
	`{ $.userIdentity.type NOT EXISTS }`,
	`{ $.userIdentity.type != "Root" }`,
	`{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") && ($.eventSource = signin.amazonaws.com) }`,
	`{ ($.eventSource = ec2.amazonaws.com) && (($.eventName = CreateNetworkAcl) || ($.eventName = CreateVpc)) }`,
]

# The specs that match at least one of the patterns, after checking filter_matches against
# gaps() for every spec and pattern; undefined when they disagree anywhere.
_matched_specs(patterns) := {name | some name, addrs in found; count(addrs) > 0} if {
	resources := [{
		"address": sprintf("aws_cloudwatch_log_metric_filter.f%d", [i]),
		"mode": "managed",
		"type": "aws_cloudwatch_log_metric_filter",
		"name": sprintf("f%d", [i]),
		"change": {"actions": ["create"], "after": {"pattern": p, "log_group_name": "g"}, "after_unknown": {}},
	} |
		some i, p in patterns
	]
	found := monitoring.filter_matches with input as {"resource_changes": resources}
	every name, _ in monitoring.specs {
		every i, p in patterns {
			want := count(monitoring.gaps(monitoring.specs[name], monitoring.tokens(p))) == 0
			got := sprintf("aws_cloudwatch_log_metric_filter.f%d", [i]) in found[name]
			want == got
		}
	}
}

test_filter_matches_agrees_with_gaps_nacl_and_errors if {
	_matched_specs(array.slice(_gap_patterns, 0, 3)) == {"nacl_changes", "unauthorized_api_calls"}
}

test_filter_matches_agrees_with_gaps_root if {
	_matched_specs(array.slice(_gap_patterns, 3, 7)) == {"root_usage"}
}

test_filter_matches_agrees_with_gaps_events if {
	_matched_specs(array.slice(_gap_patterns, 7, 10)) == {"console_auth_failures"}
}
