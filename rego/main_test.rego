# METADATA
# title: Tests of the entry point
# description: Input problems (state files, versions, malformed sections) and the catalog.
# scope: package
package soc2opa.main_test

import data.soc2opa.lib.plan
import data.soc2opa.main

test_a_plan_has_no_problems if {
	r := main.report with input as {"format_version": "1.2", "terraform_version": "1.9.5", "resource_changes": []}
	r.problems == set()
	r.plan.format_version == "1.2"
	r.plan.resources_judged == 0
	is_string(r.bundle_revision)
	count(r.controls) > 0
}

test_state_files_are_refused if {
	main.problems == {"this is a Terraform state file, not a plan; run terraform show -json on a saved plan (terraform plan -out tfplan)"} with input as {"version": 4, "serial": 3, "lineage": "abc", "resources": []}
	some p in main.problems with input as {"format_version": "1.0", "values": {"root_module": {}}}
	contains(p, "state file")
}

test_unknown_major_format_version_is_refused if {
	some p in main.problems with input as {"format_version": "2.0", "resource_changes": []}
	startswith(p, "unsupported plan format_version 2.0")
	main.controls == {} with input as {"format_version": "2.0", "resource_changes": []}
}

test_missing_format_version_and_sections if {
	some p in main.problems with input as {"resource_changes": []}
	startswith(p, "format_version is missing")
	some q in main.problems with input as {"format_version": "1.1"}
	q == "the plan has neither resource_changes nor planned_values"
	some s in main.problems with input as [1, 2]
	startswith(s, "the JSON value is not an object")
}

test_catalog_lists_every_control if {
	every id, m in main.catalog {
		m.custom.id == id
		count(m.custom.criteria) > 0
	}
}

test_malformed_resource_changes_are_refused if {
	main.problems == {"resource_changes is not a list"} with input as {"format_version": "1.2", "resource_changes": {"a": 1}}
	main.problems == {"resource_changes[1] is not a resource change (needs address, mode, type and change.actions)"} with input as {"format_version": "1.2", "resource_changes": [
		{"address": "aws_s3_bucket.a", "mode": "managed", "type": "aws_s3_bucket", "change": {"actions": ["create"]}},
		{"address": "aws_s3_bucket.b", "type": "aws_s3_bucket", "change": {"actions": ["create"]}},
		3,
	]}
}

test_two_changes_at_one_address_are_refused if {
	rc := {"address": "aws_s3_bucket.a", "mode": "managed", "type": "aws_s3_bucket", "change": {"actions": ["create"], "after": {}}}
	other := object.union(rc, {"change": {"actions": ["create"], "after": {"bucket": "x"}}})
	deposed := object.union(rc, {"deposed": "00000001", "change": {"actions": ["delete"]}})
	main.problems == {"two resource changes have the address aws_s3_bucket.a"} with input as {"format_version": "1.2", "resource_changes": [rc, other]}
	main.problems == set() with input as {"format_version": "1.2", "resource_changes": [rc, deposed]}
}

test_format_version_must_be_a_short_string if {
	main.problems == {"format_version is a number; expected a string such as \"1.2\""} with input as {"format_version": 1, "resource_changes": []}
	some p in main.problems with input as {"format_version": concat("", ["9" | some _ in numbers.range(1, 100)]), "resource_changes": []}
	count(p) < 120
}

test_planned_values_resources_need_mode if {
	main.problems == {"planned_values has a resource without mode, type or address: \"aws_s3_bucket.a\""} with input as {"format_version": "1.2", "planned_values": {"root_module": {"resources": [{"address": "aws_s3_bucket.a", "type": "aws_s3_bucket"}]}}}
}

_no_after_plan := {"format_version": "1.2", "resource_changes": [
	{"address": "aws_acm_certificate.c", "mode": "managed", "type": "aws_acm_certificate", "name": "c", "change": {"actions": ["create"], "after": null, "after_unknown": {}}},
	{"address": "aws_backup_vault.v", "mode": "managed", "type": "aws_backup_vault", "name": "v", "change": {"actions": ["create"], "after": null, "after_unknown": {}}},
	{"address": "aws_backup_vault.w", "mode": "managed", "type": "aws_backup_vault", "name": "w", "change": {"actions": ["create"], "after": {"name": "w"}, "after_unknown": {}}},
]}

test_null_after_is_unknown_for_relation_and_rego_file_controls if {
	cs := main.controls with input as _no_after_plan

	# A relation (vault lock) and a rego-file control (ACM) both give unknown, with the reason.
	cs.backup_vault_lock_enabled.unknown["aws_backup_vault.v"] == plan.no_after_reason
	not cs.backup_vault_lock_enabled.fail["aws_backup_vault.v"]
	cs.acm_certificate_not_expiring_30_days.unknown["aws_acm_certificate.c"] == plan.no_after_reason

	# A resource with planned values keeps its verdict.
	cs.backup_vault_lock_enabled.fail["aws_backup_vault.w"]
}
