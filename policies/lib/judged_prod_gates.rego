# METADATA
# title: Production gates use judges, not offline approximations
# description: >-
#   With governance.require_judged_scorers, every factuality and toxicity metric of an eval
#   that gates a prod alias or label declares a judge (an LLM judge, or the moderation
#   endpoint for toxicity). The offline scorers are measured approximations; a team that
#   gates releases on them can say it will not.
# custom:
#   id: judged_prod_gates
#   severity: deny
package cairn.policy.judged_prod_gates

judged_scorers := {"factuality", "toxicity"}

deny contains v if {
	input.bundle.governance.require_judged_scorers
	some g in input.bundle.gating
	g.alias == "prod"
	some name, m in input.bundle.evals[g.eval].metrics
	m.scorer in judged_scorers
	not m.judge
	v := {
		"msg": sprintf("evals/%s metric %s gates %s at prod with the offline %s scorer; governance.require_judged_scorers asks for a judge (metrics.%s.judge: {provider, model})", [g.eval, name, g.object, m.scorer, name]),
		"target": sprintf("evals/%s", [g.eval]),
		"path": sprintf("metrics.%s", [name]),
	}
}
