# METADATA
# title: Tests of the waivers package
# description: Globs, expiry and unmatched waivers over a plan with a failing and an unknown result.
# scope: package
package soc2opa.waivers_test

import data.soc2opa.waivers

_plan := {"format_version": "1.2", "resource_changes": [
	{"address": "aws_db_instance.a", "mode": "managed", "type": "aws_db_instance", "name": "a", "change": {"actions": ["create"], "after": {"storage_encrypted": false}, "after_unknown": {}}},
	{"address": "module.m[\"k\"].aws_db_instance.b", "module_address": "module.m[\"k\"]", "mode": "managed", "type": "aws_db_instance", "name": "b", "change": {"actions": ["create"], "after": {}, "after_unknown": {"storage_encrypted": true}}},
	{"address": "aws_db_instance.ok", "mode": "managed", "type": "aws_db_instance", "name": "ok", "change": {"actions": ["create"], "after": {"storage_encrypted": true}, "after_unknown": {}}},
]}

_waivers := {"waivers": [
	{"control": "rds_*", "resource": "module.m[\"k\"].*", "reason": "r", "owner": "o", "ticket": null, "expires": "2030-06-30"},
	{"control": "rds_instance_storage_encrypted", "resource": "aws_db_instance.a", "reason": "r", "owner": "o", "ticket": "T-1", "expires": "2025-01-01"},
	{"control": "ebs_*", "resource": "*", "reason": "r", "owner": "o", "ticket": null, "expires": "2030-06-30"},
	{"control": "rds_instance_storage_encrypted", "resource": "aws_db_instance.ok", "reason": "r", "owner": "o", "ticket": null, "expires": "2030-06-30"},
]}

_now := time.parse_ns("2006-01-02", "2026-11-25")

test_globs_treat_brackets_literally_and_expiry_ends_after_the_day if {
	# Each `with` evaluates the whole catalog again and conftest verify stops a test after 5 s,
	# so the catalog is evaluated once here; applies(c, a) is waived[c][a].
	w := waivers.waived with input as _plan with data.soc2opa_waivers as _waivers with time.now_ns as _now
	object.keys(w.rds_instance_storage_encrypted) == {"module.m[\"k\"].aws_db_instance.b"}
	w.rds_instance_storage_encrypted["module.m[\"k\"].aws_db_instance.b"].index == 1
	not w.rds_instance_storage_encrypted["aws_db_instance.a"]
}

test_expired_and_unmatched if {
	[w.index | some w in waivers.expired] == [2] with input as _plan with data.soc2opa_waivers as _waivers with time.now_ns as _now
	[w.index | some w in waivers.unmatched] == [3, 4] with input as _plan with data.soc2opa_waivers as _waivers with time.now_ns as _now
}

test_last_day_still_applies if {
	last := time.parse_ns("2006-01-02", "2030-06-30") + ((((23 * 60) + 59) * 60) * 1000000000)

	# Whether a waiver is live needs no control decisions, so the catalog is not evaluated here.
	1 in {w.index | some w in waivers.live} with data.soc2opa_waivers as _waivers with time.now_ns as last
	not 1 in {w.index | some w in waivers.live} with data.soc2opa_waivers as _waivers with time.now_ns as last + 60000000000
}

test_no_waivers_data if {
	waivers.waived == {} with input as _plan
	waivers.all_waivers == [] with input as _plan
}
