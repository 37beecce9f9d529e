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

# applied holds [target, scorer] for the evals applied gates at prod run.
applied contains [g.object, m.scorer] if {
	some g in input.bundle.gating
	g.alias == "prod"
	some m in input.bundle.evals[g.eval].metrics
}

# covers(target, obj, scorer): an applied gate or one of the object's prod gate evals scores it.
covers(target, _, scorer) if [target, scorer] in applied

covers(_, obj, scorer) if {
	some e in obj.gates.prod.evals
	some m in input.bundle.evals[e].metrics
	m.scorer == scorer
}

# Each rule reads one object (the policy's results are kept per shard of objects).
deny contains uncovered("prompts", name, "labels.prod", scorer) if {
	some name, p in input.bundle.prompts
	p.labels.prod
	some scorer in required
	not covers(util.target("prompts", name), p, scorer)
}

deny contains uncovered("models", name, "aliases.prod", scorer) if {
	some name, m in input.bundle.models
	m.kind == "llm"
	m.aliases.prod
	some scorer in required
	not covers(util.target("models", name), m, scorer)
}

uncovered(kind, name, path, scorer) := {
	"msg": sprintf("%s is served at prod but none of its prod gate evals scores %s", [util.target(kind, name), scorer]),
	"target": util.target(kind, name),
	"path": path,
}
