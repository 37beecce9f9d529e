package cairn.policy.sensitive_domains_test

import data.cairn.policy.sensitive_domains as p

base := {"bundle": {
	"governance": {"sensitive_domains": ["credit"]},
	"models": {"scorer": {"kind": "classic", "domain": "credit", "sensitive": true, "risk": "high", "explainability": {"method": "shap"}}},
}}

test_sensitive_model_with_explainability_and_high_risk_passes if {
	count(p.deny) == 0 with input as base
}

test_low_risk_sensitive_model_denied if {
	doc := json.patch(base, [{"op": "replace", "path": "/bundle/models/scorer/risk", "value": "medium"}])
	p.deny == {{"msg": "model \"scorer\" is in sensitive domain \"credit\" but has risk \"medium\"; it must be \"high\"", "target": "models/scorer", "path": "risk"}} with input as doc
}

test_missing_explainability_denied if {
	doc := json.patch(base, [{"op": "replace", "path": "/bundle/models/scorer/explainability", "value": {"method": "none"}}])
	some v in p.deny with input as doc
	v.path == "explainability"
}

test_sensitivity_recomputed_from_governance if {
	doc := json.patch(base, [
		{"op": "remove", "path": "/bundle/models/scorer/sensitive"},
		{"op": "replace", "path": "/bundle/models/scorer/risk", "value": "low"},
	])
	count(p.deny) == 1 with input as doc
}

test_other_domain_ignored if {
	doc := json.patch(base, [
		{"op": "replace", "path": "/bundle/models/scorer/domain", "value": "support"},
		{"op": "replace", "path": "/bundle/models/scorer/sensitive", "value": false},
		{"op": "replace", "path": "/bundle/models/scorer/risk", "value": "low"},
	])
	count(p.deny) == 0 with input as doc
}
