package cairn.policy.ai_act_fria_test

import data.cairn.policy.ai_act_fria as p

system := {"deployments": ["credit-api"], "role": "deployer", "annex_iii": "5b", "profiling": true, "high_risk": true, "files": {}}

doc(s, now) := {"now": now, "bundle": {"compliance": {"frameworks": ["eu-ai-act"], "dates": "enacted", "systems": {"credit": s}}}}

test_deployer_without_fria_denied if {
	ds := p.deny with input as doc(system, "2026-11-27T00:00:00Z")
	count(ds) == 1
	some v in ds
	v.path == "systems.credit.files"
	contains(v.msg, "Art 27(1)")
}

test_before_the_date_a_warning if {
	count(p.deny) == 0 with input as doc(system, "2026-07-01T00:00:00Z")
	count(p.warn) == 1 with input as doc(system, "2026-07-01T00:00:00Z")
}

test_fria_declared_passes if {
	count(p.deny) == 0 with input as doc(object.union(system, {"files": {"fria": "compliance/fria.md"}}), "2026-11-27T00:00:00Z")
}

test_providers_and_other_annex_points_are_out_of_scope if {
	count(p.deny) == 0 with input as doc(object.union(system, {"role": "provider"}), "2026-11-27T00:00:00Z")
	count(p.deny) == 0 with input as doc(object.union(system, {"annex_iii": "4a"}), "2026-11-27T00:00:00Z")
}
