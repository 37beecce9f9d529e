# METADATA
# title: Deployers of credit and insurance-pricing systems keep a fundamental rights impact assessment
# description: >-
#   A high-risk system of Annex III 5(b) (creditworthiness) or 5(c) (life and health insurance
#   pricing) that the organisation deploys (role deployer or both) declares its fundamental rights
#   impact assessment (files.fria), as Art 27(1) of the EU AI Act requires before first use. A
#   warning before the high-risk obligations apply under the declared date set, a denial from then on.
# related_resources:
#   - ref: https://eur-lex.europa.eu/eli/reg/2024/1689/oj
#     description: Regulation (EU) 2024/1689 (AI Act), Article 27
# custom:
#   id: ai_act_fria
#   severity: deny
package cairn.policy.ai_act_fria

import data.cairn.ai_act

missing contains name if {
	some name, s in ai_act.high_risk_systems
	s.role in {"deployer", "both"}
	s.annex_iii in {"5b", "5c"}
	not s.files.fria
}

violation(name) := {
	"msg": sprintf("AI system %s (Annex III %s, deployed by this organisation) declares no fundamental rights impact assessment (files.fria): Art 27(1); %s", [name, input.bundle.compliance.systems[name].annex_iii, ai_act.when(ai_act.high_risk_from)]),
	"target": "compliance",
	"path": sprintf("systems.%s.files", [name]),
}

deny contains violation(name) if {
	ai_act.applies(ai_act.high_risk_from)
	some name in missing
}

warn contains violation(name) if {
	not ai_act.applies(ai_act.high_risk_from)
	some name in missing
}
