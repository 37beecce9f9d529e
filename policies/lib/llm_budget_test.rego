package cairn.policy.llm_budget_test

import data.cairn.policy.llm_budget as p

base := {"bundle": {
	"deployments": {"chat": {"kind": "llm", "prompt": "answer", "projection": {"usd_per_month": 120.5, "usd_per_1k_requests": 1.5}}},
	"slos": {"latency": {"deployment": "chat", "budget": {"usd_per_month": 500}}},
}}

test_under_budget_passes if {
	count(p.deny) == 0 with input as base
}

test_over_monthly_budget_denied if {
	doc := json.patch(base, [{"op": "replace", "path": "/bundle/slos/latency/budget/usd_per_month", "value": 100}])
	p.deny == {{"msg": "LLM deployment \"chat\" is projected at $120.50 per month, over the $100.00 budget of SLO \"latency\"", "target": "deployments/chat", "path": "traffic"}} with input as doc
}

test_over_per_1k_budget_denied if {
	doc := json.patch(base, [{"op": "add", "path": "/bundle/slos/latency/budget/usd_per_1k_requests", "value": 1}])
	some v in p.deny with input as doc
	contains(v.msg, "per 1k requests")
}

test_no_budget_denied if {
	doc := json.patch(base, [{"op": "remove", "path": "/bundle/slos/latency/budget"}])
	some v in p.deny with input as doc
	startswith(v.msg, "LLM deployment \"chat\" declares no budget")
}

test_unprojectable_cost_denied if {
	doc := json.patch(base, [{"op": "remove", "path": "/bundle/deployments/chat/projection"}])
	some v in p.deny with input as doc
	contains(v.msg, "cannot be projected")
}

test_projection_error_denied if {
	doc := json.patch(base, [{"op": "replace", "path": "/bundle/deployments/chat/projection", "value": {"error": "no price for model x"}}])
	p.deny == {{"msg": "the cost of LLM deployment \"chat\" cannot be projected against its budget: no price for model x", "target": "deployments/chat", "path": "traffic"}} with input as doc
}

test_classic_deployment_needs_no_budget if {
	doc := json.patch(base, [
		{"op": "replace", "path": "/bundle/deployments/chat/kind", "value": "classic"},
		{"op": "remove", "path": "/bundle/slos/latency/budget"},
	])
	count(p.deny) == 0 with input as doc
}
