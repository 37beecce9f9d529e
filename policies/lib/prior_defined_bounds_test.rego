package cairn.policy.prior_defined_bounds_test

import data.cairn.policy.prior_defined_bounds as p

doc(status, now) := {
	"now": now,
	"bundle": {"compliance": {"frameworks": ["eu-ai-act"], "dates": "enacted", "systems": {}}},
	"context": {"bound_history": [
		{"object": "models/credit-scorer@prod", "metric": "auc", "bound": ">= 0.7", "version": "3", "status": status, "detail": "d"},
		{"object": "evals/credit-fairness", "metric": "parity", "bound": "<= 0.1", "version": "3", "status": "prior_defined", "detail": "d"},
	]},
}

test_loosened_denied_at_its_field if {
	ds := p.deny with input as doc("loosened", "2026-11-27T00:00:00Z")
	count(ds) == 1
	some v in ds
	v.target == "models/credit-scorer"
	v.path == "gates.prod.metrics.auc"
	contains(v.msg, "Art 9(8)")
}

test_loosened_before_the_date_a_warning if {
	count(p.deny) == 0 with input as doc("loosened", "2026-07-01T00:00:00Z")
	count(p.warn) == 1 with input as doc("loosened", "2026-07-01T00:00:00Z")
}

test_late_bound_a_warning if {
	count(p.deny) == 0 with input as doc("not_prior_defined", "2026-11-27T00:00:00Z")
	count(p.warn) == 1 with input as doc("not_prior_defined", "2026-11-27T00:00:00Z")
}

test_prior_tightened_unknown_pass if {
	count(p.deny) + count(p.warn) == 0 with input as doc("prior_defined", "2026-11-27T00:00:00Z")
	count(p.deny) + count(p.warn) == 0 with input as doc("tightened", "2026-11-27T00:00:00Z")
	count(p.deny) + count(p.warn) == 0 with input as doc("unknown", "2026-11-27T00:00:00Z")
}

test_eval_bounds_at_their_metric if {
	ds := p.deny with input as {"now": "2026-11-27T00:00:00Z", "bundle": {"compliance": {"frameworks": ["eu-ai-act"], "dates": "enacted", "systems": {}}}, "context": {"bound_history": [{"object": "evals/credit-fairness", "metric": "parity", "bound": "<= 0.1", "version": "3", "status": "loosened", "detail": "d"}]}}
	some v in ds
	v.target == "evals/credit-fairness"
	v.path == "metrics.parity"
}
