# METADATA
# title: Tests of the CodeBuild source authentication rules
# description: Unit tests of codebuild_source_repo_oauth.rego where it lives (make rego-check runs them).
# scope: package
package soc2opa.controls.codebuild_source_repo_oauth_rules_test

import data.soc2opa.controls.codebuild_source_repo_oauth as rules

_project(source, unknown) := {
	"address": "aws_codebuild_project.p", "mode": "managed", "type": "aws_codebuild_project", "name": "p",
	"change": {"actions": ["create"], "after": {"source": [source]}, "after_unknown": unknown, "after_sensitive": {}},
}

_credential(name, after, unknown) := {
	"address": sprintf("aws_codebuild_source_credential.%s", [name]), "mode": "managed",
	"type": "aws_codebuild_source_credential", "name": name,
	"change": {"actions": ["create"], "after": after, "after_unknown": unknown, "after_sensitive": {"token": true}},
}

_github := {"type": "GITHUB", "location": "https://github.com/acme/app.git", "auth": []}

test_token_in_url_fails_without_showing_it if {
	p := _project({"type": "GITHUB", "location": "https://bot:ghp_secret@github.com/acme/app.git"}, {})
	r := rules.result(p) with input as {"resource_changes": [p]}
	r.status == "fail"
	not contains(r.reason, "ghp_secret")
}

test_oauth_credential_for_the_server_type_passes if {
	p := _project(_github, {})
	c := _credential("gh", {"server_type": "GITHUB", "auth_type": "OAUTH"}, {})
	rules.result(p).status == "pass" with input as {"resource_changes": [p, c]}
}

test_token_credential_fails if {
	p := _project(_github, {})
	c := _credential("gh", {"server_type": "GITHUB", "auth_type": "PERSONAL_ACCESS_TOKEN"}, {})
	r := rules.result(p) with input as {"resource_changes": [p, c]}
	r.status == "fail"
	contains(r.reason, "PERSONAL_ACCESS_TOKEN")
}

test_credential_for_another_server_type_leaves_it_unknown if {
	p := _project(_github, {})
	c := _credential("bb", {"server_type": "BITBUCKET", "auth_type": "OAUTH"}, {})
	r := rules.result(p) with input as {"resource_changes": [p, c]}
	r.status == "unknown"
	contains(r.reason, "no source.auth block")
}

test_unknown_server_type_is_unknown if {
	p := _project(_github, {})
	c := _credential("x", {"auth_type": "PERSONAL_ACCESS_TOKEN"}, {"server_type": true})
	rules.result(p).status == "unknown" with input as {"resource_changes": [p, c]}
}
