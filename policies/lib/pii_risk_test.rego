package cairn.policy.pii_risk_test

import data.cairn.policy.pii_risk as p

base := {"bundle": {
	"features": {"email": {"pii": true}, "amount": {"pii": false}},
	"models": {"m": {"risk": "medium", "features": ["email", "amount"], "pii_features": ["email"]}},
}}

test_medium_risk_with_pii_passes if {
	count(p.deny) == 0 with input as base
}

test_low_risk_with_pii_denied if {
	doc := json.patch(base, [{"op": "replace", "path": "/bundle/models/m/risk", "value": "low"}])
	p.deny == {{"msg": "model \"m\" reads PII features [\"email\"] but has risk \"low\"; PII needs risk medium or high", "target": "models/m", "path": "risk"}} with input as doc
}

test_pii_recomputed_from_features if {
	doc := json.patch(base, [
		{"op": "replace", "path": "/bundle/models/m/risk", "value": "low"},
		{"op": "remove", "path": "/bundle/models/m/pii_features"},
	])
	count(p.deny) == 1 with input as doc
}

test_low_risk_without_pii_passes if {
	doc := json.patch(base, [
		{"op": "replace", "path": "/bundle/models/m/risk", "value": "low"},
		{"op": "replace", "path": "/bundle/models/m/features", "value": ["amount"]},
		{"op": "replace", "path": "/bundle/models/m/pii_features", "value": []},
	])
	count(p.deny) == 0 with input as doc
}
