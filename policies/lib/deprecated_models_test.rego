package cairn.policy.deprecated_models_test

import data.cairn.policy.deprecated_models as p

catalog := {"models": {"old-model-0613": {"date": "2025-06-06"}}}

bundle(id) := {
	"models": {"chat": {"kind": "llm", "model_id": id}},
	"prompts": {"answer": {"model": {"id": "gpt-4o-mini"}}},
	"evals": {"qa": {"metrics": {"facts": {"scorer": "factuality", "judge": {"model": "gpt-4o"}}}}},
}

inp(id, now) := {"bundle": bundle(id), "now": now}

test_supported_model_passes if {
	r := {"deny": p.deny, "warn": p.warn} with input as inp("gpt-4o-mini", "2025-06-10T00:00:00Z")
		with data.cairn.catalog.deprecations as catalog
	count(r.deny) == 0
	count(r.warn) == 0
}

test_deprecated_model_denied_on_the_date if {
	r := {"deny": p.deny, "warn": p.warn} with input as inp("old-model-0613", "2025-06-06T00:00:00Z")
		with data.cairn.catalog.deprecations as catalog
	r.deny == {{"msg": "model id \"old-model-0613\" was deprecated on 2025-06-06; move to a supported model", "target": "models/chat", "path": "model_id"}}
}

test_warned_within_60_days if {
	r := {"deny": p.deny, "warn": p.warn} with input as inp("old-model-0613", "2025-04-07T12:00:00Z")
		with data.cairn.catalog.deprecations as catalog
	count(r.deny) == 0
	r.warn == {{"msg": "model id \"old-model-0613\" is deprecated on 2025-06-06 (in 60 days); plan the move", "target": "models/chat", "path": "model_id"}}
}

test_not_warned_61_days_ahead if {
	r := {"deny": p.deny, "warn": p.warn} with input as inp("old-model-0613", "2025-04-06T00:00:00Z")
		with data.cairn.catalog.deprecations as catalog
	count(r.warn) == 0
}

test_provider_prefix_matched if {
	r := {"deny": p.deny, "warn": p.warn} with input as inp("openai/old-model-0613", "2026-01-01T00:00:00Z")
		with data.cairn.catalog.deprecations as catalog
	count(r.deny) == 1
}

test_judge_and_prompt_ids_checked if {
	b := json.patch(bundle("x"), [
		{"op": "replace", "path": "/prompts/answer/model/id", "value": "old-model-0613"},
		{"op": "replace", "path": "/evals/qa/metrics/facts/judge/model", "value": "old-model-0613"},
	])
	paths := {v.path | some v in p.deny} with input as {"bundle": b, "now": "2026-01-01T00:00:00Z"}
		with data.cairn.catalog.deprecations as catalog
	paths == {"model.id", "metrics.facts.judge.model"}
}

test_embedded_catalog_is_loaded if {
	data.cairn.catalog.deprecations.models["gpt-4-0613"].date == "2025-06-06"
}

test_registry_model_deprecated_while_served if {
	b := {"models": {"fraud": {"kind": "classic", "deprecated": "2025-01-31", "served_by": ["api"]}}}
	some v in p.deny with input as {"bundle": b, "now": "2025-02-01T00:00:00Z"}
	v.target == "models/fraud"
	v.path == "deprecated"
}

test_registry_model_judged_by_the_day if {
	b := {"models": {"fraud": {"kind": "classic", "deprecated": "2025-01-31T18:00:00Z", "served_by": ["api"]}}}

	# From the start of the deprecated time's day, not its hour.
	some v in p.deny with input as {"bundle": b, "now": "2025-01-31T09:00:00Z"}
	v.msg == "model \"fraud\" was deprecated on 2025-01-31T18:00:00Z but deployments [\"api\"] still serve it"
	count(p.deny) == 0 with input as {"bundle": b, "now": "2025-01-30T23:59:59Z"}

	# Warned in whole days before it, whatever the hour.
	some w in p.warn with input as {"bundle": b, "now": "2025-01-30T23:59:59Z"}
	w.msg == "model \"fraud\" is deprecated on 2025-01-31T18:00:00Z (in 1 days) and still served by [\"api\"]"
}

test_registry_model_not_served_is_not_judged if {
	b := {"models": {"fraud": {"kind": "classic", "deprecated": "2025-01-31", "served_by": []}}}
	count(p.deny) == 0 with input as {"bundle": b, "now": "2025-02-01T00:00:00Z"}
}
