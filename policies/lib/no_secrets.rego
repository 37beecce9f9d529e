# METADATA
# title: No secrets in specs
# description: >-
#   No string in the specs (templates included) looks like an API key, access token, private
#   key or a password inside a URL. Keys belong in the environment, named by a provider's
#   api_key_env. The secret itself is never printed.
# custom:
#   id: no_secrets
#   severity: deny
package cairn.policy.no_secrets

import data.cairn.util

patterns := {
	"an OpenAI API key": `\bsk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}|[A-Za-z0-9]{20,})`,
	"an Anthropic API key": `\bsk-ant-[A-Za-z0-9_-]{20,}`,
	"a GitHub token": `\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})`,
	"an AWS access key id": `\b(AKIA|ASIA)[0-9A-Z]{16}\b`,
	"a Google API key": `\bAIza[0-9A-Za-z_-]{35}`,
	"a Slack token": `\bxox[abposr]-[A-Za-z0-9-]{10,}`,
	"a Hugging Face token": `\bhf_[A-Za-z0-9]{30,}`,
	"a private key": `-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----`,
	"a password in a URL": `\b[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@`,
	"a bearer token": `(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{20,}`,
}

# any_secret is one pattern for all of them, so most strings cost one match.
any_secret := concat("|", [sprintf("(?:%s)", [re]) | some re in patterns])

# Top-level maps of objects, and singletons that are objects themselves.
object_kinds := {"providers", "features", "models", "prompts", "rag", "evals", "slos", "deployments"}

singletons := {"project", "governance"}

# cairn.match_strings is walk + regex.match done natively: [path, string] for
# every string of the bundle that matches.
findings contains [target, path, kind] if {
	some [p, s] in cairn.match_strings(input.bundle, any_secret)
	some kind, re in patterns
	regex.match(re, s)
	[target, path] := locate(p)
}

locate(p) := [util.target(p[0], p[1]), util.path_string(array.slice(p, 2, count(p)))] if {
	p[0] in object_kinds
	count(p) >= 2
}

locate(p) := [p[0], util.path_string(array.slice(p, 1, count(p)))] if p[0] in singletons

deny contains v if {
	some [target, path, _] in findings
	kinds := sort([k | some [t, pp, k] in findings; t == target; pp == path])
	v := {
		"msg": sprintf("%s.%s contains what looks like %s; reference secrets through the environment instead", [target, path, concat(" and ", kinds)]),
		"target": target,
		"path": path,
	}
}

# Credentials in the data files the specs reference — an eval dataset row,
# a RAG document line — found by the compiler (never carried in the bundle
# themselves), each denied at its file and line.
deny contains v if {
	some i, f in input.bundle.secret_findings
	v := {
		"msg": sprintf("%s %s line %d contains what looks like %s; remove it from the %s (data files are sent to providers and indexed)", [f.object, f.file, f.line, f.kind, f.field]),
		"target": f.object,
		"path": sprintf("secret_findings[%d]", [i]),
	}
}
