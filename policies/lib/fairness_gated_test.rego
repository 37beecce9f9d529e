package cairn.policy.fairness_gated_test

import data.cairn.policy.fairness_gated as p

base := {"bundle": {
	"models": {"m": {"kind": "classic", "risk": "high", "aliases": {"prod": "3"}, "gates": {"prod": {"evals": ["holdout", "fair"]}}}},
	"evals": {
		"holdout": {"metrics": {"acc": {"scorer": "accuracy"}}, "predictions": {"label": "y", "score": "p"}},
		"fair": {"metrics": {"dp": {"scorer": "demographic_parity_difference"}}, "predictions": {"label": "y", "score": "p", "sensitive": ["sex"]}},
	},
}}

want := {{"msg": "models/m is high-risk (by its risk or the AI system serving it) and served at prod, but no fairness eval gates its prod alias: list an eval with predictions.sensitive and a fairness metric under gates.prod.evals", "target": "models/m", "path": "aliases.prod"}}

test_fairness_eval_at_prod_passes if {
	count(p.deny) == 0 with input as base
}

test_no_fairness_eval_denied if {
	doc := json.patch(base, [{"op": "replace", "path": "/bundle/models/m/gates/prod/evals", "value": ["holdout"]}])
	p.deny == want with input as doc
}

# A fairness metric over no declared protected attribute is not a fairness gate.
test_fairness_metric_without_sensitive_denied if {
	doc := json.patch(base, [{"op": "remove", "path": "/bundle/evals/fair/predictions/sensitive"}])
	p.deny == want with input as doc
}

test_computed_fairness_metric_gate_counts if {
	doc := json.patch(base, [
		{"op": "replace", "path": "/bundle/models/m/gates/prod/evals", "value": ["holdout"]},
		{"op": "add", "path": "/bundle/models/m/gates/prod/metrics", "value": {"fair.dp": "<= 0.1"}},
	])
	count(p.deny) == 0 with input as doc
}

test_medium_risk_and_llm_need_none if {
	medium := json.patch(base, [{"op": "replace", "path": "/bundle/models/m/risk", "value": "medium"}, {"op": "replace", "path": "/bundle/models/m/gates/prod/evals", "value": []}])
	count(p.deny) == 0 with input as medium
	llm := json.patch(base, [{"op": "replace", "path": "/bundle/models/m/kind", "value": "llm"}, {"op": "replace", "path": "/bundle/models/m/gates/prod/evals", "value": []}])
	count(p.deny) == 0 with input as llm
}

test_no_prod_alias_needs_none if {
	doc := json.patch(base, [{"op": "remove", "path": "/bundle/models/m/aliases/prod"}, {"op": "replace", "path": "/bundle/models/m/gates/prod/evals", "value": []}])
	count(p.deny) == 0 with input as doc
}

# A model of risk "medium" is in scope when a high-risk AI system serves it.
test_served_by_a_high_risk_system if {
	b := {
		"models": {"scorer": {"name": "scorer", "kind": "classic", "risk": "medium", "aliases": {"prod": "1"}, "gates": {}}},
		"evals": {},
		"deployments": {"credit-api": {"model": "scorer"}},
		"compliance": {"frameworks": ["eu-ai-act"], "dates": "enacted", "systems": {"credit": {"deployments": ["credit-api"], "high_risk": true}}},
	}
	count(p.deny) == 1 with input as {"bundle": b}
	count(p.deny) == 0 with input as {"bundle": json.patch(b, [{"op": "replace", "path": "/compliance/systems/credit/high_risk", "value": false}])}
}
