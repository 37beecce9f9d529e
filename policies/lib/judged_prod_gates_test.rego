package cairn.policy.judged_prod_gates_test

import data.cairn.policy.judged_prod_gates as p

base := {"bundle": {
	"governance": {"require_judged_scorers": true},
	"gating": [{"object": "prompts/answer", "alias": "prod", "eval": "qa"}, {"object": "prompts/answer", "alias": "staging", "eval": "smoke"}],
	"evals": {
		"qa": {"metrics": {
			"fact": {"scorer": "factuality", "judge": {"provider": "openai", "model": "gpt-4o"}},
			"tox": {"scorer": "toxicity"},
			"exact": {"scorer": "exact"},
		}},
		"smoke": {"metrics": {"tox": {"scorer": "toxicity"}}},
	},
}}

test_offline_scorer_on_a_prod_gate_denied if {
	p.deny == {{"msg": "evals/qa metric tox gates prompts/answer at prod with the offline toxicity scorer; governance.require_judged_scorers asks for a judge (metrics.tox.judge: {provider, model})", "target": "evals/qa", "path": "metrics.tox"}} with input as base
}

test_judged_and_non_prod_pass if {
	doc := json.patch(base, [{"op": "add", "path": "/bundle/evals/qa/metrics/tox/judge", "value": {"provider": "openai", "model": "omni-moderation-latest"}}])
	count(p.deny) == 0 with input as doc
}

test_off_by_default if {
	doc := json.patch(base, [{"op": "remove", "path": "/bundle/governance/require_judged_scorers"}])
	count(p.deny) == 0 with input as doc
}
