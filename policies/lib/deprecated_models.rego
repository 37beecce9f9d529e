# METADATA
# title: Deprecated LLM model ids
# description: >-
#   A model id past its provider's deprecation date (the embedded catalog at
#   data.cairn.catalog.deprecations, or a model's own deprecated date) is denied; one within
#   60 days of it is warned. Checked where ids are used: LLM models, prompts and eval judges.
# custom:
#   id: deprecated_models
#   severity: deny
package cairn.policy.deprecated_models

import data.cairn.util

warn_days := 60

catalog := data.cairn.catalog.deprecations.models

# uses holds [target, path, model id] for every place a provider model id is named.
uses contains [util.target("models", name), "model_id", m.model_id] if {
	some name, m in input.bundle.models
	m.model_id
}

uses contains [util.target("prompts", name), "model.id", p.model.id] if {
	some name, p in input.bundle.prompts
}

uses contains [util.target("evals", name), sprintf("metrics.%s.judge.model", [metric]), x.judge.model] if {
	some name, e in input.bundle.evals
	some metric, x in e.metrics
}

# date_of(id) is the deprecation date of a model id, with or without a "provider/" prefix.
date_of(id) := catalog[id].date

date_of(id) := catalog[base].date if {
	not catalog[id]
	parts := split(id, "/")
	base := parts[count(parts) - 1]
	base != id
}

deny contains v if {
	some [target, path, id] in uses
	date := date_of(id)
	util.now_ns >= util.date_ns(date)
	v := {
		"msg": sprintf("model id %q was deprecated on %s; move to a supported model", [id, date]),
		"target": target,
		"path": path,
	}
}

warn contains v if {
	some [target, path, id] in uses
	date := date_of(id)
	left := util.date_ns(date) - util.now_ns
	left > 0
	left <= warn_days * util.day_ns
	v := {
		"msg": sprintf("model id %q is deprecated on %s (in %d days); plan the move", [id, date, ceil(left / util.day_ns)]),
		"target": target,
		"path": path,
	}
}

# A registry model's own deprecated date counts the same way while something still serves it.
deny contains v if {
	some name, m in input.bundle.models
	count(object.get(m, "served_by", [])) > 0
	util.now_ns >= date_or_time_ns(m.deprecated)
	v := {
		"msg": sprintf("model %q was deprecated on %s but deployments %v still serve it", [name, m.deprecated, m.served_by]),
		"target": util.target("models", name),
		"path": "deprecated",
	}
}

warn contains v if {
	some name, m in input.bundle.models
	count(object.get(m, "served_by", [])) > 0
	left := date_or_time_ns(m.deprecated) - util.now_ns
	left > 0
	left <= warn_days * util.day_ns
	v := {
		"msg": sprintf("model %q is deprecated on %s (in %d days) and still served by %v", [name, m.deprecated, ceil(left / util.day_ns), m.served_by]),
		"target": util.target("models", name),
		"path": "deprecated",
	}
}

date_or_time_ns(s) := util.date_ns(s)

date_or_time_ns(s) := time.parse_rfc3339_ns(s) if not util.date_ns(s)
