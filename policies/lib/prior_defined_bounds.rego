# METADATA
# title: High-risk systems are tested against thresholds defined before the results
# description: >-
#   Every threshold that gates what a high-risk AI system of compliance.systems serves (a gate's
#   metric bound, an eval metric's threshold) was in force before the served version's first
#   result on it: testing against prior defined metrics and probabilistic thresholds, Art 9(8) of
#   the EU AI Act. In force is first seen in an applied bundle (the audit log's bounds entries),
#   else the first-parent commit that set it ("per git"). A bound loosened after the first result
#   is denied (waive it with a reason to keep it); a bound first defined after the result is a
#   warning; tightening is allowed; an unknown history (no state, a shallow clone) is never a
#   pass, and is reported by cairn audit report. A warning before the high-risk obligations apply
#   under the declared date set, a denial from then on. The history is input.context.bound_history.
# related_resources:
#   - ref: https://eur-lex.europa.eu/eli/reg/2024/1689/oj
#     description: Regulation (EU) 2024/1689 (AI Act), Article 9(8)
# custom:
#   id: prior_defined_bounds
#   severity: deny
package cairn.policy.prior_defined_bounds

import data.cairn.ai_act

# history is read by its path, so that the result is cached by it alone.
default history := []

history := input.context.bound_history

# place is the [target, path] of a bound: "models/x@prod" + metric → models/x, gates.prod.metrics.auc.
place(b) := [obj, sprintf("gates.%s.metrics.%s", [alias, b.metric])] if {
	[obj, alias] := split(b.object, "@")
}

place(b) := [b.object, sprintf("metrics.%s", [b.metric])] if {
	not contains(b.object, "@")
}

violation(b) := {
	"msg": sprintf("%s %s %s, judging version %s: %s (%s); Art 9(8) asks for testing against prior-defined thresholds; %s", [b.object, b.metric, b.bound, b.version, b.status, b.detail, ai_act.when(ai_act.high_risk_from)]),
	"target": place(b)[0],
	"path": place(b)[1],
}

deny contains violation(b) if {
	ai_act.declared
	ai_act.applies(ai_act.high_risk_from)
	some b in history
	b.status == "loosened"
}

warn contains violation(b) if {
	ai_act.declared
	not ai_act.applies(ai_act.high_risk_from)
	some b in history
	b.status == "loosened"
}

warn contains violation(b) if {
	ai_act.declared
	some b in history
	b.status == "not_prior_defined"
}
