package cairn.policy.prod_gated_test

import data.cairn.policy.prod_gated as p

base := {"bundle": {
	"models": {"m": {"aliases": {"prod": "3", "staging": "4"}, "gates": {"prod": {"evals": ["holdout"]}}}},
	"prompts": {"a": {"labels": {"prod": "1.0.0"}, "gates": {}}},
	"gating": [{"object": "models/m", "alias": "prod", "eval": "holdout"}, {"object": "prompts/a", "alias": "prod", "eval": "qa"}],
}}

test_gated_prod_passes if {
	count(p.deny) == 0 with input as base
}

test_ungated_prompt_label_denied if {
	doc := json.patch(base, [{"op": "replace", "path": "/bundle/gating", "value": [{"object": "models/m", "alias": "prod", "eval": "holdout"}]}])
	p.deny == {{"msg": "prompts/a is served at prod but no eval gates its prod label; add gates.prod.evals", "target": "prompts/a", "path": "labels.prod"}} with input as doc
}

test_gate_declared_on_object_counts if {
	doc := json.patch(base, [{"op": "replace", "path": "/bundle/gating", "value": []}])
	p.deny == {{"msg": "prompts/a is served at prod but no eval gates its prod label; add gates.prod.evals", "target": "prompts/a", "path": "labels.prod"}} with input as doc
}

test_staging_only_needs_no_gate if {
	doc := json.patch(base, [{"op": "remove", "path": "/bundle/prompts/a/labels/prod"}])
	count(p.deny) == 0 with input as doc
}
