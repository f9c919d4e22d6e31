# METADATA
# title: Three-valued outcomes
# description: >-
#   Combines pass, fail and unknown outcomes. A value known only after apply makes a check
#   unknown, never pass; all-of fails on any failure, any-of passes on any pass.
# scope: package
package soc2opa.lib.tri

# METADATA
# description: fail if any outcome fails, else unknown if any is unknown, else pass (also when empty).
all_of(xs) := "fail" if {
	"fail" in xs
} else := "unknown" if {
	"unknown" in xs
} else := "pass"

# METADATA
# description: pass if any outcome passes, else unknown if any is unknown, else fail (also when empty).
any_of(xs) := "pass" if {
	"pass" in xs
} else := "unknown" if {
	"unknown" in xs
} else := "fail"
