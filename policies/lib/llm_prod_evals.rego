# METADATA
# title: LLM prompts served at prod are gated by factuality and toxicity
# description: >-
#   A prompt label (or LLM model alias) named "prod" is gated by evals that together score
#   factuality and toxicity.
# custom:
#   id: llm_prod_evals
#   severity: deny
package cairn.policy.llm_prod_evals

import data.cairn.util

required := ["factuality", "toxicity"]

at_prod contains ["prompts", name, "labels.prod"] if {
	some name, p in input.bundle.prompts
	p.labels.prod
}

at_prod contains ["models", name, "aliases.prod"] if {
	some name, m in input.bundle.models
	m.kind == "llm"
	m.aliases.prod
}

prod_evals(kind, name) := {e | some g in input.bundle.gating; g.object == util.target(kind, name); g.alias == "prod"; e := g.eval} | {e | some e in input.bundle[kind][name].gates.prod.evals}

scorers(kind, name) := {s |
	some e in prod_evals(kind, name)
	some metric in input.bundle.evals[e].metrics
	s := metric.scorer
}

deny contains v if {
	some [kind, name, path] in at_prod
	some scorer in required
	not scorer in scorers(kind, name)
	v := {
		"msg": sprintf("%s is served at prod but none of its prod gate evals scores %s", [util.target(kind, name), scorer]),
		"target": util.target(kind, name),
		"path": path,
	}
}
