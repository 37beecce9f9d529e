package cairn.policy.llm_prod_evals_test

import data.cairn.policy.llm_prod_evals as p

base := {"bundle": {
	"prompts": {"answer": {"labels": {"prod": "1.2.0"}, "gates": {"prod": {"evals": ["facts", "safety"]}}}},
	"evals": {
		"facts": {"metrics": {"factual": {"scorer": "factuality"}}},
		"safety": {"metrics": {"toxic": {"scorer": "toxicity"}}},
	},
	"gating": [],
}}

test_both_scorers_pass if {
	count(p.deny) == 0 with input as base
}

test_missing_toxicity_denied if {
	doc := json.patch(base, [{"op": "replace", "path": "/bundle/prompts/answer/gates/prod/evals", "value": ["facts"]}])
	p.deny == {{"msg": "prompts/answer is served at prod but none of its prod gate evals scores toxicity", "target": "prompts/answer", "path": "labels.prod"}} with input as doc
}

test_gating_facts_count if {
	doc := json.patch(base, [
		{"op": "replace", "path": "/bundle/prompts/answer/gates", "value": {}},
		{"op": "replace", "path": "/bundle/gating", "value": [{"object": "prompts/answer", "alias": "prod", "eval": "facts"}, {"object": "prompts/answer", "alias": "prod", "eval": "safety"}]},
	])
	count(p.deny) == 0 with input as doc
}

test_llm_model_alias_checked if {
	doc := json.patch(base, [{"op": "add", "path": "/bundle/models", "value": {"chat": {"kind": "llm", "aliases": {"prod": "1"}, "gates": {}}}}])
	count(p.deny) == 2 with input as doc
}
