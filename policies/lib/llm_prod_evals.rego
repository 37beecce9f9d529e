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

# covered holds [object, scorer] for every scorer of every eval gating an object's
# prod alias or label, from the derived gating list and from the object's own gates.
# Built in one pass each, so checks are set lookups.
covered contains [g.object, m.scorer] if {
	some g in input.bundle.gating
	g.alias == "prod"
	some m in input.bundle.evals[g.eval].metrics
}

covered contains [util.target(kind, name), m.scorer] if {
	some [kind, name, _] in at_prod
	some e in util.collection(kind)[name].gates.prod.evals
	some m in input.bundle.evals[e].metrics
}

deny contains v if {
	some [kind, name, path] in at_prod
	some scorer in required
	not [util.target(kind, name), scorer] in covered
	v := {
		"msg": sprintf("%s is served at prod but none of its prod gate evals scores %s", [util.target(kind, name), scorer]),
		"target": util.target(kind, name),
		"path": path,
	}
}
