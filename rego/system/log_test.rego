# METADATA
# title: Decision log mask tests
# scope: package
package system.log_test

import data.system.log

test_mask_replaces_the_input_by_its_digest if {
	event := {"input": {"variables": {"password": {"value": "hunter2"}}}, "result": true}
	masks := log.mask with input as event
	some m in masks
	m.op == "upsert"
	m.path == "/input"
	m.value.soc2opa_masked
	m.value.sha256 == crypto.sha256(json.marshal(event.input))
	not contains(json.marshal(masks), "hunter2")
}

test_no_mask_without_input if {
	count(log.mask) == 0 with input as {"result": true}
}
