# METADATA
# title: Check nodes
# description: >-
#   The logic of each node of the check language, written once. Generated control packages
#   call these with constant arguments, so each check node compiles to one status rule and one
#   reason rule, which keeps bundle compile time low as the catalog grows.
# scope: package
package soc2opa.lib.check

import data.soc2opa.lib.config
import data.soc2opa.lib.plan
import data.soc2opa.lib.refs
import data.soc2opa.lib.tri

_not_set := "not set in the configuration (the provider computes it at apply)"

# METADATA
# description: Outcome of a value check; unknown values give if_unknown ("unknown" or "fail").
value(r, path, op, arg, default_value, if_unknown) := _known(op, object.get(r.change.after, path, null), default_value, arg) if {
	plan.known_at(r, path)
} else := "unknown" if {
	plan.no_after(r)
} else := _when_unknown(r, path, if_unknown) if {
	plan.unknown_at(r, path)
	not _takes_default(r, path, if_unknown)
} else := "pass" if {
	holds(op, plan.value_or(r, path, default_value), arg)
} else := "fail"

# The common case, a known value, in as few steps as possible (value_or and holds inlined).
_known(op, null, default_value, arg) := "pass" if {
	holds(op, default_value, arg)
} else := "fail"

_known(op, v, _, arg) := "pass" if {
	v != null
	holds(op, v, arg)
} else := "fail" if v != null

# if_unknown "fail" reads an unknown value as "not configured, the provider computes it"; when
# the configuration does set it (to a value known only after apply) it is really unknown.
_when_unknown(r, path, "fail") := "unknown" if configured(r, path)

else := "fail"

_when_unknown(_, _, "unknown") := "unknown"

_when_unknown(_, _, "default") := "unknown"

# if_unknown "default": a value the configuration does not write (nor the block holding it) is
# the provider's unset state, so the default AWS applies decides (SSE-SQS on, a private ACL,
# the AWS owned key of a DynamoDB table); written, even to a value known only after apply, it
# stays unknown, and so does a resource whose configuration the plan does not carry.
_takes_default(r, path, "default") if undeclared(r, path)

default _takes_default(_, _, _) := false

_is_expression(e) if "constant_value" in object.keys(e)

_is_expression(e) if "references" in object.keys(e)

# METADATA
# description: >-
#   True when the resource's configuration block is known and does not write the attribute at
#   path, nor the block that holds it. A block with an empty expressions object tells nothing
#   (plans cut by hand carry such blocks; Terraform leaves the key out); below an attribute's own expression (a map, an object)
#   nothing is undeclared. Dynamic blocks do not appear in the plan's configuration, so they
#   read as not written.
undeclared(r, _) if {
	# Terraform writes no expressions at all for a block that sets nothing.
	not "expressions" in object.keys(config.block(r))
}

default undeclared(_, _) := false

undeclared(r, path) if {
	e := config.block(r).expressions
	count(e) > 0
	some n in numbers.range(1, count(path))
	parent := object.get(e, array.slice(path, 0, n - 1), null)
	is_object(parent)
	not _is_expression(parent)
	not path[n - 1] in object.keys(parent)
}

# METADATA
# description: Whether the resource's configuration sets the attribute or block at path.
configured(r, path) if object.get(refs.expressions(r), path, null) != null

default configured(_, _) := false

# METADATA
# description: Whether value v satisfies operator op with argument arg.
holds("equals", v, x) if v == x

holds("not_equals", v, x) if v != x

holds("one_of", v, xs) if v in xs

holds("none_of", v, xs) if not v in xs

holds("exists", v, _) if plan.present(v)

holds("absent", v, _) if not plan.present(v)

holds("truthy", v, _) if plan.truthy(v)

holds("falsy", v, _) if not plan.truthy(v)

holds("matches", v, pattern) if plan.matches(pattern, v)

holds("not_matches", v, pattern) if not plan.matches(pattern, v)

holds("bounds", v, bounds) if {
	n := plan.number_of(v)
	every op, x in bounds {
		_compare(op, n, x)
	}
}

_compare("gte", n, x) if n >= x

_compare("gt", n, x) if n > x

_compare("lte", n, x) if n <= x

_compare("lt", n, x) if n < x

# METADATA
# description: The reason a value check has outcome want, or [] when it has another.
why_value(r, path, label, expect, default_value, status, want) := [] if {
	status != want
} else := [sprintf("%s is %s; expected %s", [label, plan.show(r, path, default_value), expect])] if {
	plan.known_at(r, path)
} else := [plan.no_after_reason] if {
	plan.no_after(r)
} else := [sprintf("%s is %s", [label, _not_set])] if {
	status == "fail"
	plan.unknown_at(r, path)
} else := [plan.describe(r, path, label, expect, default_value)]

# METADATA
# description: >-
#   The reason for a value check with if_unknown "default": an undeclared unknown value is
#   named as not set, with the default that decided; else as why_value says.
why_default(r, path, label, expect, default_value, status, want) := [] if {
	status != want
} else := [sprintf("%s is not set in the configuration%s; expected %s", [label, _by_default(default_value), expect])] if {
	plan.unknown_at(r, path)
	undeclared(r, path)
} else := why_value(r, path, label, expect, default_value, status, want)

_by_default(null) := ""

_by_default(d) := sprintf(", so %s by default", [json.marshal(d)]) if d != null

# METADATA
# description: >-
#   Outcome of a quantifier over the list at path: if_unknown when the list is unknown,
#   if_empty when it is empty, else all_of or any_of the elements' outcomes.
items(r, path, quantifier, statuses, if_empty, if_unknown) := _quantified(quantifier, statuses, if_empty, object.get(r.change.after, path, null)) if {
	plan.known_at(r, path)
} else := "unknown" if {
	plan.no_after(r)
} else := _when_unknown(r, path, if_unknown) if {
	plan.unknown_at(r, path)
	not _takes_default(r, path, if_unknown)
} else := if_empty if {
	count(plan.list_at(r, path)) == 0
} else := tri.all_of(statuses) if {
	quantifier == "all"
} else := tri.any_of(statuses)

_quantified(quantifier, statuses, if_empty, v) := if_empty if {
	not _nonempty_list(v)
} else := tri.all_of(statuses) if {
	quantifier == "all"
} else := tri.any_of(statuses)

_nonempty_list(v) if {
	is_array(v)
	count(v) > 0
}

# METADATA
# description: The reasons a quantifier has outcome want, from its elements' reasons.
why_items(r, path, label, status, want, element_reasons) := [] if {
	status != want
} else := _why_known_items(label, object.get(r.change.after, path, null), element_reasons) if {
	plan.known_at(r, path)
} else := [plan.no_after_reason] if {
	plan.no_after(r)
} else := [sprintf("%s is %s", [label, _not_set])] if {
	status == "fail"
	plan.unknown_at(r, path)
} else := [sprintf("%s is known only after apply", [label])] if {
	plan.unknown_at(r, path)
} else := [sprintf("%s is empty", [label])] if {
	count(plan.list_at(r, path)) == 0
} else := [m | some l in element_reasons; some m in l]

_why_known_items(label, v, element_reasons) := [sprintf("%s is empty", [label])] if {
	not _nonempty_list(v)
} else := [m | some l in element_reasons; some m in l]

# METADATA
# description: The reasons of a combinator with outcome want, from its children's reasons.
why_children(status, want, child_reasons) := [] if {
	status != want
} else := [m | some l in child_reasons; some m in l]

# METADATA
# description: Outcome of a relation (if_none when nothing is related, else any related passes).
related(statuses, if_none) := if_none if {
	count(statuses) == 0
} else := tri.any_of(statuses)

# METADATA
# description: The reasons of a relation with outcome want, prefixed by the related address.
why_related(status, want, none_message, addressed_reasons) := [] if {
	status != want
} else := [none_message] if {
	count(addressed_reasons) == 0
} else := [sprintf("%s: %s", [a, m]) | some [a, ms] in addressed_reasons; some m in ms]

# METADATA
# description: >-
#   The reasons of a node with a fail_message: that one message when the outcome explained
#   is a fail, else the node's own reasons.
fail_message("fail", message, _) := [message]

fail_message(want, _, reasons) := reasons if want != "fail"

# METADATA
# description: The reasons of a quiet child, which are dropped when it fails.
quiet("fail", _) := []

quiet(want, reasons) := reasons if want != "fail"

# METADATA
# description: >-
#   Outcome of a relation that needs min_count passing related resources, counted by key:
#   if_none when nothing is related; pass when enough keys pass; unknown when enough keys
#   pass or are unknown; else fail.
related_count(pairs, min_count, if_none) := if_none if {
	count(pairs) == 0
} else := "pass" if {
	count({k | some [s, k] in pairs; s == "pass"}) >= min_count
} else := "unknown" if {
	count({k | some [s, k] in pairs; s != "fail"}) >= min_count
} else := "fail"

# METADATA
# description: The value at path used to count a related resource once, or its address when unknown or unset.
distinct_key(x, path) := x.address if {
	plan.unknown_at(x, path)
} else := v if {
	v := plan.value_or(x, path, null)
	plan.present(v)
} else := x.address

# METADATA
# description: The reasons of a counted relation with outcome want.
why_related_count(status, want, none_message, short_message, addressed_reasons) := [] if {
	status != want
} else := [none_message] if {
	count(addressed_reasons) == 0
} else := array.concat([short_message], [sprintf("%s: %s", [a, m]) | some [a, ms] in addressed_reasons; some m in ms])
