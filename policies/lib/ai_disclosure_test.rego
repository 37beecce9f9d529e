package cairn.policy.ai_disclosure_test

import data.cairn.policy.ai_disclosure as p

bundle := {
	"compliance": {"frameworks": ["eu-ai-act"], "dates": "omnibus", "systems": {}},
	"prompts": {"answer": {"version": "1.0.0"}},
	"deployments": {"support-bot": {"prompt": "answer"}, "scorer": {"model": "fraud"}},
}

test_prompt_served_without_disclosure_denied_in_both_date_sets if {
	ds := p.deny with input as {"now": "2026-11-27T00:00:00Z", "bundle": bundle}
	ds == {{"msg": "prompt answer is served to people by deployment support-bot but declares no AI disclosure (disclosure: {text} or {file}), or the deployment interacts_with_people: false: Art 50(1); in force since 2026-08-02", "target": "prompts/answer", "path": "disclosure"}}
}

test_before_august_2026_a_warning if {
	count(p.deny) == 0 with input as {"now": "2026-05-01T00:00:00Z", "bundle": bundle}
	count(p.warn) == 1 with input as {"now": "2026-05-01T00:00:00Z", "bundle": bundle}
}

test_disclosure_declared_passes if {
	b := json.patch(bundle, [{"op": "add", "path": "/prompts/answer/disclosure", "value": {"text": "You are chatting with an AI assistant."}}])
	count(p.deny) == 0 with input as {"now": "2026-11-27T00:00:00Z", "bundle": b}
}

test_no_people_no_disclosure if {
	b := json.patch(bundle, [{"op": "add", "path": "/deployments/support-bot/interacts_with_people", "value": false}])
	count(p.deny) == 0 with input as {"now": "2026-11-27T00:00:00Z", "bundle": b}
}

test_without_the_ai_act_declared_nothing_is_asked if {
	b := json.patch(bundle, [{"op": "remove", "path": "/compliance"}])
	count(p.deny) == 0 with input as {"now": "2026-11-27T00:00:00Z", "bundle": b}
}
