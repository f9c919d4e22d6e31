# METADATA
# title: CodeBuild source repository authentication (hand-written check)
# description: >-
#   The escape hatch of codebuild_source_repo_oauth: a GitHub, GitHub Enterprise, Bitbucket or
#   GitLab source must not carry a user name or token in its URL, and must authenticate with
#   OAuth, a CodeConnections connection or Secrets Manager, either on the project (source.auth)
#   or through the region's aws_codebuild_source_credential for that server type. The source
#   credentials in the plan are grouped by server type once per evaluation. soc2opa build copies
#   the rules below the imports into the generated package.
# scope: package
package soc2opa.controls.codebuild_source_repo_oauth

import data.soc2opa.lib.plan

_project_auth := {"OAUTH", "CODECONNECTIONS", "SECRETS_MANAGER"}

_credential_auth := {"OAUTH", "CODECONNECTIONS"}

# A user name or token before the host: https://user:token@github.com/...
_userinfo := `^[A-Za-z][A-Za-z0-9+.-]*://[^/?#@]+@`

# Source credentials by server type; those whose server type is unknown are kept apart.
_credentials := plan.group({[plan.value_or(c, ["server_type"], ""), c.address] |
	some c in plan.of_types({"aws_codebuild_source_credential"})
	not plan.unknown_at(c, ["server_type"])
})

_unknown_server_type := [c.address |
	some c in plan.of_types({"aws_codebuild_source_credential"})
	plan.unknown_at(c, ["server_type"])
]

_credential(addr) := plan.resources[plan.by_address[addr]]

# METADATA
# description: The outcome for one project and the reason for it, together.
result(r) := _result("unknown", "the source location is known only after apply") if {
	plan.unknown_at(r, ["source", 0, "location"])
} else := _result("fail", "the source location carries a user name or token before the host (scheme://user:token@host); the value is not shown") if {
	plan.matches(_userinfo, plan.value_or(r, ["source", 0, "location"], ""))
} else := _result("unknown", "source.auth type is known only after apply") if {
	plan.unknown_at(r, ["source", 0, "auth", 0, "type"])
} else := _result("pass", sprintf("source.auth type is %s", [plan.show(r, ["source", 0, "auth", 0, "type"], null)])) if {
	plan.value_or(r, ["source", 0, "auth", 0, "type"], "") in _project_auth
} else := _result("fail", sprintf("source.auth type is %s; expected OAUTH, CODECONNECTIONS or SECRETS_MANAGER", [plan.show(r, ["source", 0, "auth", 0, "type"], null)])) if {
	plan.present(plan.value_or(r, ["source", 0, "auth", 0, "type"], null))
} else := _from_credentials(plan.value_or(r, ["source", 0, "type"], ""))

_from_credentials(server) := _result("pass", sprintf("%s stores a %s credential for %s", [good[0], plan.show(_credential(good[0]), ["auth_type"], null), server])) if {
	# The first credential names the outcome: one value per credential would conflict when
	# several are stored for the same server type.
	good := [addr |
		some addr in object.get(_credentials, server, [])
		c := _credential(addr)
		not plan.unknown_at(c, ["auth_type"])
		plan.value_or(c, ["auth_type"], "") in _credential_auth
	]
	count(good) > 0
} else := _result("unknown", sprintf("the auth_type of %s is known only after apply", [concat(", ", unknown)])) if {
	unknown := [addr | some addr in object.get(_credentials, server, []); plan.unknown_at(_credential(addr), ["auth_type"])]
	count(unknown) > 0
} else := _result("unknown", sprintf("the server_type of %s is known only after apply", [_unknown_server_type[0]])) if {
	count(_unknown_server_type) > 0
} else := _result("fail", concat("; ", [sprintf("%s stores a %s credential for %s; expected OAUTH or CODECONNECTIONS", [addr, plan.show(_credential(addr), ["auth_type"], null), server]) |
	some addr in object.get(_credentials, server, [])
])) if {
	count(object.get(_credentials, server, [])) > 0
} else := _result("unknown", sprintf("no source.auth block and no aws_codebuild_source_credential for %s in this plan: the credential stored for the region, which the plan cannot show, decides", [server]))

_result(status, reason) := {"status": status, "reason": reason}
