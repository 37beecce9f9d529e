# METADATA
# title: High-risk AI systems are monitored after they are placed in service
# description: >-
#   Every classic model a high-risk system of compliance.systems serves declares drift monitoring
#   (monitoring.drift), and the project declares where alerts go (project.alert_webhook, which
#   cairn renders into an Alertmanager route): the post-market monitoring of Art 72 and the
#   monitoring of operation of Art 26(5) of the EU AI Act. A warning before the high-risk
#   obligations apply under the declared date set, a denial from then on.
# related_resources:
#   - ref: https://eur-lex.europa.eu/eli/reg/2024/1689/oj
#     description: Regulation (EU) 2024/1689 (AI Act), Articles 26(5) and 72
# custom:
#   id: ai_act_monitoring
#   severity: deny
package cairn.policy.ai_act_monitoring

import data.cairn.ai_act
import data.cairn.util

# served are the [system, model] pairs of classic models high-risk systems serve.
served contains [name, m] if {
	some name, s in ai_act.high_risk_systems
	some d in s.deployments
	m := input.bundle.deployments[d].model
	input.bundle.models[m].kind == "classic"
}

findings contains [util.target("models", m), "monitoring", sprintf("model %s, served by high-risk AI system %s, declares no drift monitoring (monitoring.drift)", [m, name])] if {
	some [name, m] in served
	not input.bundle.models[m].monitoring.drift
}

findings contains ["project", "alert_webhook", sprintf("high-risk AI system %s is served, but the project declares no alert route (project.alert_webhook)", [name])] if {
	some name, _ in ai_act.high_risk_systems
	not input.bundle.project.alert_webhook
}

violation(target, path, what) := {
	"msg": sprintf("%s: Art 72 and 26(5); %s", [what, ai_act.when(ai_act.high_risk_from)]),
	"target": target,
	"path": path,
}

deny contains violation(target, path, what) if {
	ai_act.applies(ai_act.high_risk_from)
	some [target, path, what] in findings
}

warn contains violation(target, path, what) if {
	not ai_act.applies(ai_act.high_risk_from)
	some [target, path, what] in findings
}
