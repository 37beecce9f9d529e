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

owned_kinds := ["features", "models", "prompts", "rag"]

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

deny contains v if {
	some kind in owned_kinds
	some name, obj in util.collection(kind)
	owner := object.get(obj, "owner", "")
	placeholder_owner(owner)
	v := {
		"msg": sprintf("%s has no accountable owner (owner is %q)", [util.target(kind, name), owner]),
		"target": util.target(kind, name),
		"path": "owner",
	}
}
