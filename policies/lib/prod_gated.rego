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
at_prod contains ["models", name, "aliases"] if {
	some name, m in input.bundle.models
	m.aliases.prod
}

at_prod contains ["prompts", name, "labels"] if {
	some name, p in input.bundle.prompts
	p.labels.prod
}

# gated_at_prod is computed once: a lookup per object instead of a scan.
gated_at_prod := {g.object | some g in input.bundle.gating; g.alias == "prod"}

gated(obj) if obj in gated_at_prod

gated(obj) if {
	[kind, name] := split(obj, "/")
	count(util.collection(kind)[name].gates.prod.evals) > 0
}

deny contains v if {
	some [kind, name, field] in at_prod
	obj := util.target(kind, name)
	not gated(obj)
	v := {
		"msg": sprintf("%s is served at prod but no eval gates its prod %s; add gates.prod.evals", [obj, singular[field]]),
		"target": obj,
		"path": concat(".", [field, "prod"]),
	}
}
