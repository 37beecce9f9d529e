package cairn.policy.drift_monitoring_test

import data.cairn.policy.drift_monitoring as p

model(extra) := {"bundle": {"models": {"fraud": object.union({"kind": "classic", "aliases": {"prod": "7"}}, extra)}}}

test_monitored_prod_model_passes if {
	count(p.deny) == 0 with input as model({"monitoring": {"drift": {"features": ["amount"], "method": "psi", "threshold": 0.2}}})
}

test_unmonitored_prod_model_denied if {
	p.deny == {{"msg": "classic model \"fraud\" is served at prod but declares no drift monitoring (monitoring.drift)", "target": "models/fraud", "path": "aliases.prod"}} with input as model({})
}

test_llm_model_ignored if {
	count(p.deny) == 0 with input as model({"kind": "llm"})
}

test_staging_only_ignored if {
	count(p.deny) == 0 with input as json.patch(model({}), [{"op": "remove", "path": "/bundle/models/fraud/aliases/prod"}])
}
