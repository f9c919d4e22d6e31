# METADATA
# title: JSON policy documents
# description: >-
#   Decodes a JSON-encoded IAM-style policy attribute (bucket, queue, topic, key, vault and
#   resource policies) once and checks its statements against a pattern: effect, a principal
#   that is everyone (and not restricted by a condition), actions and resources covered under
#   IAM wildcard rules, NotAction, NotResource and NotPrincipal, and required condition values. A document unknown until
#   apply is unknown; one that does not parse fails with the reason.
# scope: package
package soc2opa.lib.policy

import data.soc2opa.lib.plan
import data.soc2opa.lib.refs

# Condition keys that, under a non-negated operator, limit a statement for everyone to known
# callers (accounts, organisations, source resources, networks).
default_restricting_keys := {
	"aws:sourceaccount", "aws:sourcearn", "aws:sourceowner", "aws:sourcevpc", "aws:sourcevpce",
	"aws:sourceip", "aws:sourceorgid", "aws:sourceorgpaths", "aws:principalorgid",
	"aws:principalorgpaths", "aws:principalaccount", "aws:principalarn", "kms:calleraccount",
}

# METADATA
# description: >-
#   The document at path, decoded: {"state": "unknown"}, {"state": "absent"}, {"state":
#   "invalid", "problem": text} or {"state": "ok", "statements": [...]}. A value unknown only
#   because the configuration leaves it to the provider (Optional+Computed, such as
#   aws_s3_bucket.policy) counts as absent.
document(r, path) := {"state": "absent"} if {
	plan.unknown_at(r, path)
	count(path) == 1
	refs.not_configured(r, path[0])
} else := {"state": "unknown"} if {
	plan.unknown_at(r, path)
} else := decode(plan.value_or(r, path, null))

# METADATA
# description: Decodes a policy document given as a JSON string (or already as an object).
decode(v) := {"state": "absent"} if {
	v in {null, ""}
} else := {"state": "invalid", "problem": "is not valid JSON"} if {
	is_string(v)
	not json.is_valid(v)
} else := _statements(json.unmarshal(v)) if {
	is_string(v)
} else := _statements(v) if {
	is_object(v)
} else := {"state": "invalid", "problem": sprintf("is a %s, not a JSON string", [type_name(v)])}

_statements(doc) := {"state": "invalid", "problem": sprintf("is a JSON %s, not a policy object", [type_name(doc)])} if {
	not is_object(doc)
} else := {"state": "invalid", "problem": "has no Statement"} if {
	not doc.Statement
} else := {"state": "ok", "statements": [doc.Statement]} if {
	is_object(doc.Statement)
} else := {"state": "invalid", "problem": "has a Statement that is not a list of objects"} if {
	not is_array(doc.Statement)
} else := {"state": "invalid", "problem": "has a Statement that is not a list of objects"} if {
	some s in doc.Statement
	not is_object(s)
} else := {"state": "ok", "statements": doc.Statement}

# METADATA
# description: >-
#   Outcome of a policy node. mode "none": pass when no statement matches the pattern (also
#   when there is no document); mode "some": pass when some statement matches. An unknown
#   document gives if_unknown; an invalid one fails.
status(r, path, mode, pattern, if_unknown) := outcome(document(r, path), mode, pattern, if_unknown)

# METADATA
# description: Outcome of a policy node over an already decoded document.
outcome(doc, mode, pattern, if_unknown) := if_unknown if {
	doc.state == "unknown"
} else := "fail" if {
	doc.state == "invalid"
} else := "pass" if {
	doc.state == "absent"
	mode == "none"
} else := "fail" if {
	doc.state == "absent"
} else := "fail" if {
	mode == "none"
	some s in doc.statements
	matches(s, pattern)
} else := "pass" if {
	mode == "none"
} else := "pass" if {
	some s in doc.statements
	matches(s, pattern)
} else := "fail"

# METADATA
# description: >-
#   The reasons a policy node has outcome want. what is [a_phrase, phrase] describing the
#   pattern, e.g. ["an Allow statement for everyone", "Allow statement for everyone"].
why(r, path, label, mode, pattern, what, status, want) := [] if {
	status != want
} else := _why_doc(r, path, document(r, path), label, mode, pattern, what)

_why_doc(r, path, doc, label, mode, pattern, what) := [sprintf("%s is known only after apply", [label])] if {
	doc.state == "unknown"
} else := [sprintf("%s %s", [label, doc.problem])] if {
	doc.state == "invalid"
} else := [sprintf("%s is not set", [label])] if {
	doc.state == "absent"
} else := [sprintf("%s has no %s", [label, what[1]])] if {
	mode == "some"
} else := [sprintf("%s: %s is %s", [label, _name(r, path, i, s), what[0]]) |
	some i, s in doc.statements
	matches(s, pattern)
]

_name(r, path, i, s) := sprintf("statement %d", [i]) if {
	plan.sensitive_at(r, path)
} else := sprintf("statement %d (Sid %s)", [i, json.marshal(s.Sid)]) if {
	is_string(s.Sid)
	s.Sid != ""
	count(s.Sid) <= 64
} else := sprintf("statement %d", [i])

# --- statements ------------------------------------------------------------

# METADATA
# description: >-
#   True when statement s matches every field the pattern gives: effect, principal
#   ("everyone" or "public"), restricted_by (condition keys, lower case), actions (all
#   covered), actions_any (one covered), resources (all covered), condition (a list of
#   {test, key, value}, one present).
matches(s, pattern) if {
	_effect_ok(s, pattern)
	_principal_ok(s, pattern)
	_actions_ok(s, pattern)
	_actions_any_ok(s, pattern)
	_resources_ok(s, pattern)
	_condition_ok(s, pattern)
}

_effect_ok(_, p) if not p.effect

_effect_ok(s, p) if s.Effect == p.effect

_principal_ok(_, p) if not p.principal

_principal_ok(s, p) if {
	p.principal == "everyone"
	everyone(s)
}

_principal_ok(s, p) if {
	p.principal == "public"
	everyone(s)
	not restricted(s, object.get(p, "restricted_by", default_restricting_keys))
}

# METADATA
# description: >-
#   True when the statement applies to everyone: Principal "*", {"AWS": "*"} (alone or in a
#   list), or any NotPrincipal (everyone except the named principals).
everyone(s) if s.Principal == "*"

everyone(s) if _has_star(s.Principal.AWS)

everyone(s) if {
	s.NotPrincipal
	s.NotPrincipal != null
}

_has_star("*")

_has_star(xs) if {
	is_array(xs)
	"*" in xs
}

# METADATA
# description: >-
#   True when a condition under a non-negated operator names one of the keys (lower case)
#   with a value other than "*" (ForAllValues/ForAnyValue prefixes and IfExists allowed).
restricted(s, keys) if {
	some op, conds in s.Condition
	is_object(conds)
	not _negated(op)
	some key, value in conds
	lower(key) in keys
	not _wildcard_only(value)
}

_negated(op) if contains(lower(op), "not")

_negated(op) if lower(op) == "null"

_wildcard_only("*")

_wildcard_only(vs) if {
	is_array(vs)
	count(vs) > 0
	every v in vs {
		v == "*"
	}
}

_actions_ok(_, p) if not p.actions

_actions_ok(s, p) if {
	p.actions
	every a in p.actions {
		covers(s, a)
	}
}

_actions_any_ok(_, p) if not p.actions_any

_actions_any_ok(s, p) if {
	some a in p.actions_any
	covers(s, a)
}

# METADATA
# description: >-
#   True when the statement's Action covers the action (IAM wildcards * and ?, case
#   insensitive), or its NotAction does not. An action given with a wildcard (s3:*) is covered
#   by a pattern that matches it as written (s3:* or *, not s3:Get*).
covers(s, action) if {
	some pattern in _list(s.Action)
	wildcard_match(pattern, action)
}

covers(s, action) if {
	not s.Action
	is_array(_list(s.NotAction))
	every pattern in _list(s.NotAction) {
		not wildcard_match(pattern, action)
	}
}

_list(x) := [x] if is_string(x)

else := x if is_array(x)

# Simultaneous replacement: regular expression characters are escaped, * and ? become wildcards.
_regex_of := {
	"*": ".*", "?": ".", ".": `\.`, "+": `\+`, "(": `\(`, ")": `\)`, "[": `\[`, "]": `\]`,
	"{": `\{`, "}": `\}`, "^": `\^`, "$": `\$`, "|": `\|`, `\`: `\\`,
}

# METADATA
# description: True when an IAM action pattern (with * and ?) matches the action, ignoring case.
wildcard_match(pattern, action) if {
	is_string(pattern)
	regex.match(concat("", ["^", strings.replace_n(_regex_of, lower(pattern)), "$"]), lower(action))
}

_resources_ok(_, p) if not p.resources

_resources_ok(s, p) if {
	p.resources
	every a in p.resources {
		covers_resource(s, a)
	}
}

# METADATA
# description: >-
#   True when the statement's Resource covers the resource ARN (wildcards * and ?, case
#   sensitive as ARNs are), or its NotResource does not, or it has neither. A resource given
#   with a wildcard (*) is covered by a pattern that matches it as written: "*" covers "*",
#   "arn:aws:s3:::logs/*" does not.
covers_resource(s, resource) if {
	some pattern in _list(s.Resource)
	_arn_match(pattern, resource)
}

covers_resource(s, resource) if {
	not s.Resource
	is_array(_list(s.NotResource))
	every pattern in _list(s.NotResource) {
		not _arn_match(pattern, resource)
	}
}

covers_resource(s, _) if {
	not s.Resource
	not s.NotResource
}

_arn_match(pattern, resource) if {
	is_string(pattern)
	regex.match(concat("", ["^", strings.replace_n(_regex_of, pattern), "$"]), resource)
}

_condition_ok(_, p) if not p.condition

_condition_ok(s, p) if {
	some c in p.condition
	has_condition(s, c)
}

# METADATA
# description: >-
#   True when the statement's Condition has operator c.test (or its IfExists form) on key
#   c.key with value c.value among its values; names and values compare without case.
has_condition(s, c) if {
	some op, conds in s.Condition
	lower(op) in {lower(c.test), concat("", [lower(c.test), "ifexists"])}
	is_object(conds)
	some key, value in conds
	lower(key) == lower(c.key)
	some v in _list(_text(value))
	lower(v) == lower(c.value)
}

_text(v) := v if is_string(v)

else := [_scalar(x) | some x in v] if is_array(v)

else := _scalar(v)

_scalar(x) := x if is_string(x)

else := json.marshal(x)
