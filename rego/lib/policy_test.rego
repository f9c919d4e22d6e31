# METADATA
# title: Tests of JSON policy documents
# description: Decoding, principals, conditions, IAM wildcard actions and node outcomes with reasons.
# scope: package
package soc2opa.lib.policy_test

import data.soc2opa.lib.policy

_public_read := {
	"Sid": "PublicRead",
	"Effect": "Allow",
	"Principal": "*",
	"Action": ["s3:GetObject"],
	"Resource": "arn:aws:s3:::acme/*",
}

_tls := {
	"Effect": "Deny",
	"Principal": {"AWS": "*"},
	"Action": "s3:*",
	"Resource": ["arn:aws:s3:::acme", "arn:aws:s3:::acme/*"],
	"Condition": {"Bool": {"aws:SecureTransport": "false"}},
}

_doc(statements) := json.marshal({"Version": "2012-10-17", "Statement": statements})

_res(after, unknown, sensitive) := {
	"address": "aws_s3_bucket_policy.p",
	"mode": "managed",
	"type": "aws_s3_bucket_policy",
	"name": "p",
	"change": {"actions": ["create"], "after": after, "after_unknown": unknown, "after_sensitive": sensitive},
}

_public := {"effect": "Allow", "principal": "public"}

_deny_tls := {
	"effect": "Deny",
	"principal": "everyone",
	"actions": ["s3:*"],
	"condition": [
		{"test": "Bool", "key": "aws:SecureTransport", "value": "false"},
		{"test": "NumericLessThan", "key": "s3:TlsVersion", "value": "1.2"},
	],
}

_what := ["an Allow statement for everyone", "Allow statement for everyone"]

test_decode_states if {
	policy.decode(null).state == "absent"
	policy.decode("").state == "absent"
	policy.decode("{not json").problem == "is not valid JSON"
	policy.decode("[1]").problem == "is a JSON array, not a policy object"
	policy.decode("{}").problem == "has no Statement"
	policy.decode(`{"Statement": "x"}`).problem == "has a Statement that is not a list of objects"
	policy.decode(`{"Statement": [1]}`).problem == "has a Statement that is not a list of objects"
	policy.decode(12).problem == "is a number, not a JSON string"
	policy.decode(`{"Statement": {"Effect": "Allow"}}`) == {"state": "ok", "statements": [{"Effect": "Allow"}]}
	policy.decode({"Statement": []}) == {"state": "ok", "statements": []}
}

test_everyone if {
	policy.everyone({"Principal": "*"})
	policy.everyone({"Principal": {"AWS": "*"}})
	policy.everyone({"Principal": {"AWS": ["arn:aws:iam::111122223333:root", "*"]}})
	policy.everyone({"NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}})
	not policy.everyone({"Principal": {"AWS": "arn:aws:iam::111122223333:root"}})
	not policy.everyone({"Principal": {"Service": "cloudtrail.amazonaws.com"}})
	not policy.everyone({"NotPrincipal": null})
}

test_restricting_conditions if {
	keys := policy.default_restricting_keys
	policy.restricted({"Condition": {"StringEquals": {"AWS:SourceAccount": "111122223333"}}}, keys)
	policy.restricted({"Condition": {"ForAnyValue:StringLike": {"aws:PrincipalOrgID": ["o-abc"]}}}, keys)
	policy.restricted({"Condition": {"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:sns:*:1:t"}}}, keys)
	not policy.restricted({"Condition": {"StringNotEquals": {"aws:SourceAccount": "111122223333"}}}, keys)
	not policy.restricted({"Condition": {"StringLike": {"aws:SourceArn": "*"}}}, keys)
	not policy.restricted({"Condition": {"StringLike": {"aws:SourceArn": ["*"]}}}, keys)
	not policy.restricted({"Condition": {"Null": {"aws:SourceArn": "false"}}}, keys)
	not policy.restricted({"Condition": {"Bool": {"aws:SecureTransport": "true"}}}, keys)
	not policy.restricted({"Condition": {"Bool": "x"}}, keys)
	not policy.restricted({}, keys)
	not policy.restricted({"Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}, ["aws:sourcearn"])
}

test_wildcard_actions if {
	policy.wildcard_match("*", "s3:GetObject")
	policy.wildcard_match("s3:*", "S3:GetObject")
	policy.wildcard_match("S3:Get*", "s3:getobject")
	policy.wildcard_match("s3:Get?bject", "s3:GetObject")
	policy.wildcard_match("s3:*", "s3:*")
	policy.wildcard_match("*", "s3:*")
	not policy.wildcard_match("s3:Get*", "s3:*")
	not policy.wildcard_match("s3:Get*", "s3:PutObject")
	not policy.wildcard_match("s3:GetObject", "s3:GetObjectAcl")
	not policy.wildcard_match("s3:(Get|Put)Object", "s3:GetObject")
	policy.wildcard_match("s3:(Get|Put)Object", "s3:(get|put)object")
	not policy.wildcard_match(["s3:*"], "s3:GetObject")
}

test_covers_action_and_not_action if {
	policy.covers({"Action": "s3:*"}, "s3:GetObject")
	policy.covers({"Action": ["sqs:SendMessage", "s3:Get*"]}, "s3:GetObject")
	not policy.covers({"Action": "s3:Put*"}, "s3:GetObject")
	policy.covers({"NotAction": "s3:Delete*"}, "s3:GetObject")
	not policy.covers({"NotAction": ["s3:Delete*", "s3:Get*"]}, "s3:GetObject")
	not policy.covers({}, "s3:GetObject")
}

test_covers_resource_and_not_resource if {
	policy.covers_resource({"Resource": "*"}, "*")
	policy.covers_resource({"Resource": ["arn:aws:s3:::a", "*"]}, "*")
	not policy.covers_resource({"Resource": "arn:aws:s3:::acme/*"}, "*")
	not policy.covers_resource({"Resource": ["arn:aws:iam::*:role/x"]}, "*")
	policy.covers_resource({"Resource": "arn:aws:s3:::acme/*"}, "arn:aws:s3:::acme/key")
	not policy.covers_resource({"Resource": "arn:aws:s3:::Acme/*"}, "arn:aws:s3:::acme/key")
	policy.covers_resource({"NotResource": "arn:aws:s3:::secret"}, "*")
	not policy.covers_resource({"NotResource": ["arn:aws:s3:::a", "*"]}, "*")
	policy.covers_resource({"Effect": "Allow"}, "*")
	not policy.covers_resource({"Resource": 3}, "*")
}

test_resources_in_a_pattern if {
	admin := {"effect": "Allow", "actions": ["*"], "resources": ["*"]}
	policy.matches({"Effect": "Allow", "Action": "*", "Resource": "*"}, admin)
	not policy.matches({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::acme/*"}, admin)
	policy.matches({"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::acme"}, admin)
	policy.matches({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::acme/*"}, {"effect": "Allow", "actions": ["*"]})
}

test_conditions if {
	c := {"test": "Bool", "key": "aws:SecureTransport", "value": "false"}
	policy.has_condition({"Condition": {"Bool": {"aws:SecureTransport": "false"}}}, c)
	policy.has_condition({"Condition": {"bool": {"AWS:SecureTransport": "FALSE"}}}, c)
	policy.has_condition({"Condition": {"BoolIfExists": {"aws:SecureTransport": false}}}, c)
	policy.has_condition({"Condition": {"Bool": {"aws:SecureTransport": ["false"]}}}, c)
	not policy.has_condition({"Condition": {"Bool": {"aws:SecureTransport": "true"}}}, c)
	not policy.has_condition({"Condition": {"StringEquals": {"aws:SecureTransport": "false"}}}, c)
	policy.has_condition(
		{"Condition": {"NumericLessThan": {"s3:TlsVersion": 1.2}}},
		{"test": "NumericLessThan", "key": "s3:TlsVersion", "value": "1.2"},
	)
}

test_matches_pattern if {
	policy.matches(_public_read, _public)
	policy.matches(_public_read, {"effect": "Allow", "actions_any": ["s3:ListBucket", "s3:GetObject"]})
	not policy.matches(_public_read, {"effect": "Allow", "actions_any": ["s3:PutObject"]})
	not policy.matches(_public_read, {"effect": "Deny"})
	not policy.matches(object.union(_public_read, {"Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}), _public)
	policy.matches(
		object.union(_public_read, {"Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}),
		{"effect": "Allow", "principal": "public", "restricted_by": ["aws:sourcearn"]},
	)
	policy.matches(_public_read, {"effect": "Allow", "principal": "everyone"})
	policy.matches(_tls, _deny_tls)
	not policy.matches(object.union(_tls, {"Action": "s3:GetObject"}), _deny_tls)
	not policy.matches(object.remove(_tls, ["Condition"]), _deny_tls)
	not policy.matches(object.union(object.remove(_tls, ["Principal"]), {"Principal": {"Service": "s3.amazonaws.com"}}), _deny_tls)
}

test_status_none if {
	policy.status(_res({"policy": _doc([_public_read])}, {}, {}), ["policy"], "none", _public, "unknown") == "fail"
	policy.status(_res({"policy": _doc([_tls])}, {}, {}), ["policy"], "none", _public, "unknown") == "pass"
	policy.status(_res({}, {}, {}), ["policy"], "none", _public, "unknown") == "pass"
	policy.status(_res({"policy": "oops"}, {}, {}), ["policy"], "none", _public, "unknown") == "fail"
	policy.status(_res({}, {"policy": true}, {}), ["policy"], "none", _public, "unknown") == "unknown"
	policy.status(_res({}, {"policy": true}, {}), ["policy"], "none", _public, "fail") == "fail"
}

test_status_some if {
	policy.status(_res({"policy": _doc([_public_read, _tls])}, {}, {}), ["policy"], "some", _deny_tls, "unknown") == "pass"
	policy.status(_res({"policy": _doc([_public_read])}, {}, {}), ["policy"], "some", _deny_tls, "unknown") == "fail"
	policy.status(_res({"policy": null}, {}, {}), ["policy"], "some", _deny_tls, "unknown") == "fail"
}

_cfg(expressions) := {"configuration": {"root_module": {"resources": [{
	"address": "aws_s3_bucket_policy.p",
	"mode": "managed",
	"type": "aws_s3_bucket_policy",
	"name": "p",
	"expressions": expressions,
}]}}}

test_unknown_left_to_the_provider_is_absent if {
	r := _res({}, {"policy": true}, {})
	pc := {"resource_changes": [r]}
	policy.document(r, ["policy"]) == {"state": "absent"} with input as object.union(pc, _cfg({"bucket": {"constant_value": "acme"}}))
	policy.document(r, ["policy"]) == {"state": "unknown"} with input as object.union(pc, _cfg({"policy": {"references": ["aws_s3_bucket.b.arn"]}}))
	policy.document(r, ["policy"]) == {"state": "unknown"} with input as pc
}

test_reasons if {
	r := _res({"policy": _doc([_tls, _public_read])}, {}, {})
	policy.why(r, ["policy"], "policy", "none", _public, _what, "fail", "fail") == ["policy: statement 1 (Sid \"PublicRead\") is an Allow statement for everyone"]
	policy.why(r, ["policy"], "policy", "none", _public, _what, "fail", "unknown") == []
	s := _res({"policy": _doc([_public_read])}, {}, {"policy": true})
	policy.why(s, ["policy"], "policy", "none", _public, _what, "fail", "fail") == ["policy: statement 0 is an Allow statement for everyone"]
	policy.why(r, ["policy"], "policy", "some", _deny_tls, ["a Deny", "Deny"], "fail", "fail") == ["policy has no Deny"]
	u := _res({}, {"policy": true}, {})
	policy.why(u, ["policy"], "policy", "none", _public, _what, "unknown", "unknown") == ["policy is known only after apply"]
	a := _res({}, {}, {})
	policy.why(a, ["policy"], "policy", "some", _deny_tls, ["a Deny", "Deny"], "fail", "fail") == ["policy is not set"]
	b := _res({"policy": "[]"}, {}, {})
	policy.why(b, ["policy"], "policy", "none", _public, _what, "fail", "fail") == ["policy is a JSON array, not a policy object"]
}
