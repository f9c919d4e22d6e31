# METADATA
# title: CIS metric filter, alarm and notification chains
# description: >-
#   Decides whether a CloudTrail trail's CloudWatch Logs group has a metric filter matching one
#   of the CIS AWS Foundations event patterns, watched by an alarm that notifies an SNS topic.
#   Patterns are tokenised, not compared byte for byte: every required condition must appear
#   (any order, quotes and spaces optional), alternatives must be joined by ||, and the filter
#   may not be narrowed by other positive conditions. Filters, alarms and trails are indexed
#   once per evaluation.
# scope: package
package soc2opa.lib.monitoring

import data.soc2opa.lib.plan
import data.soc2opa.lib.refs
import data.soc2opa.lib.tri

_ev(values) := {"field": "eventName", "values": values}

# METADATA
# description: >-
#   The CIS event patterns: any_of lists alternatives (one field, several values, joined by ||),
#   all_of conditions that must hold together, context conditions that may narrow the filter
#   without changing what it catches (eventSource of the same events).
specs := {
	"unauthorized_api_calls": {
		"label": "unauthorized API calls",
		"any_of": {"field": "errorCode", "values": ["*UnauthorizedOperation", "AccessDenied*"]},
		"all_of": [], "context": [],
	},
	"root_usage": {
		"label": "root user activity",
		"any_of": null,
		"all_of": [["userIdentity.type", "Root"]], "context": [],
	},
	"console_auth_failures": {
		"label": "failed console sign-ins",
		"any_of": null,
		"all_of": [["eventName", "ConsoleLogin"], ["errorMessage", "Failed authentication"]],
		"context": [["eventSource", "signin.amazonaws.com"]],
	},
	"iam_policy_changes": {
		"label": "IAM policy changes",
		"any_of": _ev([
			"DeleteGroupPolicy", "DeleteRolePolicy", "DeleteUserPolicy", "PutGroupPolicy", "PutRolePolicy",
			"PutUserPolicy", "CreatePolicy", "DeletePolicy", "CreatePolicyVersion", "DeletePolicyVersion",
			"AttachRolePolicy", "DetachRolePolicy", "AttachUserPolicy", "DetachUserPolicy",
			"AttachGroupPolicy", "DetachGroupPolicy",
		]),
		"all_of": [], "context": [["eventSource", "iam.amazonaws.com"]],
	},
	"cloudtrail_config_changes": {
		"label": "CloudTrail configuration changes",
		"any_of": _ev(["CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging"]),
		"all_of": [], "context": [["eventSource", "cloudtrail.amazonaws.com"]],
	},
	"config_changes": {
		"label": "AWS Config configuration changes",
		"any_of": _ev(["StopConfigurationRecorder", "DeleteDeliveryChannel", "PutDeliveryChannel", "PutConfigurationRecorder"]),
		"all_of": [["eventSource", "config.amazonaws.com"]], "context": [],
	},
	"s3_bucket_policy_changes": {
		"label": "S3 bucket policy changes",
		"any_of": _ev([
			"PutBucketAcl", "PutBucketPolicy", "PutBucketCors", "PutBucketLifecycle", "PutBucketReplication",
			"DeleteBucketPolicy", "DeleteBucketCors", "DeleteBucketLifecycle", "DeleteBucketReplication",
		]),
		"all_of": [["eventSource", "s3.amazonaws.com"]], "context": [],
	},
	"security_group_changes": {
		"label": "security group changes",
		"any_of": _ev([
			"AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupIngress",
			"RevokeSecurityGroupEgress", "CreateSecurityGroup", "DeleteSecurityGroup",
		]),
		"all_of": [], "context": [["eventSource", "ec2.amazonaws.com"]],
	},
	"nacl_changes": {
		"label": "network ACL changes",
		"any_of": _ev([
			"CreateNetworkAcl", "CreateNetworkAclEntry", "DeleteNetworkAcl", "DeleteNetworkAclEntry",
			"ReplaceNetworkAclEntry", "ReplaceNetworkAclAssociation",
		]),
		"all_of": [], "context": [["eventSource", "ec2.amazonaws.com"]],
	},
	"network_gateway_changes": {
		"label": "network gateway changes",
		"any_of": _ev([
			"CreateCustomerGateway", "DeleteCustomerGateway", "AttachInternetGateway",
			"CreateInternetGateway", "DeleteInternetGateway", "DetachInternetGateway",
		]),
		"all_of": [], "context": [["eventSource", "ec2.amazonaws.com"]],
	},
	"route_table_changes": {
		"label": "route table changes",
		"any_of": _ev([
			"CreateRoute", "CreateRouteTable", "ReplaceRoute", "ReplaceRouteTableAssociation",
			"DeleteRouteTable", "DeleteRoute", "DisassociateRouteTable",
		]),
		"all_of": [], "context": [["eventSource", "ec2.amazonaws.com"]],
	},
	"vpc_changes": {
		"label": "VPC changes",
		"any_of": _ev([
			"CreateVpc", "DeleteVpc", "ModifyVpcAttribute", "AcceptVpcPeeringConnection",
			"CreateVpcPeeringConnection", "DeleteVpcPeeringConnection", "RejectVpcPeeringConnection",
		]),
		"all_of": [], "context": [["eventSource", "ec2.amazonaws.com"]],
	},
	"organizations_changes": {
		"label": "AWS Organizations changes",
		"any_of": _ev([
			"AcceptHandshake", "AttachPolicy", "CreateAccount", "CreateOrganizationalUnit", "CreatePolicy",
			"DeclineHandshake", "DeleteOrganization", "DeleteOrganizationalUnit", "DeletePolicy",
			"DetachPolicy", "DisablePolicyType", "EnablePolicyType", "InviteAccountToOrganization",
			"LeaveOrganization", "MoveAccount", "RemoveAccountFromOrganization", "UpdatePolicy",
			"UpdateOrganizationalUnit",
		]),
		"all_of": [["eventSource", "organizations.amazonaws.com"]], "context": [],
	},
}

# --- patterns ---------------------------------------------------------------

_token_re := `\$\.[A-Za-z0-9_.\[\]*-]+\s+(?:NOT\s+EXISTS|EXISTS|IS\s+[A-Za-z]+)|\$\.[A-Za-z0-9_.\[\]*-]+\s*(?:!=|<=|>=|=|<|>)\s*(?:"[^"]*"|[^\s()&|}]+)|&&|\|\||\(|\)`

_atom(t) := {"kind": "atom", "field": m[1], "op": m[2], "value": trim(m[3], `"`)} if {
	m := regex.find_all_string_submatch_n(`^\$\.(\S+?)\s*(!=|<=|>=|=|<|>)\s*(.*)$`, t, 1)[0]
} else := {"kind": "atom", "field": m[1], "op": regex.replace(m[2], `\s+`, " "), "value": ""} if {
	m := regex.find_all_string_submatch_n(`^\$\.(\S+)\s+(.+)$`, t, 1)[0]
} else := {"kind": t}

# METADATA
# description: >-
#   A filter pattern as a list of tokens: atoms {field, op, value} (quotes removed; op one of
#   = != < > <= >= "NOT EXISTS" "EXISTS" "IS X") and "&&", "||", "(", ")", each with its
#   parenthesis depth.
tokens(pattern) := [object.union(_atom(t), {"depth": _depth(raw, i)}) |
	some i, t in raw
] if {
	raw := [m[0] | some m in regex.find_all_string_submatch_n(_token_re, pattern, -1)]
}

_depth(raw, i) := count([1 | some t in array.slice(raw, 0, i); t == "("]) - count([1 | some t in array.slice(raw, 0, i); t == ")"])

_required(spec) := {[c[0], c[1]] | some c in spec.all_of} | {[spec.any_of.field, v] | some v in spec.any_of.values}

_context(spec) := {[c[0], c[1]] | some c in spec.context}

_alt_field(spec) := spec.any_of.field if spec.any_of != null

else := ""

_positive(t) if {
	t.kind == "atom"
	t.op == "="
}

_negation(t) if {
	t.kind == "atom"
	t.op in {"!=", "NOT EXISTS"}
}

_other(t) if {
	t.kind == "atom"
	not _positive(t)
	not _negation(t)
}

# METADATA
# description: >-
#   Why the tokenised pattern does not catch every event of the spec (empty when it does).
gaps(spec, toks) := array.concat(array.concat(_missing(spec, toks), _negated(spec, toks)), array.concat(_narrowed(spec, toks), _anded(spec, toks)))

_missing(spec, toks) := [sprintf("no %s = %s condition", [c[0], c[1]]) |
	some c in sort(_required(spec))
	not _has(toks, c)
]

_has(toks, c) if {
	some t in toks
	_positive(t)
	[t.field, t.value] == c
}

_negated(spec, toks) := [sprintf("%s is excluded by %s %s", [t.field, t.op, t.value]) |
	some t in toks
	_negation(t)
	_excludes_required(spec, t)
]

_excludes_required(spec, t) if [t.field, t.value] in _required(spec)

_excludes_required(spec, t) if {
	t.op == "NOT EXISTS"
	some c in _required(spec)
	c[0] == t.field
}

# With && anywhere, a positive condition that is neither required, an alternative of the
# required field, nor context could narrow the filter; so could comparisons and EXISTS tests.
_narrowed(spec, toks) := [sprintf("the condition %s %s %s may narrow the filter", [t.field, t.op, t.value]) |
	some t in toks
	t.kind == "atom"
	_and_present(toks)
	not _harmless(spec, t)
]

_harmless(_, t) if _negation(t)

_harmless(spec, t) if {
	_positive(t)
	[t.field, t.value] in (_required(spec) | _context(spec))
}

_harmless(spec, t) if {
	_positive(t)
	t.field == _alt_field(spec)
}

# Consecutive alternatives must be joined by || at the shallowest operator between them.
_anded(spec, toks) := [sprintf("%s = %s and %s = %s are joined by &&", [toks[a].field, toks[a].value, toks[b].field, toks[b].value]) |
	alts := [i | some i, t in toks; _positive(t); t.field == _alt_field(spec)]
	some k in numbers.range(0, count(alts) - 2)
	a := alts[k]
	b := alts[k + 1]
	ops := [t | some t in array.slice(toks, a + 1, b); t.kind in {"&&", "||"}]
	count(ops) > 0
	shallow := min([t.depth | some t in ops])
	some t in ops
	t.depth == shallow
	t.kind == "&&"
]

# METADATA
# description: True when the pattern (a string) catches every event of the named spec.
matches(name, pattern) if {
	is_string(pattern)
	count(gaps(specs[name], tokens(pattern))) == 0
}

# --- index, built once per evaluation ----------------------------------------

_filters := plan.of_types({"aws_cloudwatch_log_metric_filter"})

_alarms := plan.of_types({"aws_cloudwatch_metric_alarm"})

_filter_tokens := {f.address: tokens(p) |
	some f in _filters
	p := plan.value_or(f, ["pattern"], null)
	is_string(p)
	not plan.unknown_at(f, ["pattern"])
}

# What each spec needs, worked out once per evaluation rather than once per filter and token.
_spec_sets := {name: {
	"required": _required(spec),
	"harmless": (_required(spec) | _context(spec)),
	"required_fields": {c[0] | some c in _required(spec)},
	"alt": _alt_field(spec),
} |
	some name, spec in specs
}

# Each known pattern's tokens sorted by what the spec tests look at, once per filter.
_filter_facts := {addr: {
	"toks": toks,
	"positive": {[t.field, t.value] | some t in toks; _positive(t)},
	"negations": [t | some t in toks; _negation(t)],
	"others": [t | some t in toks; _other(t)],
	"and": _and_present(toks),
} |
	some addr, toks in _filter_tokens
}

_and_present(toks) if {
	some t in toks
	t.kind == "&&"
} else := false

# METADATA
# description: >-
#   For each spec, the filters whose known pattern catches every event of it: the same answer
#   as an empty gaps(spec, tokens), reached with set operations on facts gathered per filter.
filter_matches[name] := {addr |
	some addr, facts in _filter_facts
	_fast_match(sets, facts, specs[name])
} if {
	some name, sets in _spec_sets
}

_fast_match(sets, facts, spec) if {
	count(sets.required - facts.positive) == 0
	not _negates_required(sets, facts)
	not _narrows(sets, facts)
	count(_anded(spec, facts.toks)) == 0
}

_negates_required(sets, facts) if {
	some t in facts.negations
	[t.field, t.value] in sets.required
}

_negates_required(sets, facts) if {
	some t in facts.negations
	t.op == "NOT EXISTS"
	t.field in sets.required_fields
}

_narrows(_, facts) if {
	facts.and
	count(facts.others) > 0
}

_narrows(sets, facts) if {
	facts.and
	some p in facts.positive
	not p in sets.harmless
	p[0] != sets.alt
}

_metric_key(ns, name) := sprintf("%s|%s", [ns, name])

_filter_metrics(f) := {_metric_key(m.namespace, m.name) |
	some m in plan.list_at(f, ["metric_transformation"])
	is_string(m.namespace)
	is_string(m.name)
}

_alarm_metrics(a) := {_metric_key(ns, n) |
	n := plan.value_or(a, ["metric_name"], null)
	ns := plan.value_or(a, ["namespace"], null)
	is_string(n)
	is_string(ns)
} | {_metric_key(m.namespace, m.metric_name) |
	some q in plan.list_at(a, ["metric_query"])
	some m in object.get(q, "metric", [])
	is_string(m.namespace)
	is_string(m.metric_name)
}

_alarms_by_metric := plan.group([[k, a.address] | some a in _alarms; some k in _alarm_metrics(a)])

_alarm_metric_unknown := [a.address |
	some a in _alarms
	_metric_unknown(a)
]

_metric_unknown(a) if plan.unknown_at(a, ["metric_name"])

_metric_unknown(a) if plan.unknown_at(a, ["namespace"])

_metric_unknown(a) if plan.unknown_at(a, ["metric_query"])

_by_address(addr) := plan.resources[plan.by_address[addr]]

# METADATA
# description: >-
#   Whether an alarm notifies someone: actions switched on and an SNS topic among its
#   alarm_actions (a known sns ARN, or a topic of the plan through a configuration reference).
alarm_notifies(a) := {"status": "fail", "reason": sprintf("alarm %s has actions switched off", [a.address])} if {
	plan.value_or(a, ["actions_enabled"], true) == false
} else := {"status": "pass", "reason": ""} if {
	_sns_action(a)
} else := {"status": "unknown", "reason": sprintf("alarm %s: alarm_actions or actions_enabled is known only after apply", [a.address])} if {
	_actions_unknown(a)
} else := {"status": "fail", "reason": sprintf("alarm %s notifies no SNS topic", [a.address])}

_sns_action(a) if {
	not plan.unknown_at(a, ["actions_enabled"])
	some arn in plan.list_at(a, ["alarm_actions"])
	regex.match(`^arn:[^:]+:sns:`, arn)
}

_sns_action(a) if {
	not plan.unknown_at(a, ["actions_enabled"])
	count(refs.referenced(a, ["alarm_actions"], {"aws_sns_topic"})) > 0
}

_actions_unknown(a) if plan.unknown_at(a, ["alarm_actions"])

_actions_unknown(a) if plan.unknown_at(a, ["actions_enabled"])

# METADATA
# description: The outcome and reason of the best alarm on a filter's metrics.
filter_alarm(f) := {"status": "pass", "reason": sprintf("alarm %s notifies an SNS topic", [passing[0]])} if {
	# The first passing alarm names the pass: one value per alarm would make OPA fail on
	# conflicting values when several alarms watch the same metric.
	passing := sort([a | some a in _watching(f); alarm_notifies(_by_address(a)).status == "pass"])
	count(passing) > 0
} else := {"status": "unknown", "reason": concat("; ", reasons)} if {
	reasons := [alarm_notifies(_by_address(a)).reason | some a in _watching(f); alarm_notifies(_by_address(a)).status == "unknown"]
	count(reasons) > 0
} else := {"status": "unknown", "reason": sprintf("no alarm is known to watch metric %s, and the metric of alarm %s is known only after apply", [_show_metrics(f), _alarm_metric_unknown[0]])} if {
	count(_alarm_metric_unknown) > 0
} else := {"status": "fail", "reason": concat("; ", [alarm_notifies(_by_address(a)).reason | some a in _watching(f)])} if {
	count(_watching(f)) > 0
} else := {"status": "unknown", "reason": sprintf("the metric name or namespace of filter %s is known only after apply", [f.address])} if {
	plan.unknown_at(f, ["metric_transformation"])
} else := {"status": "fail", "reason": sprintf("no alarm watches metric %s of filter %s", [_show_metrics(f), f.address])}

_watching(f) := {a | some k in _filter_metrics(f); some a in object.get(_alarms_by_metric, k, [])}

_show_metrics(f) := concat(", ", sort([replace(k, "|", "/") | some k in _filter_metrics(f)]))

# --- the trail's log group -------------------------------------------------------

_group_arn_re := `^arn:[^:]+:logs:[^:]*:[^:]*:log-group:(.+?)(:\*)?$`

_groups := {"aws_cloudwatch_log_group"}

# The log groups a trail sends to: addresses of log groups of the plan it refers to, and names
# known from its ARN or from those log groups.
_trail_groups(t) := {"addrs": {g.address | some g in gs}, "names": (_arn_names(t) | {n | some g in gs; n := plan.value_or(g, ["name"], null); is_string(n)})} if {
	gs := refs.referenced(t, ["cloud_watch_logs_group_arn"], _groups)
}

_arn_names(t) := {m[1] |
	arn := plan.value_or(t, ["cloud_watch_logs_group_arn"], null)
	is_string(arn)
	m := regex.find_all_string_submatch_n(_group_arn_re, arn, 1)[0]
}

# Whether a filter's log_group_name is the trail's log group.
_link(t, groups, f) := "pass" if {
	some g in refs.referenced(f, ["log_group_name"], _groups)
	g.address in groups.addrs
} else := "pass" if {
	n := plan.value_or(f, ["log_group_name"], null)
	is_string(n)
	n in groups.names
} else := "unknown" if {
	plan.unknown_at(f, ["log_group_name"])
	count(refs.referenced(f, ["log_group_name"], _groups)) == 0
} else := "unknown" if {
	plan.unknown_at(t, ["cloud_watch_logs_group_arn"])
	count(groups.addrs) == 0
} else := "fail"

_trail_state(t) := {"status": "fail", "reason": sprintf("trail %s has logging switched off", [t.address])} if {
	plan.value_or(t, ["enable_logging"], true) == false
} else := {"status": "fail", "reason": sprintf("trail %s covers one region only (is_multi_region_trail is %s)", [t.address, plan.show(t, ["is_multi_region_trail"], false)])} if {
	not plan.unknown_at(t, ["is_multi_region_trail"])
	not plan.truthy(plan.value_or(t, ["is_multi_region_trail"], false))
} else := {"status": "unknown", "reason": sprintf("trail %s: enable_logging or is_multi_region_trail is known only after apply", [t.address])} if {
	_trail_unknown(t)
} else := {"status": "fail", "reason": sprintf("trail %s sends no events to CloudWatch Logs (cloud_watch_logs_group_arn is unset)", [t.address])} if {
	not plan.unknown_at(t, ["cloud_watch_logs_group_arn"])
	not plan.present(plan.value_or(t, ["cloud_watch_logs_group_arn"], null))
} else := {"status": "pass", "reason": ""}

_trail_unknown(t) if plan.unknown_at(t, ["enable_logging"])

_trail_unknown(t) if plan.unknown_at(t, ["is_multi_region_trail"])

# METADATA
# description: >-
#   The outcome for one trail and one CIS spec, with its reason: the trail is logging in all
#   regions to CloudWatch Logs, and a metric filter on that log group catches the spec's events
#   and is watched by an alarm that notifies an SNS topic.
chain(t, name) := _trail_state(t) if {
	_trail_state(t).status != "pass"
} else := _passed(t, name, _trail_groups(t))

# A passing step decides the chain, and its reason names only the passing steps; those are
# found through an index by log group, so a trail is not compared with every filter. The
# full comparison runs only for a trail with no passing step.
_passed(t, name, groups) := {"status": "pass", "reason": concat("; ", [_pass_reason(t, _live[name][i][0]) | some i in idxs])} if {
	idxs := sort({i |
		some key in _group_keys(groups)
		some i in object.get(_passing_by_key[name], key, [])
	})
	count(idxs) > 0
} else := _chain(t, name, groups)

_group_keys(groups) := {["a", a] | some a in groups.addrs} | {["n", n] | some n in groups.names}

_filter_keys(f) := {["a", g.address] | some g in refs.referenced(f, ["log_group_name"], _groups)} | {["n", n] |
	n := plan.value_or(f, ["log_group_name"], null)
	is_string(n)
}

# Per spec: the positions in _live of filters whose pattern matches and whose alarm passes,
# by each log group key that links them to a trail.
_passing_by_key[name] := plan.group([[key, i] |
	some i, [f, gs] in fs
	is_array(gs)
	count(gs) == 0
	_alarm_of[f.address].status == "pass"
	some key in _filter_keys(f)
]) if {
	some name, fs in _live
}

_pass_reason(t, f) := sprintf("filter %s on the log group of trail %s matches; %s", [f.address, t.address, _alarm_of[f.address].reason])

_chain(t, name, groups) := {"status": best, "reason": _chain_reason(best, steps, name)} if {
	live := [_step(t, groups, f, gs) | some [f, gs] in _live[name]]
	steps := array.concat(live, _dead_step(name))
	best := tri.any_of([s.status | some s in steps])
}

# Per spec and once per evaluation, not per trail: the filters that could be the one (the
# pattern matches or is unknown). A filter that cannot be is a plain fail whose reason no
# message uses, so one such step stands for all of them.
_live := {name: [[f, gs] | some f in _filters; gs := _gaps_of(name, f); _could_match(gs)] | some name, _ in specs}

_dead := {name | some name, _ in specs; some f in _filters; not _could_match(_gaps_of(name, f))}

_could_match(null)

_could_match(gs) if {
	is_array(gs)
	count(gs) == 0
}

_dead_step(name) := [{"status": "fail", "rank": 0, "reason": ""}] if name in _dead

else := []

_alarm_of := {f.address: filter_alarm(f) | some fs in _live; some [f, gs] in fs; gs != null}

# A filter whose pattern is unknown could be the one; one with a known pattern counts only
# when it matches.
_gaps_of(name, f) := [] if f.address in filter_matches[name]

else := null if not _filter_tokens[f.address]

else := ["the pattern does not catch every event"]

_step(t, groups, f, null) := {"status": tri.all_of(["unknown", _link(t, groups, f)]), "rank": 1, "reason": sprintf("the pattern of filter %s is known only after apply", [f.address])}

_step(t, groups, f, gs) := s if {
	is_array(gs)
	count(gs) == 0
	link := _link(t, groups, f)
	s := _matched_step(t, f, link, _alarm_of[f.address])
}

_matched_step(t, f, "fail", _) := {"status": "fail", "rank": 2, "reason": sprintf("filter %s matches but is on log group %s, not the one trail %s sends to", [f.address, plan.show(f, ["log_group_name"], null), t.address])}

_matched_step(t, f, "unknown", alarm) := {"status": tri.all_of(["unknown", alarm.status]), "rank": 3, "reason": sprintf("filter %s matches; whether its log group is the one trail %s sends to is known only after apply; %s", [f.address, t.address, alarm.reason])}

_matched_step(t, f, "pass", alarm) := {"status": alarm.status, "rank": 4, "reason": sprintf("filter %s on the log group of trail %s matches; %s", [f.address, t.address, alarm.reason])}

_chain_reason(best, steps, _) := concat("; ", [s.reason | some s in steps; s.status == best; s.rank == top]) if {
	best != "fail"
	top := max([s.rank | some s in steps; s.status == best])
}

_chain_reason("fail", steps, _) := concat("; ", [s.reason | some s in steps; s.rank == top]) if {
	top := max([s.rank | some s in steps])
	top > 0
}

_chain_reason("fail", steps, name) := sprintf("no metric filter in the plan catches %s (%s)", [specs[name].label, _describe(specs[name])]) if {
	every s in steps {
		s.rank == 0
	}
}

_describe(spec) := concat(" and ", array.concat(
	[sprintf("%s = %s", [c[0], c[1]]) | some c in spec.all_of],
	[sprintf("%s = one of %s", [spec.any_of.field, concat(", ", spec.any_of.values)]) | spec.any_of != null],
))
