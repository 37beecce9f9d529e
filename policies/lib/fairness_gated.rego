# METADATA
# title: High-risk classic models serve production only through a fairness gate
# description: >-
#   A classic model of risk "high" with a prod alias gates it on a fairness bound: gates.prod
#   lists an eval (under evals, or one of its metrics under metrics) whose predictions declare
#   the protected attributes (predictions.sensitive) and which bounds a fairness measure over
#   them (demographic parity, equalized odds, equal opportunity, disparate impact). The same
#   holds for every classic model a high-risk AI system of compliance.systems serves: the
#   examination for bias of Art 10(2)(f) of the EU AI Act.
# related_resources:
#   - ref: https://eur-lex.europa.eu/eli/reg/2024/1689/oj
#     description: Regulation (EU) 2024/1689 (AI Act), Article 10(2)(f) and (g)
# custom:
#   id: fairness_gated
#   severity: deny
package cairn.policy.fairness_gated

import data.cairn.ai_act
import data.cairn.util

# in_scope: a high-risk model, or one a high-risk AI system serves.
in_scope(m) if m.risk == "high"

in_scope(m) if {
	some s in ai_act.high_risk_systems
	some d in s.deployments
	input.bundle.deployments[d].model == m.name
}

fairness := {
	"demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference",
	"equal_opportunity_difference", "disparate_impact_ratio",
}

# fair_evals are the evals that bound a fairness measure over declared protected attributes.
fair_evals contains name if {
	some name, e in input.bundle.evals
	count(object.get(e, ["predictions", "sensitive"], [])) > 0
	some m in e.metrics
	m.scorer in fairness
}

gated_fair(m) if {
	some e in object.get(m, ["gates", "prod", "evals"], [])
	e in fair_evals
}

gated_fair(m) if {
	some key, _ in object.get(m, ["gates", "prod", "metrics"], {})
	[ev, metric] := split(key, ".")
	ev in fair_evals
	input.bundle.evals[ev].metrics[metric].scorer in fairness
}

deny contains v if {
	some name, m in input.bundle.models
	m.kind == "classic"
	in_scope(m)
	m.aliases.prod
	not gated_fair(m)
	v := {
		"msg": sprintf("models/%s is high-risk (by its risk or the AI system serving it) and served at prod, but no fairness eval gates its prod alias: list an eval with predictions.sensitive and a fairness metric under gates.prod.evals", [name]),
		"target": util.target("models", name),
		"path": "aliases.prod",
	}
}
