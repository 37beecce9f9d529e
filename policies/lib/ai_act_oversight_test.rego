package cairn.policy.ai_act_oversight_test

import data.cairn.policy.ai_act_oversight as p

system := {"deployments": ["credit-api"], "role": "provider", "annex_iii": "5b", "profiling": true, "high_risk": true}

complete := object.union(system, {
	"intended_purpose": "Creditworthiness of consumer loan applicants.",
	"oversight": {"who": "credit officers", "override": "manual decision", "stop": "cairn apply with the deployment removed"},
	"responsible": ["@acme/risk"],
})

doc(s, dates, now) := {"now": now, "bundle": {"compliance": {"frameworks": ["eu-ai-act"], "dates": dates, "systems": {"credit": s}}}}

test_complete_system_passes if {
	count(p.deny) == 0 with input as doc(complete, "enacted", "2026-11-27T00:00:00Z")
	count(p.warn) == 0 with input as doc(complete, "enacted", "2026-11-27T00:00:00Z")
}

test_missing_all_three_denied_after_the_date if {
	ds := p.deny with input as doc(system, "enacted", "2026-11-27T00:00:00Z")
	{v.path | some v in ds} == {"systems.credit.intended_purpose", "systems.credit.oversight", "systems.credit.responsible"}
	some v in ds
	v.path == "systems.credit.oversight"
	contains(v.msg, "Art 14(4)")
	contains(v.msg, "in force since 2026-08-02")
}

test_omnibus_dates_warn_until_december_2027 if {
	count(p.deny) == 0 with input as doc(system, "omnibus", "2026-11-27T00:00:00Z")
	ws := p.warn with input as doc(system, "omnibus", "2026-11-27T00:00:00Z")
	count(ws) == 3
	some v in ws
	contains(v.msg, "applies from 2027-12-02; a warning until then")
	count(p.deny) == 3 with input as doc(system, "omnibus", "2027-12-02T00:00:00Z")
}

test_not_listed_or_exempted_systems_are_out_of_scope if {
	count(p.deny) == 0 with input as doc(object.union(system, {"annex_iii": "not_listed", "high_risk": false}), "enacted", "2026-11-27T00:00:00Z")
	count(p.deny) == 0 with input as doc(object.union(system, {"high_risk": false}), "enacted", "2026-11-27T00:00:00Z")
}

test_without_the_ai_act_declared_nothing_is_asked if {
	doc2 := {"now": "2026-11-27T00:00:00Z", "bundle": {"compliance": {"frameworks": ["nist-ai-rmf"], "dates": "enacted", "systems": {"credit": system}}}}
	count(p.deny) == 0 with input as doc2
}
