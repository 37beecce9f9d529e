# METADATA
# title: Waivers are valid
# description: >-
#   A waiver (governance.waivers) names a policy id and a target "kind/name", a reason and
#   an approver, and expires on a UTC date: "YYYY-MM-DD" is valid through the end of that
#   day (or an RFC 3339 time, valid until that instant). It may not reach further than
#   governance.max_waiver_days days past today (counted in UTC calendar days). An expired,
#   unparseable, unapproved, unexplained or over-long waiver is itself denied, and it
#   suppresses nothing. The waivers policy cannot be waived, nor can no_secrets: a credential
#   in a spec, template, dataset or policy must be rotated and removed, or every path that
#   renders or sends the file would carry it.
# custom:
#   id: waivers
#   severity: deny
package cairn.policy.waivers

import data.cairn.util

waivers := object.get(input.bundle, ["governance", "waivers"], [])

max_days := object.get(input.bundle, ["governance", "max_waiver_days"], 90)

# end_ns(w) is the first instant at which the waiver no longer applies.
end_ns(w) := util.date_ns(w.expires) + util.day_ns

end_ns(w) := time.parse_rfc3339_ns(w.expires) if not util.date_ns(w.expires)

# reach_ns(w) is how far ahead the waiver reaches: whole days for a date, exact for a time.
reach_ns(w) := util.date_ns(w.expires) - util.today_ns

reach_ns(w) := time.parse_rfc3339_ns(w.expires) - util.now_ns if not util.date_ns(w.expires)

problems contains [i, sprintf("its expiry %q is not a date YYYY-MM-DD (UTC)", [w.expires])] if {
	some i, w in waivers
	not end_ns(w)
}

problems contains [i, sprintf("it expired at the end of %s (UTC)", [w.expires])] if {
	some i, w in waivers
	util.date_ns(w.expires)
	util.now_ns >= end_ns(w)
}

problems contains [i, sprintf("it expired at %s", [w.expires])] if {
	some i, w in waivers
	not util.date_ns(w.expires)
	util.now_ns >= end_ns(w)
}

problems contains [i, sprintf("it runs %d days ahead, more than governance.max_waiver_days (%d)", [ceil(reach_ns(w) / util.day_ns), max_days])] if {
	some i, w in waivers
	reach_ns(w) > max_days * util.day_ns
}

problems contains [i, "it names no approver"] if {
	some i, w in waivers
	util.placeholder(object.get(w, "approver", ""))
}

problems contains [i, "it gives no reason"] if {
	some i, w in waivers
	util.placeholder(object.get(w, "reason", ""))
}

problems contains [i, sprintf("its target %q is not \"kind/name\", \"project\" or \"governance\"", [w.target])] if {
	some i, w in waivers
	not regex.match(`^([a-z]+/[a-z0-9][a-z0-9-]*|project|governance)$`, w.target)
}

problems contains [i, "the waivers policy cannot be waived"] if {
	some i, w in waivers
	w.policy == "waivers"
}

problems contains [i, "a credential cannot be waived: rotate it and remove it from the repo"] if {
	some i, w in waivers
	w.policy == "no_secrets"
}

deny contains v if {
	some [i, p] in problems
	w := waivers[i]
	v := {
		"msg": sprintf("waiver of %s on %s is invalid: %s", [w.policy, w.target, p]),
		"target": "governance",
		"path": sprintf("waivers[%d]", [i]),
	}
}

# active holds the indexes of the waivers that suppress violations now.
active contains i if {
	some i, _ in waivers
	count([p | some [j, p] in problems; j == i]) == 0
}
