package cairn.policy.rag_sources_test

import data.cairn.policy.rag_sources as p

base := {"bundle": {"rag": {"kb": {"sources": [
	{"path": "docs/faq", "license": "CC-BY-4.0", "classification": "public"},
	{"path": "docs/internal", "license": "proprietary", "classification": "internal"},
]}}}}

test_declared_sources_pass if {
	count(p.deny) == 0 with input as base
}

test_unknown_licence_denied if {
	doc := json.patch(base, [{"op": "replace", "path": "/bundle/rag/kb/sources/1/license", "value": "unknown"}])
	p.deny == {{"msg": "source \"docs/internal\" of RAG \"kb\" declares no licence (license is \"unknown\")", "target": "rag/kb", "path": "sources[1].license"}} with input as doc
}

test_missing_classification_denied if {
	doc := json.patch(base, [{"op": "remove", "path": "/bundle/rag/kb/sources/0/classification"}])
	some v in p.deny with input as doc
	v.path == "sources[0].classification"
}
