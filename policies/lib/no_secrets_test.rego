package cairn.policy.no_secrets_test

import data.cairn.policy.no_secrets as p

# Fake credentials assembled at run time, so this file itself trips no secret scanner.
openai_key := concat("", ["sk-", "abcdefghij0123456789ABCDEFGHIJ"])

pem := concat("", ["-----BEGIN RSA ", "PRIVATE KEY-----\nMIIE...\n"])

base := {"bundle": {
	"project": {"name": "p", "description": "fraud scoring"},
	"providers": {"openai": {"api_key_env": "OPENAI_API_KEY", "base_url": "https://api.example.test/v1"}},
	"prompts": {"answer": {"template": "Answer {{ question }} using {{ context }}.", "messages": [{"role": "system", "content": "Be brief."}]}},
	"files": {"prompts/answer.tmpl": "sha256:0123"},
}}

test_clean_bundle_passes if {
	count(p.deny) == 0 with input as base
}

test_key_in_template_denied_without_printing_it if {
	doc := json.patch(base, [{"op": "replace", "path": "/bundle/prompts/answer/template", "value": concat(" ", ["use key", openai_key])}])
	p.deny == {{"msg": "prompts/answer.template contains what looks like an OpenAI API key; reference secrets through the environment instead", "target": "prompts/answer", "path": "template"}} with input as doc
	every v in p.deny {
		not contains(v.msg, openai_key)
	} with input as doc
}

test_private_key_in_message_list_denied if {
	doc := json.patch(base, [{"op": "replace", "path": "/bundle/prompts/answer/messages/0/content", "value": pem}])
	some v in p.deny with input as doc
	v.path == "messages[0].content"
	contains(v.msg, "a private key")
}

test_password_in_url_denied if {
	doc := json.patch(base, [{"op": "replace", "path": "/bundle/providers/openai/base_url", "value": "https://bob:hunter2hunter2@llm.internal/v1"}])
	some v in p.deny with input as doc
	v.target == "providers/openai"
	v.path == "base_url"
}

test_project_description_scanned if {
	doc := json.patch(base, [{"op": "replace", "path": "/bundle/project/description", "value": concat("", ["AKIA", "ABCDEFGHIJKLMNOP"])}])
	p.deny == {{"msg": "project.description contains what looks like an AWS access key id; reference secrets through the environment instead", "target": "project", "path": "description"}} with input as doc
}

test_secret_in_dataset_row_denied_at_its_line if {
	doc := json.patch(base, [{"op": "add", "path": "/bundle/secret_findings", "value": [{"object": "evals/qa", "field": "dataset", "file": "evals/qa.jsonl", "line": 7, "col": 12, "kind": "an OpenAI API key"}]}])
	p.deny == {{"msg": "evals/qa evals/qa.jsonl line 7 contains what looks like an OpenAI API key; remove it from the dataset (data files are sent to providers and indexed)", "target": "evals/qa", "path": "secret_findings[0]"}} with input as doc
}
