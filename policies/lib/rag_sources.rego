# METADATA
# title: RAG sources declare licence and classification
# description: >-
#   Every source of a RAG knowledge base names the licence its documents are used under
#   (not a placeholder such as "unknown") and a classification: public, internal or
#   confidential.
# custom:
#   id: rag_sources
#   severity: deny
package cairn.policy.rag_sources

import data.cairn.util

classifications := {"public", "internal", "confidential"}

deny contains v if {
	some name, r in input.bundle.rag
	some i, s in r.sources
	util.placeholder(object.get(s, "license", ""))
	v := {
		"msg": sprintf("source %q of RAG %q declares no licence (license is %q)", [s.path, name, object.get(s, "license", "")]),
		"target": util.target("rag", name),
		"path": sprintf("sources[%d].license", [i]),
	}
}

deny contains v if {
	some name, r in input.bundle.rag
	some i, s in r.sources
	not object.get(s, "classification", "") in classifications
	v := {
		"msg": sprintf("source %q of RAG %q has classification %q; it must be public, internal or confidential", [s.path, name, object.get(s, "classification", "")]),
		"target": util.target("rag", name),
		"path": sprintf("sources[%d].classification", [i]),
	}
}
