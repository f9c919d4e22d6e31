# METADATA
# title: Waivers
# description: >-
#   Accepted findings, read from data.soc2opa_waivers.waivers (the document `soc2opa waivers
#   --data FILE` writes; shape in docs/waivers.md). A waiver applies to the fail and unknown
#   results whose control id and resource address match its globs (* any run of characters,
#   ? one character, everything else literal) until the end of its expiry day (UTC). The soc2opa
#   CLI applies the same rules in Python; tests prove both agree.
# scope: package
package soc2opa.waivers

import data.soc2opa.main

_day_ns := ((24 * 60) * 60) * 1000000000

# METADATA
# description: >-
#   The waivers from data.soc2opa_waivers.waivers, then any given per request in
#   input.soc2opa.waivers, each with its 1-based position as index.
all_waivers := [object.union(w, {"index": i + 1}) | some i, w in array.concat(_data_waivers, _input_waivers)]

_data_waivers := data.soc2opa_waivers.waivers if is_array(data.soc2opa_waivers.waivers)

else := []

_input_waivers := input.soc2opa.waivers if is_array(input.soc2opa.waivers)

else := []

# METADATA
# description: Whether a waiver has passed its expiry day (UTC) at evaluation time.
is_expired(w) if time.now_ns() >= time.parse_ns("2006-01-02", w.expires) + _day_ns

# A waiver without a valid expires date never applies (the CLI refuses such files outright).
is_expired(w) if not _valid_date(w)

_valid_date(w) if regex.match(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`, w.expires)

# METADATA
# description: Waivers still in force.
live := [w | some w in all_waivers; not is_expired(w)]

# METADATA
# description: Waivers whose expiry day has passed; they no longer apply.
expired := [w | some w in all_waivers; is_expired(w)]

_pattern(glob_text) := strings.replace_n({`\*`: "*", `\?`: "?"}, glob.quote_meta(glob_text))

# METADATA
# description: Whether a waiver covers the (control, resource) pair.
matches(w, control_id, address) if {
	glob.match(_pattern(w.control), null, control_id)
	glob.match(_pattern(object.get(w, "resource", "*")), null, address)
}

_candidates contains [id, address] if {
	some id, d in main.controls
	some status in ["fail", "unknown"]
	some address, _ in object.get(d, status, {})
}

_first_cover[pair] := covering[0] if {
	some pair in _candidates
	covering := [w | some w in live; matches(w, pair[0], pair[1])]
	count(covering) > 0
}

# METADATA
# description: >-
#   The first live waiver (in file order) that covers each waived fail or unknown result:
#   waived[control_id][address] is that waiver.
waived := {id: by_address |
	some pair, _ in _first_cover
	id := pair[0]
	by_address := {address: w | some other, w in _first_cover; other[0] == id; address := other[1]}
}

# METADATA
# description: Whether a live waiver accepts this (control, resource) result.
applies(control_id, address) if waived[control_id][address]

_used contains w.index if {
	some _, w in _first_cover
}

# METADATA
# description: Live waivers that cover no fail or unknown result of this plan.
unmatched := [w | some w in live; not _used[w.index]]
