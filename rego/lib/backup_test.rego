# METADATA
# title: Tests of the backup membership library
# description: Selections by reference, ARN pattern, tags and conditions, exclusions and unknowns.
# scope: package
package soc2opa.lib.backup_test

import data.soc2opa.lib.backup

_rc(address, type, after, unknown) := {
	"address": address, "mode": "managed", "type": type, "name": split(address, ".")[1],
	"change": {"actions": ["create"], "after": after, "after_unknown": unknown},
}

_db := _rc("aws_db_instance.main", "aws_db_instance", {"identifier": "orders", "tags_all": {"backup": "daily"}}, {"arn": true})

_table := _rc("aws_dynamodb_table.t", "aws_dynamodb_table", {"name": "prod-orders", "tags_all": {}}, {"arn": true})

_volume := _rc("aws_ebs_volume.v", "aws_ebs_volume", {"tags": {"backup": "daily"}}, {"arn": true, "id": true, "tags_all": true})

_sel(after, unknown) := _rc("aws_backup_selection.s", "aws_backup_selection", after, unknown)

_plan(sel, cfg) := {
	"format_version": "1.2",
	"resource_changes": [_db, _table, _volume, sel],
	"configuration": {"root_module": {"resources": [{
		"address": "aws_backup_selection.s", "mode": "managed", "type": "aws_backup_selection",
		"name": "s", "expressions": cfg,
	}]}},
}

_status(p, r) := s if {
	s := backup.status(r) with input as p
}

test_reference_in_resources_selects if {
	p := _plan(_sel({}, {"resources": true, "not_resources": true}), {"resources": {"references": ["aws_db_instance.main.arn", "aws_db_instance.main"]}})
	_status(p, _db) == "pass"
	_status(p, _table) == "unknown" # the unknown list may hold a pattern covering it
	why := backup.why(_db, "pass") with input as p
	contains(why[0], "resources refer to it")
}

test_wildcard_pattern_by_service_and_type if {
	p := _plan(_sel({"resources": ["arn:aws:rds:*:*:db:*"]}, {"not_resources": true}), {})
	_status(p, _db) == "pass"
	_status(p, _table) == "fail"
	_status(p, _volume) == "fail"
}

test_star_selects_everything if {
	p := _plan(_sel({"resources": ["*"]}, {}), {})
	_status(p, _db) == "pass"
	_status(p, _volume) == "pass"
}

test_name_pattern_against_a_known_name if {
	p := _plan(_sel({"resources": ["arn:aws:dynamodb:*:*:table/prod-*"]}, {}), {})
	_status(p, _table) == "pass"
	q := _plan(_sel({"resources": ["arn:aws:dynamodb:*:*:table/dev-*"]}, {}), {})
	_status(q, _table) == "fail"
}

test_region_or_unknown_name_leaves_it_open if {
	p := _plan(_sel({"resources": ["arn:aws:rds:eu-west-1:*:db:*", "arn:aws:ec2:*:*:volume/vol-0abc*"]}, {}), {})
	_status(p, _db) == "unknown"
	_status(p, _volume) == "unknown"
	why := backup.why(_db, "unknown") with input as p
	contains(why[0], "may select it")
}

test_known_arn_of_an_existing_resource if {
	existing := _rc("aws_db_instance.old", "aws_db_instance", {"identifier": "old", "arn": "arn:aws:rds:us-east-1:111122223333:db:old"}, {})
	p := {"format_version": "1.2", "resource_changes": [existing, _sel({"resources": ["arn:aws:rds:us-east-1:111122223333:db:old"]}, {})]}
	_status(p, existing) == "pass"
	q := {"format_version": "1.2", "resource_changes": [existing, _sel({"resources": ["arn:aws:rds:us-east-1:111122223333:db:other"]}, {})]}
	_status(q, existing) == "fail"
}

test_selection_tags_match_tags_all_or_tags if {
	p := _plan(_sel({"resources": [], "selection_tag": [{"type": "STRINGEQUALS", "key": "backup", "value": "daily"}]}, {}), {})
	_status(p, _db) == "pass"
	_status(p, _table) == "fail" # tags_all known, no such tag
	_status(p, _volume) == "pass" # tags_all unknown, but the tag is set on the resource
}

test_resources_and_tags_narrow_each_other if {
	p := _plan(_sel({"resources": ["arn:aws:dynamodb:*:*:table/*"], "selection_tag": [{"type": "STRINGEQUALS", "key": "backup", "value": "daily"}]}, {}), {})
	_status(p, _table) == "fail"
	why := backup.why(_table, "fail") with input as p
	contains(why[0], "none of the selection tags backup=daily")
}

test_conditions_all_hold if {
	cond := [{"string_equals": [{"key": "aws:ResourceTag/backup", "value": "daily"}], "string_not_equals": [{"key": "aws:ResourceTag/env", "value": "dev"}], "string_like": [], "string_not_like": []}]
	p := _plan(_sel({"resources": ["*"], "condition": cond}, {}), {})
	_status(p, _db) == "pass"
	_status(p, _table) == "fail"
	like := [{"string_like": [{"key": "aws:ResourceTag/backup", "value": "dai*"}], "string_not_like": [{"key": "aws:ResourceTag/backup", "value": "d?ily"}]}]
	q := _plan(_sel({"resources": ["*"], "condition": like}, {}), {})
	_status(q, _db) == "fail"
}

test_not_resources_exclude if {
	p := _plan(_sel({"resources": ["*"], "not_resources": ["arn:aws:ec2:*:*:volume/*"]}, {}), {})
	_status(p, _volume) == "fail"
	_status(p, _db) == "pass"
	q := _plan(_sel({"resources": ["*"]}, {"not_resources": true}), {"not_resources": {"references": ["aws_db_instance.main.arn", "aws_db_instance.main"]}})
	_status(q, _db) == "fail"
	_status(q, _volume) == "unknown"
}

test_not_resources_left_to_the_provider_are_empty if {
	p := _plan(_sel({"resources": ["*"]}, {"not_resources": true}), {})
	_status(p, _db) == "pass"
}

test_no_selection_fails_with_a_reason if {
	p := {"format_version": "1.2", "resource_changes": [_db]}
	_status(p, _db) == "fail"
	why := backup.why(_db, "fail") with input as p
	contains(why[0], "no aws_backup_selection in this plan selects it")
}

test_s3_arn_has_no_region_or_account if {
	bucket := _rc("aws_s3_bucket.b", "aws_s3_bucket", {"bucket": "acme-data"}, {"arn": true})
	p := {"format_version": "1.2", "resource_changes": [bucket, _sel({"resources": ["arn:aws:s3:::acme-*"]}, {})]}
	_status(p, bucket) == "pass"
	backup.pattern_covers("arn:aws:s3:::other", bucket) == "fail"
}

_many(n) := {
	"format_version": "1.2",
	"resource_changes": array.concat([_table, _volume], [_rc(sprintf("aws_backup_selection.s%02d", [i]), "aws_backup_selection", {"resources": ["arn:aws:rds:*:*:db:*"]}, {}) |
		some i in numbers.range(1, n)
	]),
}

# A failing resource's reason names every selection while there are few, then the first ten
# and a count, so it does not grow with the plan.
test_fail_reason_names_at_most_ten_selections if {
	few := backup.why(_table, "fail") with input as _many(10)
	count(few) == 10
	every line in few {
		contains(line, "does not select it: its resources do not cover it")
	}
	many := backup.why(_table, "fail") with input as _many(12)
	count(many) == 11
	startswith(many[0], "aws_backup_selection.s01 does not select it")
	startswith(many[9], "aws_backup_selection.s10 does not select it")
	many[10] == "and 2 more aws_backup_selection resources in this plan do not select it"
	backup.status(_table) == "fail" with input as _many(12)
}

# A selection by a tag the resource does not have cannot select it, but one on a tag whose value
# is known only after apply may: only that one is judged, and it makes the outcome unknown.
test_only_selections_that_may_select_decide_unknown if {
	tagged := _rc("aws_backup_selection.t", "aws_backup_selection", {"selection_tag": [{"type": "STRINGEQUALS", "key": "backup", "value": "daily"}]}, {})
	other := _rc("aws_backup_selection.o", "aws_backup_selection", {"selection_tag": [{"type": "STRINGEQUALS", "key": "team", "value": "x"}]}, {})
	vol := _rc("aws_ebs_volume.u", "aws_ebs_volume", {"tags_all": {"team": "y"}}, {"arn": true, "id": true, "tags_all": {"backup": true}})
	p := {"format_version": "1.2", "resource_changes": [vol, tagged, other]}
	backup.status(vol) == "unknown" with input as p
	why := backup.why(vol, "unknown") with input as p
	why == ["aws_backup_selection.t may select it: its selection_tag or the resource's tags are known only after apply"]
	q := {"format_version": "1.2", "resource_changes": [vol, other]}
	backup.status(vol) == "fail" with input as q
}
