package cairn.policy.protected_features_test

import data.cairn.policy.protected_features as p

inp(sensitive) := {"bundle": {
	"models": {"credit": {"kind": "classic", "features": ["income", "age"]}},
	"evals": {"fair": {"target": {"model": "credit"}, "predictions": {"label": "y", "score": "p", "sensitive": sensitive}}},
}}

test_protected_attribute_not_a_feature_passes if {
	count(p.deny) == 0 with input as inp(["sex"])
}

test_protected_attribute_used_as_feature_denied if {
	p.deny == {{"msg": "model \"credit\" uses \"age\" as a feature, and eval \"fair\" declares it a protected attribute: a model deciding on a protected attribute needs a waiver", "target": "evals/fair", "path": "predictions.sensitive[1]"}} with input as inp(["sex", "age"])
}

test_eval_without_predictions_ignored if {
	count(p.deny) == 0 with input as {"bundle": {"models": {"credit": {"features": ["age"]}}, "evals": {"qa": {"target": {"model": "credit"}}}}}
}
