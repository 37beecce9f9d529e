# METADATA
# title: Protected attributes are not model features
# description: >-
#   A column an eval declares sensitive (a protected attribute its fairness metrics are
#   computed over) is not also one of the evaluated model's features: a model that decides
#   on a protected attribute needs a waiver that says why (approver, reason, expiry).
# custom:
#   id: protected_features
#   severity: deny
package cairn.policy.protected_features

import data.cairn.util

deny contains v if {
	some name, e in input.bundle.evals
	model := input.bundle.models[e.target.model]
	some i, col in object.get(e, ["predictions", "sensitive"], [])
	col in object.get(model, "features", [])
	v := {
		"msg": sprintf("model %q uses %q as a feature, and eval %q declares it a protected attribute: a model deciding on a protected attribute needs a waiver", [e.target.model, col, name]),
		"target": util.target("evals", name),
		"path": sprintf("predictions.sensitive[%d]", [i]),
	}
}
