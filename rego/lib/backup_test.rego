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
