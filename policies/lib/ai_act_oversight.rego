# METADATA
# title: High-risk AI systems declare their purpose, human oversight and responsible people
# description: >-
#   A system of compliance.systems listed in Annex III of the EU AI Act (and not exempted under
#   Art 6(3)) declares its intended purpose (Art 13(3)(b)), who oversees it and how they override
#   and stop it (Art 14(4)), and the people responsible for it (Art 26(2)). A warning before the
#   high-risk obligations apply under the declared date set, a denial from then on.
# related_resources:
#   - ref: https://eur-lex.europa.eu/eli/reg/2024/1689/oj
#     description: Regulation (EU) 2024/1689 (AI Act), Articles 13, 14 and 26
# custom:
#   id: ai_act_oversight
#   severity: deny
package cairn.policy.ai_act_oversight

import data.cairn.ai_act

findings contains [name, "intended_purpose", "Art 13(3)(b)", "no intended purpose (intended_purpose)"] if {
	some name, s in ai_act.high_risk_systems
	not s.intended_purpose
}

findings contains [name, "oversight", "Art 14(4)", "no human oversight (oversight: who, override, stop)"] if {
	some name, s in ai_act.high_risk_systems
	not s.oversight
}

findings contains [name, "responsible", "Art 26(2)", "no responsible people (responsible)"] if {
	some name, s in ai_act.high_risk_systems
	count(object.get(s, "responsible", [])) == 0
}

violation(name, field, article, what) := {
	"msg": sprintf("AI system %s is high-risk (Annex III %s) but declares %s: %s; %s", [name, input.bundle.compliance.systems[name].annex_iii, what, article, ai_act.when(ai_act.high_risk_from)]),
	"target": "compliance",
	"path": sprintf("systems.%s.%s", [name, field]),
}

deny contains violation(name, field, article, what) if {
	ai_act.applies(ai_act.high_risk_from)
	some [name, field, article, what] in findings
}

warn contains violation(name, field, article, what) if {
	not ai_act.applies(ai_act.high_risk_from)
	some [name, field, article, what] in findings
}
