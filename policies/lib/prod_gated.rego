# METADATA
# title: Anything served at prod is gated by evals
# description: >-
#   A model alias or prompt label named "prod" moves only when evals pass: the object lists
#   at least one eval under gates.prod.
# custom:
#   id: prod_gated
#   severity: deny
package cairn.policy.prod_gated

import data.cairn.util

singular := {"aliases": "alias", "labels": "label"}

# at_prod holds [kind, name, field] for every model alias and prompt label named prod.
gated_at_prod := {g.object | some g in input.bundle.gating; g.alias == "prod"}

# gated(target, obj): gated by an applied gate, or by the object's own gates.prod.evals.
gated(target, _) if target in gated_at_prod

gated(_, obj) if count(obj.gates.prod.evals) > 0

# Each rule reads one object (the policy's results are kept per shard of objects).
deny contains ungated("models", name, "aliases") if {
	some name, m in input.bundle.models
	m.aliases.prod
	not gated(util.target("models", name), m)
}

deny contains ungated("prompts", name, "labels") if {
	some name, p in input.bundle.prompts
	p.labels.prod
	not gated(util.target("prompts", name), p)
}

ungated(kind, name, field) := {
	"msg": sprintf("%s is served at prod but no eval gates its prod %s; add gates.prod.evals", [util.target(kind, name), singular[field]]),
	"target": util.target(kind, name),
	"path": concat(".", [field, "prod"]),
}
