package cairn.policy.owners_test

import data.cairn.policy.owners

good := {"bundle": {
	"project": {"name": "p", "owners": ["@acme/ml"]},
	"models": {"m": {"owner": "team:fraud"}},
	"features": {"f": {"owner": "ana@acme.io"}},
	"prompts": {"p": {"owner": "@acme/support"}},
	"rag": {"r": {"owner": "team:kb"}},
}}

test_owned_objects_pass if {
	count(owners.deny) == 0 with input as good
}

test_placeholder_owner_denied if {
	doc := json.patch(good, [{"op": "replace", "path": "/bundle/models/m/owner", "value": "team:tbd"}])
	owners.deny == {{"msg": "models/m has no accountable owner (owner is \"team:tbd\")", "target": "models/m", "path": "owner"}} with input as doc
}

test_missing_owner_denied if {
	doc := json.patch(good, [{"op": "remove", "path": "/bundle/rag/r/owner"}])
	some v in owners.deny with input as doc
	v.target == "rag/r"
}

test_example_address_denied if {
	doc := json.patch(good, [{"op": "replace", "path": "/bundle/features/f/owner", "value": "someone@example.com"}])
	some v in owners.deny with input as doc
	v.target == "features/f"
}

test_project_without_owners_denied if {
	doc := json.patch(good, [{"op": "replace", "path": "/bundle/project/owners", "value": []}])
	some v in owners.deny with input as doc
	v.target == "project"
}
