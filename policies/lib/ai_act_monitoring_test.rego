package cairn.policy.ai_act_monitoring_test

import data.cairn.policy.ai_act_monitoring as p

bundle := {
	"project": {"name": "credit", "alert_webhook": "https://cairn.example/v1/alertmanager"},
	"compliance": {"frameworks": ["eu-ai-act"], "dates": "enacted", "systems": {"credit": {"deployments": ["credit-api"], "annex_iii": "5b", "high_risk": true}}},
	"deployments": {"credit-api": {"model": "scorer"}},
	"models": {"scorer": {"kind": "classic", "served_by": ["credit-api"], "monitoring": {"drift": {"features": ["income"], "method": "psi", "threshold": 0.2}}}},
}

test_monitored_system_passes if {
	count(p.deny) == 0 with input as {"now": "2026-11-27T00:00:00Z", "bundle": bundle}
}

test_unmonitored_model_denied if {
	b := json.patch(bundle, [{"op": "remove", "path": "/models/scorer/monitoring"}])
	ds := p.deny with input as {"now": "2026-11-27T00:00:00Z", "bundle": b}
	ds == {{"msg": "model scorer, served by high-risk AI system credit, declares no drift monitoring (monitoring.drift): Art 72 and 26(5); in force since 2026-08-02", "target": "models/scorer", "path": "monitoring"}}
}

test_no_alert_route_warned_under_omnibus if {
	b := json.patch(bundle, [{"op": "remove", "path": "/project/alert_webhook"}, {"op": "replace", "path": "/compliance/dates", "value": "omnibus"}])
	count(p.deny) == 0 with input as {"now": "2026-11-27T00:00:00Z", "bundle": b}
	ws := p.warn with input as {"now": "2026-11-27T00:00:00Z", "bundle": b}
	some v in ws
	v.target == "project"
	contains(v.msg, "applies from 2027-12-02")
}

test_not_high_risk_out_of_scope if {
	b := json.patch(bundle, [{"op": "remove", "path": "/models/scorer/monitoring"}, {"op": "replace", "path": "/compliance/systems/credit/high_risk", "value": false}])
	count(p.deny) == 0 with input as {"now": "2026-11-27T00:00:00Z", "bundle": b}
}

test_only_classic_models_the_system_serves if {
	llm := json.patch(bundle, [{"op": "remove", "path": "/models/scorer/monitoring"}, {"op": "replace", "path": "/models/scorer/kind", "value": "llm"}])
	count(p.deny) == 0 with input as {"now": "2026-11-27T00:00:00Z", "bundle": llm}
	elsewhere := json.patch(bundle, [{"op": "remove", "path": "/models/scorer/monitoring"}, {"op": "replace", "path": "/models/scorer/served_by", "value": ["batch-scoring"]}])
	count(p.deny) == 0 with input as {"now": "2026-11-27T00:00:00Z", "bundle": elsewhere}
}

test_unmonitored_model_warned_before_the_date if {
	b := json.patch(bundle, [{"op": "remove", "path": "/models/scorer/monitoring"}])
	count(p.deny) == 0 with input as {"now": "2026-07-01T00:00:00Z", "bundle": b}
	ws := p.warn with input as {"now": "2026-07-01T00:00:00Z", "bundle": b}
	ws == {{"msg": "model scorer, served by high-risk AI system credit, declares no drift monitoring (monitoring.drift): Art 72 and 26(5); applies from 2026-08-02; a warning until then", "target": "models/scorer", "path": "monitoring"}}
}
