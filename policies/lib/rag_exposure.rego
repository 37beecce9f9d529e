# METADATA
# title: Confidential RAG sources do not feed public deployments
# description: >-
#   A deployment with exposure "public" does not serve a prompt whose RAG knowledge base
#   holds a confidential source.
# custom:
#   id: rag_exposure
#   severity: deny
package cairn.policy.rag_exposure

import data.cairn.util

# rag_of(d) is the set of RAG sources feeding a deployment: derived, or through its prompt.
rag_of(d) := {r | some r in object.get(d, "rag", [])} | {r |
	r := input.bundle.prompts[d.prompt].rag
	r != ""
}

confidential(r) if input.bundle.rag[r].classification == "confidential"

confidential(r) if {
	some s in input.bundle.rag[r].sources
	s.classification == "confidential"
}

deny contains v if {
	some name, d in input.bundle.deployments
	d.exposure == "public"
	some r in rag_of(d)
	confidential(r)
	v := {
		"msg": sprintf("public deployment %q is fed by RAG %q, which holds confidential sources", [name, r]),
		"target": util.target("deployments", name),
		"path": "exposure",
	}
}
