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
# found(x) holds [path, kinds] for each string in x that looks like a secret: its path
# within x (as written in a spec) and what it looks like, sorted. An object is searched without
# its position (pos): where cairn read it from is not one of its values, and the built-ins read
# no position (the check's cache keys them by objects without one).
found(x) := {[util.path_string(p), sort([k | some [q, k] in hits; q == p])] | some [p, _] in hits} if {
	hits := {[p, k] |
		some [p, s] in cairn.match_strings(x, any_secret)
		some k, re in patterns
		regex.match(re, s)
	}
}

# One rule per kind, each reading one object (the policy's results are kept per shard of
# objects), and one per singleton block.
deny contains leak(util.target("providers", name), path, kinds) if {
	some name, o in input.bundle.providers
	some [path, kinds] in found(object.remove(o, {"pos"}))
}

deny contains leak(util.target("features", name), path, kinds) if {
	some name, o in input.bundle.features
	some [path, kinds] in found(object.remove(o, {"pos"}))
}

deny contains leak(util.target("models", name), path, kinds) if {
	some name, o in input.bundle.models
	some [path, kinds] in found(object.remove(o, {"pos"}))
}

deny contains leak(util.target("prompts", name), path, kinds) if {
	some name, o in input.bundle.prompts
	some [path, kinds] in found(object.remove(o, {"pos"}))
}

deny contains leak(util.target("rag", name), path, kinds) if {
	some name, o in input.bundle.rag
	some [path, kinds] in found(object.remove(o, {"pos"}))
}

deny contains leak(util.target("evals", name), path, kinds) if {
	some name, o in input.bundle.evals
	some [path, kinds] in found(object.remove(o, {"pos"}))
}

deny contains leak(util.target("slos", name), path, kinds) if {
	some name, o in input.bundle.slos
	some [path, kinds] in found(object.remove(o, {"pos"}))
}

deny contains leak(util.target("deployments", name), path, kinds) if {
	some name, o in input.bundle.deployments
	some [path, kinds] in found(object.remove(o, {"pos"}))
}

deny contains leak("project", path, kinds) if {
	some [path, kinds] in found(object.get(input.bundle, "project", {}))
}

deny contains leak("governance", path, kinds) if {
	some [path, kinds] in found(object.get(input.bundle, "governance", {}))
}

leak(target, path, kinds) := {
	"msg": sprintf("%s.%s contains what looks like %s; reference secrets through the environment instead", [target, path, concat(" and ", kinds)]),
	"target": target,
	"path": path,
}

deny contains v if {
	some i, f in input.bundle.secret_findings
	v := {
		"msg": sprintf("%s %s line %d contains what looks like %s; remove it from the %s (data files are sent to providers and indexed)", [f.object, f.file, f.line, f.kind, f.field]),
		"target": f.object,
		"path": sprintf("secret_findings[%d]", [i]),
	}
}
