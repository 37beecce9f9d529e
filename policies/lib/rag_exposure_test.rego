package cairn.policy.rag_exposure_test

import data.cairn.policy.rag_exposure as p

base := {"bundle": {
	"rag": {"kb": {"classification": "internal", "sources": [{"classification": "internal"}]}},
	"prompts": {"answer": {"rag": "kb"}},
	"deployments": {"web": {"prompt": "answer", "exposure": "public", "rag": ["kb"]}},
}}

test_internal_rag_on_public_passes if {
	count(p.deny) == 0 with input as base
}

test_confidential_rag_on_public_denied if {
	doc := json.patch(base, [{"op": "replace", "path": "/bundle/rag/kb/sources/0/classification", "value": "confidential"}])
	p.deny == {{"msg": "public deployment \"web\" is fed by RAG \"kb\", which holds confidential sources", "target": "deployments/web", "path": "exposure"}} with input as doc
}

test_rag_found_through_prompt if {
	doc := json.patch(base, [
		{"op": "replace", "path": "/bundle/rag/kb/classification", "value": "confidential"},
		{"op": "remove", "path": "/bundle/deployments/web/rag"},
	])
	count(p.deny) == 1 with input as doc
}

test_confidential_rag_on_internal_passes if {
	doc := json.patch(base, [
		{"op": "replace", "path": "/bundle/rag/kb/classification", "value": "confidential"},
		{"op": "replace", "path": "/bundle/deployments/web/exposure", "value": "internal"},
	])
	count(p.deny) == 0 with input as doc
}
