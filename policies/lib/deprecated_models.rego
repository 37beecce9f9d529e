# METADATA
# title: Deprecated LLM model ids
# description: >-
#   A model id past its provider's deprecation date (the embedded catalog at
#   data.cairn.catalog.deprecations) is denied; one within 60 days of it is warned. Checked
#   where ids are used: LLM models, prompts and eval judges. A model that deployments still
#   serve is judged the same way by its own deprecated date, by the day (UTC): from the start
#   of that day it is denied.
# custom:
#   id: deprecated_models
#   severity: deny
package cairn.policy.deprecated_models

import data.cairn.util

warn_days := 60

catalog := data.cairn.catalog.deprecations.models

# flag[id] is ["deny", date, 0] for a catalog id past its date and ["warn", date, days] for one
# within warn_days of it: each catalog entry is judged once, and each place an id is used looks
# it up (judging every use was most of this policy's time on a large repo). The time is read
# here and through util.today_ns only, rules without arguments whose values change once a day
# at most: cairn keeps this policy's results until they do (policies/clock.go).
flag[id] := ["deny", date, 0] if {
	some id, e in catalog
	date := e.date
	util.now_ns >= util.date_ns(date)
}

flag[id] := ["warn", date, ceil(left / util.day_ns)] if {
	some id, e in catalog
	date := e.date
	left := util.date_ns(date) - util.now_ns
	left > 0
	left <= warn_days * util.day_ns
}

# flags is flag whole, judged once; each place a model id is used looks it up: by the id
# itself, or by its last part when it has a "provider/" prefix and is not in the catalog as is.
flags := flag

flag_key(id) := id if not contains(id, "/")

flag_key(id) := id if catalog[id]

flag_key(id) := base if {
	contains(id, "/")
	not catalog[id]
	parts := split(id, "/")
	base := parts[count(parts) - 1]
}

# Each rule reads one object: the places a provider model id is named are LLM models,
# prompts and eval judges. (cairn keeps this policy's results per shard of objects: an edit
# re-runs it on the edited object's shard.)
deny contains deprecated(util.target("models", name), "model_id", m.model_id, date) if {
	some name, m in input.bundle.models
	["deny", date, _] = flags[flag_key(m.model_id)]
}

warn contains soon(util.target("models", name), "model_id", m.model_id, date, days) if {
	some name, m in input.bundle.models
	["warn", date, days] = flags[flag_key(m.model_id)]
}

deny contains deprecated(util.target("prompts", name), "model.id", p.model.id, date) if {
	some name, p in input.bundle.prompts
	["deny", date, _] = flags[flag_key(p.model.id)]
}

warn contains soon(util.target("prompts", name), "model.id", p.model.id, date, days) if {
	some name, p in input.bundle.prompts
	["warn", date, days] = flags[flag_key(p.model.id)]
}

deny contains deprecated(util.target("evals", name), sprintf("metrics.%s.judge.model", [metric]), x.judge.model, date) if {
	some name, e in input.bundle.evals
	some metric, x in e.metrics
	["deny", date, _] = flags[flag_key(x.judge.model)]
}

warn contains soon(util.target("evals", name), sprintf("metrics.%s.judge.model", [metric]), x.judge.model, date, days) if {
	some name, e in input.bundle.evals
	some metric, x in e.metrics
	["warn", date, days] = flags[flag_key(x.judge.model)]
}

deprecated(target, path, id, date) := {
	"msg": sprintf("model id %q was deprecated on %s; move to a supported model", [id, date]),
	"target": target,
	"path": path,
}

soon(target, path, id, date, days) := {
	"msg": sprintf("model id %q is deprecated on %s (in %d days); plan the move", [id, date, days]),
	"target": target,
	"path": path,
}

# A registry model's own deprecated date counts the same way while something still serves it,
# judged by the day (UTC), as the AI Act policies judge theirs: denied from the start of its
# deprecated day, warned within warn_days of it. A date is a day already; a time counts from the
# start of its day. Judged by the day, these rules read the time only through util.today_ns and
# judge one model each, so cairn keeps their results per shard of models until the day changes
# (judged by the instant, every check converted every model to evaluate them).
deny contains v if {
	some name, m in input.bundle.models
	count(object.get(m, "served_by", [])) > 0
	util.today_ns >= day_of(m.deprecated)
	v := {
		"msg": sprintf("model %q was deprecated on %s but deployments %v still serve it", [name, m.deprecated, m.served_by]),
		"target": util.target("models", name),
		"path": "deprecated",
	}
}

warn contains v if {
	some name, m in input.bundle.models
	count(object.get(m, "served_by", [])) > 0
	left := day_of(m.deprecated) - util.today_ns
	left > 0
	left <= warn_days * util.day_ns
	v := {
		"msg": sprintf("model %q is deprecated on %s (in %d days) and still served by %v", [name, m.deprecated, ceil(left / util.day_ns), m.served_by]),
		"target": util.target("models", name),
		"path": "deprecated",
	}
}

# day_of is the start (00:00 UTC) of a date's or an RFC 3339 time's day, in nanoseconds.
day_of(s) := util.date_ns(s)

day_of(s) := t - (t % util.day_ns) if {
	not util.date_ns(s)
	t := time.parse_rfc3339_ns(s)
}
