# METADATA
# title: Every object has an owner
# description: >-
#   The project lists at least one owner, and every feature, model, prompt and RAG source
#   names an accountable owner. Placeholders (team:tbd, team:unknown, addresses at
#   example.com/.org/.net) do not count.
# custom:
#   id: owners
#   severity: deny
package cairn.policy.owners

import data.cairn.util

placeholder_owner(o) if util.placeholder(o)

placeholder_owner(o) if lower(o) in {"team:tbd", "team:todo", "team:unknown", "team:none", "team:nobody", "team:changeme"}

placeholder_owner(o) if regex.match(`(?i)@example\.(com|org|net)$`, o)

deny contains v if {
	count(object.get(input.bundle, ["project", "owners"], [])) == 0
	v := {"msg": "the project lists no owners", "target": "project", "path": "owners"}
}

deny contains v if {
	some o in input.bundle.project.owners
	placeholder_owner(o)
	v := {"msg": sprintf("project owner %q is a placeholder, not an accountable owner", [o]), "target": "project", "path": "owners"}
}

# One rule per kind, each reading one object: a policy that judges objects one by one is
# re-run only on the objects an edit touches (its results are kept per shard of objects).
deny contains unowned("features", name, f) if {
	some name, f in input.bundle.features
	placeholder_owner(object.get(f, "owner", ""))
}

deny contains unowned("models", name, m) if {
	some name, m in input.bundle.models
	placeholder_owner(object.get(m, "owner", ""))
}

deny contains unowned("prompts", name, p) if {
	some name, p in input.bundle.prompts
	placeholder_owner(object.get(p, "owner", ""))
}

deny contains unowned("rag", name, r) if {
	some name, r in input.bundle.rag
	placeholder_owner(object.get(r, "owner", ""))
}

unowned(kind, name, obj) := {
	"msg": sprintf("%s has no accountable owner (owner is %q)", [util.target(kind, name), object.get(obj, "owner", "")]),
	"target": util.target(kind, name),
	"path": "owner",
}
