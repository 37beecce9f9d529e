package cairn.policy.waivers_test

import data.cairn.policy.waivers as p

waiver(expires) := {"policy": "prod_slo", "target": "deployments/api", "reason": "SLO lands next sprint", "approver": "@acme/risk", "expires": expires}

inp(ws, now) := {"bundle": {"governance": {"max_waiver_days": 90, "waivers": ws}}, "now": now}

test_active_waiver if {
	r := {"deny": p.deny, "active": p.active} with input as inp([waiver("2026-03-31")], "2026-01-15T10:00:00Z")
	count(r.deny) == 0
	r.active == {0}
}

test_valid_through_end_of_expiry_day if {
	r := {"deny": p.deny, "active": p.active} with input as inp([waiver("2026-01-15")], "2026-01-15T23:59:59Z")
	r.active == {0}
}

test_expired_at_next_utc_midnight if {
	r := {"deny": p.deny, "active": p.active} with input as inp([waiver("2026-01-15")], "2026-01-16T00:00:00Z")
	r.active == set()
	r.deny == {{"msg": "waiver of prod_slo on deployments/api is invalid: it expired at the end of 2026-01-15 (UTC)", "target": "governance", "path": "waivers[0]"}}
}

test_malformed_date_denied if {
	r := {"deny": p.deny, "active": p.active} with input as inp([waiver("15/01/2026")], "2026-01-15T00:00:00Z")
	r.active == set()
	r.deny == {{"msg": "waiver of prod_slo on deployments/api is invalid: its expiry \"15/01/2026\" is not a date YYYY-MM-DD (UTC)", "target": "governance", "path": "waivers[0]"}}
}

test_impossible_date_denied if {
	r := {"deny": p.deny, "active": p.active} with input as inp([waiver("2026-02-30")], "2026-01-15T00:00:00Z")
	count(r.deny) == 1
}

test_unapproved_denied if {
	w := object.union(waiver("2026-02-01"), {"approver": " "})
	r := {"deny": p.deny, "active": p.active} with input as inp([w], "2026-01-15T00:00:00Z")
	r.active == set()
	some v in r.deny
	endswith(v.msg, "it names no approver")
}

test_too_long_denied if {
	# 2026-01-01 + 90 days = 2026-04-01 is allowed; one day more is not.
	count(p.deny) == 0 with input as inp([waiver("2026-04-01")], "2026-01-01T18:00:00Z")
	r := {"deny": p.deny, "active": p.active} with input as inp([waiver("2026-04-02")], "2026-01-01T18:00:00Z")
	r.deny == {{"msg": "waiver of prod_slo on deployments/api is invalid: it runs 91 days ahead, more than governance.max_waiver_days (90)", "target": "governance", "path": "waivers[0]"}}
}

test_rfc3339_expiry_is_exact if {
	p.active == {0} with input as inp([waiver("2026-01-15T12:00:00Z")], "2026-01-15T11:59:59Z")
	p.active == set() with input as inp([waiver("2026-01-15T12:00:00Z")], "2026-01-15T12:00:00Z")
}

test_waivers_policy_cannot_be_waived if {
	w := object.union(waiver("2026-02-01"), {"policy": "waivers", "target": "governance"})
	r := {"deny": p.deny, "active": p.active} with input as inp([w], "2026-01-15T00:00:00Z")
	r.active == set()
}

test_bad_target_denied if {
	w := object.union(waiver("2026-02-01"), {"target": "api"})
	count(p.deny) == 1 with input as inp([w], "2026-01-15T00:00:00Z")
}

test_only_invalid_waiver_is_inactive if {
	r := {"deny": p.deny, "active": p.active} with input as inp([waiver("2026-02-01"), waiver("2025-01-01")], "2026-01-15T00:00:00Z")
	r.active == {0}
	some v in r.deny
	v.path == "waivers[1]"
}

test_no_secrets_cannot_be_waived if {
	w := object.union(waiver("2026-02-01"), {"policy": "no_secrets", "target": "prompts/answer"})
	r := {"deny": p.deny, "active": p.active} with input as inp([w], "2026-01-15T00:00:00Z")
	r.active == set()
	r.deny == {{"msg": "waiver of no_secrets on prompts/answer is invalid: a credential cannot be waived: rotate it and remove it from the repo", "target": "governance", "path": "waivers[0]"}}
}
