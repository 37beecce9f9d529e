# METADATA
# title: People are told they are dealing with an AI system
# description: >-
#   With the EU AI Act declared (compliance.frameworks), every LLM prompt a deployment serves
#   declares an AI disclosure — its text or a file that holds it — unless the deployment declares
#   interacts_with_people: false (Art 50(1)). Art 50 applies from 2 Aug 2026 under both date sets:
#   a warning before, a denial from then on.
# related_resources:
#   - ref: https://eur-lex.europa.eu/eli/reg/2024/1689/oj
#     description: Regulation (EU) 2024/1689 (AI Act), Article 50
# custom:
#   id: ai_disclosure
#   severity: deny
package cairn.policy.ai_disclosure

import data.cairn.ai_act
import data.cairn.util

missing contains [p, d] if {
	ai_act.declared
	some d, dep in input.bundle.deployments
	p := dep.prompt
	object.get(dep, "interacts_with_people", true) != false
	not input.bundle.prompts[p].disclosure
}

violation(p, d) := {
	"msg": sprintf("prompt %s is served to people by deployment %s but declares no AI disclosure (disclosure: {text} or {file}), or the deployment interacts_with_people: false: Art 50(1); %s", [p, d, ai_act.when(ai_act.transparency_from)]),
	"target": util.target("prompts", p),
	"path": "disclosure",
}

deny contains violation(p, d) if {
	ai_act.applies(ai_act.transparency_from)
	some [p, d] in missing
}

warn contains violation(p, d) if {
	not ai_act.applies(ai_act.transparency_from)
	some [p, d] in missing
}
