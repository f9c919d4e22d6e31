# METADATA
# title: Tests of three-valued outcomes
# description: all_of and any_of over pass, fail and unknown.
# scope: package
package soc2opa.lib.tri_test

import data.soc2opa.lib.tri

test_all_of if {
	tri.all_of(["pass", "unknown", "fail"]) == "fail"
	tri.all_of(["pass", "unknown"]) == "unknown"
	tri.all_of(["pass"]) == "pass"
	tri.all_of([]) == "pass"
}

test_any_of if {
	tri.any_of(["fail", "unknown", "pass"]) == "pass"
	tri.any_of(["fail", "unknown"]) == "unknown"
	tri.any_of(["fail"]) == "fail"
	tri.any_of([]) == "fail"
}
