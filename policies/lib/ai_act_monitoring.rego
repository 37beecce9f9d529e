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

# Each model rule judges one model, through the deployments that serve it (served_by, which
# the compiler derives), so cairn keeps its results per shard of models: a model edit re-runs it
# on that model's shard, not over every model.
unmonitored(name, system) := sprintf("model %s, served by high-risk AI system %s, declares no drift monitoring (monitoring.drift)", [name, system])

no_route(system) := sprintf("high-risk AI system %s is served, but the project declares no alert route (project.alert_webhook)", [system])

violation(target, path, what) := {
	"msg": sprintf("%s: Art 72 and 26(5); %s", [what, ai_act.when(ai_act.high_risk_from)]),
	"target": target,
	"path": path,
}

deny contains violation(util.target("models", name), "monitoring", unmonitored(name, system)) if {
	ai_act.applies(ai_act.high_risk_from)
	some name, m in input.bundle.models
	m.kind == "classic"
	not m.monitoring.drift
	some d in m.served_by
	some system, s in ai_act.high_risk_systems
	d in s.deployments
}

warn contains violation(util.target("models", name), "monitoring", unmonitored(name, system)) if {
	not ai_act.applies(ai_act.high_risk_from)
	some name, m in input.bundle.models
	m.kind == "classic"
	not m.monitoring.drift
	some d in m.served_by
	some system, s in ai_act.high_risk_systems
	d in s.deployments
}

deny contains violation("project", "alert_webhook", no_route(system)) if {
	ai_act.applies(ai_act.high_risk_from)
	some system, _ in ai_act.high_risk_systems
	not input.bundle.project.alert_webhook
}

warn contains violation("project", "alert_webhook", no_route(system)) if {
	not ai_act.applies(ai_act.high_risk_from)
	some system, _ in ai_act.high_risk_systems
	not input.bundle.project.alert_webhook
}
